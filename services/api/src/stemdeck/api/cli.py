"""The API's `stemdeck` commands; stemdeck-api registers them in the `stemdeck.commands`
entry-point group, which stemdeck.core.cli loads at start-up.
"""

from __future__ import annotations

import typer

from stemdeck.core.cli import die, settings_or_die
from stemdeck.core.settings import SettingsError

app = typer.Typer()


@app.command()
def api() -> None:
    """Serve the HTTP API (STEMDECK_HOST:STEMDECK_PORT)."""
    # Deferred: every `stemdeck` start loads this module, and only this command needs FastAPI.
    import uvicorn

    from stemdeck.api.app import create_app
    from stemdeck.api.http_limits import protocol_for
    from stemdeck.core.logs import configure_logging
    from stemdeck.core.metrics import serve_metrics
    from stemdeck.core.strategies import StrategyFileError
    from stemdeck.core.tracing import start_tracing

    settings = settings_or_die()
    configure_logging(settings)
    start_tracing("stemdeck-api")
    try:
        settings.require_redis_url()
        application = create_app(settings)
        # In this process, which outlives uvicorn's worker processes if it has any.
        serve_metrics(settings)
    except (SettingsError, StrategyFileError) as error:
        die(str(error))
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        # Its records reach the root logger's handler (core/logs.py); RequestIds logs
        # each request, with its id and route, in place of uvicorn's access log.
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_graceful_shutdown=5,
        http=protocol_for(settings),
        timeout_keep_alive=settings.http_keepalive_s,
        limit_concurrency=settings.http_max_connections,
    )
