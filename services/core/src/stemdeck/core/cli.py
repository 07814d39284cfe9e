"""The `stemdeck` command: one entry point for every process.

Core owns the script and the commands that need only core. stemdeck-api and
stemdeck-worker add theirs through the `stemdeck.commands` entry-point group, so
core imports neither: the API image, which has no worker, simply lacks the
worker's commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint, entry_points
from typing import Annotated, Any, NoReturn

import typer
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from typer.core import TyperGroup

from stemdeck.core.accounts.cli import tokens_app, users_app
from stemdeck.core.cli_common import die, settings_or_die
from stemdeck.core.settings import Settings, SettingsError

__all__ = ["app", "die", "settings_or_die"]  # the plugins' imports

COMMANDS_GROUP = "stemdeck.commands"
# Which distribution brings each command `up` starts, for the message when one is missing.
UP_NEEDS = {"api": "stemdeck-api", "worker": "stemdeck-worker"}


def command_entry_points() -> list[EntryPoint]:
    # Sorted so the help lists the distributions' commands in the same order everywhere.
    return sorted(entry_points(group=COMMANDS_GROUP), key=lambda point: point.name)


def _plugin_failed(point: EntryPoint, why: str) -> NoReturn:
    source = point.dist.name if point.dist is not None else "the distribution that declares it"
    typer.secho(
        f"stemdeck: the commands of {source} (entry point {point.name} = {point.value} "
        f"in {COMMANDS_GROUP}) cannot be loaded: {why}. Reinstall {source}, "
        "or uninstall it where its commands are not needed.",
        fg=typer.colors.RED,
        err=True,
    )
    # Not typer.Exit: this runs while the click group is built, outside click's own
    # handling, where Exit would surface as a traceback instead of this message.
    raise SystemExit(2)


def _plugin_group(point: EntryPoint) -> TyperGroup:
    try:
        plugin = point.load()
    except Exception as error:
        _plugin_failed(point, f"{type(error).__name__}: {error}")
    if not isinstance(plugin, typer.Typer):
        _plugin_failed(point, f"it names a {type(plugin).__name__}, not a typer.Typer")
    return typer.main.get_group(plugin)


class _CommandsOfEveryDistribution(TyperGroup):
    """The root group: core's commands plus those of every installed distribution.

    Plugins load here, when the group is built at start-up, and not when this module
    is imported: they import `die` and `settings_or_die` from it, which would be circular.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        origin = dict.fromkeys(self.commands, "stemdeck-core")
        for point in command_entry_points():
            for name, command in _plugin_group(point).commands.items():
                if name in origin:
                    _plugin_failed(point, f"its command {name!r} is taken by {origin[name]}")
                origin[name] = point.dist.name if point.dist is not None else point.value
                self.add_command(command, name)


app = typer.Typer(
    cls=_CommandsOfEveryDistribution,
    help="Stemdeck: split songs into stems.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


def migrate_and_ensure_admin(settings: Settings) -> None:
    """The schema up to date, then the settings' first admin in place (see
    core/accounts/first_admin.py): the step `migrate` and `up` share."""
    from stemdeck.core import migrate as migrations
    from stemdeck.core.accounts.errors import AccountError
    from stemdeck.core.accounts.first_admin import ensure_first_admin
    from stemdeck.core.db_wait import DatabaseUnreachable, wait_for_database

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        wait_for_database(
            settings.effective_database_url,
            settings.db_wait_s,
            say=lambda line: typer.echo(line, err=True),
        )
    except DatabaseUnreachable as error:
        die(f"cannot bring the database schema up to date: {error}", code=1)
    migrations.upgrade(settings.effective_database_url)
    if settings.admin_email:
        try:
            done = ensure_first_admin(
                settings.effective_database_url,
                settings.admin_email,
                settings.admin_password.get_secret_value(),
            )
        except AccountError as error:
            die(str(error))
        typer.echo(done)


@app.command()
def migrate() -> None:
    """Bring the database schema up to date and the first admin (STEMDECK_ADMIN_EMAIL) in
    place (run once per deploy, before api/worker)."""
    migrate_and_ensure_admin(settings_or_die())
    typer.echo("database is up to date")


@app.command()
def reconciler() -> None:
    """Re-queue jobs of dead workers and jobs Redis lost; apply retention (run one or more)."""
    from stemdeck.core.reconciler import run_forever

    settings = settings_or_die()
    try:
        run_forever(settings)
    except SettingsError as error:
        die(str(error))


@app.command()
def healthcheck(
    service: Annotated[str, typer.Argument(help="api, worker or reconciler")],
) -> None:
    """Exit 0 when this container's api answers /health, its worker is registered in Redis,
    or its reconciler finished a pass lately.

    Container healthchecks call this; it is quick and prints why when it fails.
    """
    import socket

    settings = settings_or_die()
    if service == "api":
        import urllib.request

        host = "127.0.0.1" if settings.host in {"0.0.0.0", "::"} else settings.host
        try:
            with urllib.request.urlopen(f"http://{host}:{settings.port}/health", timeout=5):
                return
        except OSError as error:
            die(f"the API does not answer on {host}:{settings.port}: {error}", code=1)
    if service not in {"worker", "reconciler"}:
        die(f"unknown service {service!r}; choose api, worker or reconciler")

    from rq import Worker

    from stemdeck.core.queue import redis_connection
    from stemdeck.core.reconciler import alive_key

    host = socket.gethostname()
    try:
        connection = redis_connection(settings.require_redis_url())
        if service == "worker":
            alive = any(w.name.startswith(f"{host}.") for w in Worker.all(connection=connection))
        else:
            alive = bool(connection.exists(alive_key(host)))
    except SettingsError as error:
        die(str(error))
    except Exception as error:
        die(f"Redis cannot be reached: {error}", code=1)
    if not alive and service == "worker":
        die(f"no worker of host {host} is registered in Redis", code=1)
    if not alive:
        die(f"the reconciler of host {host} has not finished a pass lately", code=1)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, as GET /api/system")] = False,
) -> None:
    """Show the workers, the queues and the latest failures."""
    from stemdeck.core.db import session_scope
    from stemdeck.core.queue import redis_connection
    from stemdeck.core.status_text import render_status
    from stemdeck.core.system import system_status

    settings = settings_or_die()
    try:
        redis = redis_connection(settings.require_redis_url())
        with session_scope(settings.effective_database_url) as session:
            found = system_status(redis, session)
    except SettingsError as error:
        die(str(error))
    except (RedisError, SQLAlchemyError) as error:
        die(f"the status cannot be read: {error}; check that Redis and the database run")
    typer.echo(found.model_dump_json(indent=2) if as_json else render_status(found))


