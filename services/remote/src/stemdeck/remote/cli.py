"""`stemdeck remote …`: stemdeck-remote registers ``app`` in the `stemdeck.commands`
entry-point group, which stemdeck.core.cli loads at every start. So this module only
parses arguments; a command imports commands.py (httpx, rich) when it runs. Nothing
here imports stemdeck.core: the client needs no database, models or torch."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer

from stemdeck.remote import config
from stemdeck.remote.config import SERVER_ENV, TOKEN_ENV, Remote
from stemdeck.remote.errors import CONFIG_EXIT, RemoteError

app = typer.Typer()
remote = typer.Typer(
    help="Use any Stemdeck server from here: submit songs, follow them, download the "
    "stems. Needs only the server's address and an API token.",
    no_args_is_help=True,
)
app.add_typer(remote, name="remote")

P = ParamSpec("P")
R = TypeVar("R")
JobId = Annotated[str, typer.Argument(metavar="ID", help="The job's id")]


@dataclass(frozen=True)
class Flags:
    server: str | None
    token: str | None


def _flags(context: typer.Context) -> Flags:
    flags = context.find_object(Flags)
    return flags if flags is not None else Flags(None, None)


def _remote(context: typer.Context) -> Remote:
    flags = _flags(context)
    return config.resolve(flags.server, flags.token)


def said(command: Callable[P, R]) -> Callable[P, R]:
    """A RemoteError ends the command with its message and exit code, not a traceback."""

    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except RemoteError as error:
            typer.secho(error.message, fg=typer.colors.RED, err=True)
            raise typer.Exit(error.exit_code) from None

    return run


@remote.callback()
def main(
    context: typer.Context,
    server: Annotated[
        str | None,
        typer.Option(
            "--server",
            envvar=SERVER_ENV,
            help="The server's address, e.g. https://stemdeck.example.com (default: the "
            "one `stemdeck remote login` saved)",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar=TOKEN_ENV,
            help="An API token (sdk_…) with jobs:read and jobs:write (default: the saved one)",
            show_default=False,
        ),
    ] = None,
) -> None:
    context.obj = Flags(server, token)


@remote.command()
@said
def login(
    context: typer.Context,
    server: Annotated[
        str | None, typer.Option("--server", help="The server's address", show_default=False)
    ] = None,
    token: Annotated[
        str | None, typer.Option("--token", help="The API token (asked for when not given)")
    ] = None,
) -> None:
    """Check an API token against the server, then save both (mode 0600) for later calls."""
    from stemdeck.remote import commands

    flags = _flags(context)
    chosen = server or flags.server or config.read_saved().get("server")
    if not chosen:
        raise RemoteError("Which server? Pass --server URL (or set STEMDECK_SERVER).", CONFIG_EXIT)
    address = config.normal_server(chosen)
    token = token or flags.token
    if token is None:
        token = typer.prompt(f"API token for {address}", hide_input=True).strip()
    commands.login(Remote(address, token or None))


@remote.command()
@said
def logout() -> None:
    """Forget the saved server and token."""
    path = config.forget()
    typer.echo(f"Removed {path}" if path else f"Not logged in ({config.config_path()} is absent)")


@remote.command()
@said
def submit(
    context: typer.Context,
    inputs: Annotated[
        list[str], typer.Argument(help="Audio files to upload and/or http(s) URLs to fetch")
    ],
    strategy: Annotated[
        str | None, typer.Option(help="A strategy name (GET /api/strategies lists them)")
    ] = None,
    formats: Annotated[
        str | None, typer.Option(help="Comma-separated stem formats, e.g. flac,mp3")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait", help="Follow each job until it ends")] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Download the stems into DIR/<title>/ when done (implies --wait)"),
    ] = None,
    callback_url: Annotated[
        str | None, typer.Option(help="A URL the server POSTs the job to when it ends")
    ] = None,
) -> None:
    """Send each file or URL as a job and print its id; with --wait, follow them; with
    --out, download the stems. Exits 1 when a job fails, with the server's message."""
    from stemdeck.remote import commands
    from stemdeck.remote.submit import Options

    options = Options(strategy, formats, callback_url)
    commands.submit(_remote(context), inputs, options, wait, out)


@remote.command()
@said
def status(
    context: typer.Context,
    job_id: JobId,
    as_json: Annotated[
        bool, typer.Option("--json", help="The job's JSON as the API gives it")
    ] = False,
) -> None:
    """Show one job."""
    from stemdeck.remote import commands

    commands.status(_remote(context), job_id, as_json)


@remote.command()
@said
def download(
    context: typer.Context,
    job_id: JobId,
    out: Annotated[Path, typer.Option(help="Where the stems go, as DIR/<title>/")],
) -> None:
    """Download a completed job's stems."""
    from stemdeck.remote import commands

    commands.download(_remote(context), job_id, out)


@remote.command("list")
@said
def list_(
    context: typer.Context,
    limit: Annotated[int, typer.Option(min=1, max=100, help="How many, newest first")] = 20,
) -> None:
    """Your jobs on the server, newest first (a table; tab-separated when piped)."""
    from stemdeck.remote import commands

    commands.list_jobs(_remote(context), limit)


@remote.command()
@said
def delete(context: typer.Context, job_id: JobId) -> None:
    """Delete a finished job and its files; an unfinished one is cancelled (delete it
    again to remove it)."""
    from stemdeck.remote import commands

    commands.delete(_remote(context), job_id)
