"""The FastAPI application factory: ``create_app(settings)``.

Everything that can be wrong with the configuration is found here, before the
server listens: settings, the strategies file, the default strategy, storage.
Dependencies that may come and go (database, Redis) are reported by /ready.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from stemdeck.api.auth.origin import CrossSiteGuard
from stemdeck.api.bodies import JobBodies
from stemdeck.api.context import AppContext
from stemdeck.api.docs_page import router as docs_router
from stemdeck.api.errors import install_error_handlers
from stemdeck.api.front_door import FrontDoor
from stemdeck.api.link_origin import LinkOrigins
from stemdeck.api.request_ids import RequestIds
from stemdeck.api.request_metrics import RequestMetrics
from stemdeck.api.routes import root_router
from stemdeck.api.routes.job_events import read_for_streams
from stemdeck.api.sse import EventStreams
from stemdeck.api.web import install_web_app, resolve_web_dir
from stemdeck.api.webhook_sender import WebhookSender
from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.queue import redis_connection
from stemdeck.core.readiness import default_strategy
from stemdeck.core.settings import ENV_PREFIX, Settings, SettingsError, get_settings
from stemdeck.core.storage import prepared_storage
from stemdeck.core.strategies import cached_strategies
from stemdeck.core.tracing import instrument_app

log = logging.getLogger(__name__)


def build_context(settings: Settings) -> AppContext:
    """Raises SettingsError or StrategyFileError with a message that names the fix."""
    redis_url = settings.require_redis_url()
    strategies = cached_strategies(settings.strategies_file)
    if settings.default_strategy and settings.default_strategy not in strategies:
        raise SettingsError(
            f"{ENV_PREFIX}DEFAULT_STRATEGY: unknown strategy {settings.default_strategy!r}; "
            f"choose from {', '.join(strategies)}"
        )
    redis = redis_connection(redis_url)
    return AppContext(
        settings=settings,
        strategies=strategies,
        storage=prepared_storage(settings),
        redis=redis,
        lifecycle=JobLifecycle(
            settings.effective_database_url, lifecycle_listeners(redis, settings)
        ),
        streams=EventStreams.from_settings(settings, read_for_streams),
        bodies=JobBodies(redis_url),
        link_origins=LinkOrigins(settings),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    context = build_context(settings or get_settings())
    web_dir = resolve_web_dir(context.settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        context.bodies.start()
        webhooks = WebhookSender(app, context.settings)
        webhooks.start()
        yield
        await webhooks.aclose()
        await context.bodies.aclose()
        await context.streams.aclose()
        context.redis.close()

    app = FastAPI(
        title="Stemdeck",
        summary="Split songs into stems with AI models.",
        version="0.1.0",
        # Our own /docs (docs_page): FastAPI's loads Swagger UI from a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.context = context
    install_error_handlers(app)
    # A forged cookie request is refused before any route reads its body; the front
    # door (Host, security headers) is added after it, so it runs first, around
    # everything but the request metrics.
    app.add_middleware(CrossSiteGuard, settings=context.settings)
    app.add_middleware(FrontDoor, settings=context.settings)
    # Outermost: the front door's refusals are requests too.
    app.add_middleware(RequestMetrics)
    # Around everything, so every answer, a refusal at the front door too, has its id.
    app.add_middleware(RequestIds)
    instrument_app(app)
    app.include_router(root_router)
    app.include_router(docs_router)
    install_web_app(app, web_dir)
    log.info(
        "API ready: %d strategies, default %s; web app %s",
        len(context.strategies),
        default_strategy(context.strategies, context.settings),
        web_dir or "not built",
    )
    return app