@app.command()
def strategies() -> None:
    """List the strategies and the stems each gives (* marks the default)."""
    from stemdeck.core.readiness import default_strategy
    from stemdeck.core.strategies import StrategyFileError, cached_strategies

    settings = settings_or_die()
    try:
        found = cached_strategies(settings.strategies_file)
    except StrategyFileError as error:
        die(str(error))
    default = default_strategy(found, settings)
    for name, item in found.items():
        marker = "*" if name == default else " "
        typer.echo(f"{marker} {name:<22} {', '.join(item.stems):<36} {item.label}")


@app.command()
def up(ctx: typer.Context) -> None:
    """All-in-one: Redis (embedded unless STEMDECK_REDIS_URL), SQLite, API, worker, reconciler.

    A process that dies is started again (see core/supervisor.py); Ctrl-C stops them all."""
    from stemdeck.core.embedded_redis import EmbeddedRedisError, start_redis
    from stemdeck.core.logs import configure_logging
    from stemdeck.core.metrics import process_metrics_port
    from stemdeck.core.supervisor import Child, Spawn, Supervisor

    root = ctx.find_root().command
    installed = root.commands if isinstance(root, TyperGroup) else {}
    missing = [distribution for name, distribution in UP_NEEDS.items() if name not in installed]
    if missing:
        die(f"`stemdeck up` runs the API and a worker here; install {' and '.join(missing)}")
    settings = settings_or_die()
    # Before Redis starts: a refusal here leaves nothing running.
    migrate_and_ensure_admin(settings)
    configure_logging(settings)
    env = dict(os.environ)
    env["STEMDECK_DATA_DIR"] = str(settings.data_dir.resolve())
    children: list[Child] = []
    if not settings.redis_url:
        try:
            redis, redis_process = start_redis(settings.data_dir / "redis")
        except EmbeddedRedisError as error:
            die(str(error))
        env["STEMDECK_REDIS_URL"] = redis.url
        children.append(Child("redis", redis.spawn, last=True, process=redis_process))

    def spawner(name: str) -> Spawn:
        # Own sessions: Ctrl-C reaches only this supervisor, which stops each child once.
        command = [sys.executable, "-m", "stemdeck.core.cli", name]
        # One host, three processes: each serves /metrics on its own port.
        port = process_metrics_port(settings.metrics_port, name)
        own_env = {**env, "STEMDECK_METRICS_PORT": str(port)}
        return lambda: subprocess.Popen(command, env=own_env, start_new_session=True)

    children += [Child(name, spawner(name)) for name in ("api", "worker", "reconciler")]
    typer.echo(f"Stemdeck is up on http://{settings.host}:{settings.port} (Ctrl-C stops it)")
    raise typer.Exit(Supervisor(children).run())


if __name__ == "__main__":
    app()
