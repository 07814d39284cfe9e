"""The `stemdeck` command: one entry point for every process.

Imports of the API and the worker are deferred so the API image, which has no
worker code, can still run `stemdeck api` and `stemdeck migrate`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from stemdeck.core.settings import Settings, SettingsError, load_settings

app = typer.Typer(
    help="Stemdeck: split songs into stems.", no_args_is_help=True, add_completion=False
)


def _die(message: str, code: int = 2) -> NoReturn:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        _die(str(error))


@app.command()
def migrate() -> None:
    """Bring the database schema up to date (run once per deploy, before api/worker)."""
    from stemdeck.core import migrate as migrations

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    migrations.upgrade(settings.effective_database_url)
    typer.echo("database is up to date")


@app.command()
def api() -> None:
    """Serve the HTTP API (STEMDECK_HOST:STEMDECK_PORT)."""
    import uvicorn

    from stemdeck.api.app import create_app
    from stemdeck.core.strategies import StrategyFileError

    settings = _settings()
    try:
        settings.require_redis_url()
        application = create_app(settings)
    except (SettingsError, StrategyFileError) as error:
        _die(str(error))
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=5,
    )


@app.command()
def worker(
    burst: Annotated[bool, typer.Option(help="Exit once the queue is empty.")] = False,
    name: Annotated[str | None, typer.Option(help="Worker name (default host.pid).")] = None,
    queue: Annotated[
        list[str] | None,
        typer.Option(help="Only this queue (separate, ingest); repeatable. Default: both."),
    ] = None,
) -> None:
    """Run one worker: takes separations and URL downloads from Redis, keeps models loaded."""
    from stemdeck.core.strategies import StrategyFileError
    from stemdeck.worker.main import QUEUES, run_worker

    settings = _settings()
    try:
        run_worker(settings, burst=burst, name=name, queues=tuple(queue or QUEUES))
    except (SettingsError, StrategyFileError, ValueError) as error:
        _die(str(error))


@app.command()
def reconciler() -> None:
    """Re-queue jobs of dead workers and jobs Redis lost; apply retention (run one or more)."""
    from stemdeck.core.reconciler import run_forever

    settings = _settings()
    try:
        run_forever(settings)
    except SettingsError as error:
        _die(str(error))


@app.command()
def healthcheck(
    service: Annotated[str, typer.Argument(help="api, worker or reconciler")],
) -> None:
    """Exit 0 when this container's api answers /health, its worker is registered in Redis,
    or its reconciler finished a pass lately.

    Container healthchecks call this; it is quick and prints why when it fails.
    """
    import socket

    settings = _settings()
    if service == "api":
        import urllib.request

        host = "127.0.0.1" if settings.host in {"0.0.0.0", "::"} else settings.host
        try:
            with urllib.request.urlopen(f"http://{host}:{settings.port}/health", timeout=5):
                return
        except OSError as error:
            _die(f"the API does not answer on {host}:{settings.port}: {error}", code=1)
    if service not in {"worker", "reconciler"}:
        _die(f"unknown service {service!r}; choose api, worker or reconciler")

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
        _die(str(error))
    except Exception as error:
        _die(f"Redis cannot be reached: {error}", code=1)
    if not alive and service == "worker":
        _die(f"no worker of host {host} is registered in Redis", code=1)
    if not alive:
        _die(f"the reconciler of host {host} has not finished a pass lately", code=1)


@app.command()
def separate(
    song: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    strategy: Annotated[
        str | None, typer.Option(help="Strategy name (see `stemdeck strategies`).")
    ] = None,
    format: Annotated[
        list[str] | None, typer.Option("--format", "-f", help="Output format; repeatable.")
    ] = None,
    out: Annotated[Path, typer.Option(help="Folder for the stems.")] = Path("stems"),
) -> None:
    """Separate one file here and now, with no services (same executor as the worker)."""
    import tempfile

    from stemdeck.core.formats import FORMATS, download_filename
    from stemdeck.core.probe import AudioError, probe, verify_decodes
    from stemdeck.core.readiness import default_strategy
    from stemdeck.core.strategies import StrategyFileError, cached_strategies
    from stemdeck.worker.executor import separate_file
    from stemdeck.worker.models.base import ModelError
    from stemdeck.worker.runtime import limit_torch_threads, model_cache

    settings = _settings()
    try:
        strategies = cached_strategies(settings.strategies_file)
    except StrategyFileError as error:
        _die(str(error))
    chosen = strategy or default_strategy(strategies, settings)
    if chosen not in strategies:
        _die(f"unknown strategy {chosen!r}; choose one of: {', '.join(strategies)}")
    formats = format or settings.default_formats
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        _die(f"unknown format(s) {unknown}; choose from: {', '.join(FORMATS)}")

    out.mkdir(parents=True, exist_ok=True)
    limit_torch_threads(settings)
    try:
        info = probe(song)
        verify_decodes(song, info)
        with (
            tempfile.TemporaryDirectory(prefix="stemdeck-") as scratch,
            typer.progressbar(length=1000, label="separating", show_pos=False) as bar,
        ):
            done = 0

            def report(stage: str, fraction: float) -> None:
                nonlocal done
                bar.label = f"{stage:<32}"
                step = int(fraction * 1000) - done
                if step > 0:
                    bar.update(step)
                    done += step

            result = separate_file(
                song,
                info,
                strategies[chosen],
                formats,
                Path(scratch),
                model_cache(settings),
                report,
            )
            for stem in result.stems:
                for format_id, path in stem.files.items():
                    shutil.copyfile(path, out / download_filename(stem.name, format_id))
    except (AudioError, ModelError) as error:
        _die(str(error), code=1)
    for note in result.notes:
        typer.echo(f"note: {note}")
    for stem in result.stems:
        lufs = f"{stem.lufs:6.1f} LUFS" if stem.lufs is not None else "  silent  "
        typer.echo(f"{stem.name:<12} {lufs}  → {out / download_filename(stem.name, formats[0])}")


@app.command()
def strategies() -> None:
    """List the strategies and the stems each gives (* marks the default)."""
    from stemdeck.core.readiness import default_strategy
    from stemdeck.core.strategies import StrategyFileError, cached_strategies

    settings = _settings()
    try:
        found = cached_strategies(settings.strategies_file)
    except StrategyFileError as error:
        _die(str(error))
    default = default_strategy(found, settings)
    for name, item in found.items():
        marker = "*" if name == default else " "
        typer.echo(f"{marker} {name:<22} {', '.join(item.stems):<36} {item.label}")


@app.command()
def models(
    strategy: Annotated[
        list[str] | None, typer.Option(help="Only these strategies' models; repeatable.")
    ] = None,
) -> None:
    """Fetch (or convert) and test-load the weights strategies need, into the models dir."""
    from stemdeck.core.strategies import StrategyFileError, cached_strategies
    from stemdeck.worker.models.base import ModelError
    from stemdeck.worker.runtime import model_cache

    settings = _settings()
    try:
        found = cached_strategies(settings.strategies_file)
    except StrategyFileError as error:
        _die(str(error))
    unknown = [name for name in strategy or [] if name not in found]
    if unknown:
        _die(f"unknown strategy {unknown}; choose from: {', '.join(found)}")
    wanted = [found[name] for name in strategy] if strategy else list(found.values())
    model_ids = list(dict.fromkeys(m for s in wanted for m in s.models))
    cache = model_cache(settings.model_copy(update={"model_downloads": True}))
    failed = 0
    for model_id in model_ids:
        try:
            cache.get(model_id)
            typer.echo(f"ready    {model_id}")
        except ModelError as error:
            failed += 1
            typer.secho(f"missing  {model_id}: {error}", fg=typer.colors.RED, err=True)
        cache.release()
    typer.echo(f"weights in {settings.effective_models_dir}")
    if failed:
        raise typer.Exit(1)


@app.command()
def up() -> None:
    """All-in-one: Redis (embedded unless STEMDECK_REDIS_URL), SQLite, API, worker, reconciler."""
    from stemdeck.core import migrate as migrations
    from stemdeck.core.embedded_redis import EmbeddedRedisError, start_redis

    settings = _settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env["STEMDECK_DATA_DIR"] = str(settings.data_dir.resolve())
    redis_process = None
    if not settings.redis_url:
        try:
            redis_process, url = start_redis(settings.data_dir / "redis")
        except EmbeddedRedisError as error:
            _die(str(error))
        env["STEMDECK_REDIS_URL"] = url
    migrations.upgrade(settings.effective_database_url)

    command = [sys.executable, "-m", "stemdeck.core.cli"]
    # Own sessions: Ctrl-C reaches only this supervisor, which stops each child once.
    children = {
        name: subprocess.Popen([*command, name], env=env, start_new_session=True)
        for name in ("api", "worker", "reconciler")
    }
    typer.echo(f"Stemdeck is up on http://{settings.host}:{settings.port} (Ctrl-C stops it)")

    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, child in children.items():
            if child.poll() is not None:
                typer.secho(
                    f"{name} exited with {child.returncode}; stopping",
                    fg=typer.colors.RED,
                    err=True,
                )
                exit_code = child.returncode or 1
                stopping = True
        time.sleep(0.2)
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children.values():
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
    if redis_process is not None:
        redis_process.terminate()
        redis_process.wait(timeout=10)
    raise typer.Exit(exit_code)


if __name__ == "__main__":
    app()
