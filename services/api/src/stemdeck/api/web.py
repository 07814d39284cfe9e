"""The built web app at /, with SPA routing: any path that is not a file is index.html.

It is the router's fallback, so it only ever sees requests no route matched: a
wrong method on a real route stays a 405. Paths under a prefix the API owns
(/api, /docs, /openapi.json, /health, /ready, the compat routes) keep their
JSON 404s instead of getting the app, and so does /metrics (on its own port).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from starlette.types import Receive, Scope, Send

from stemdeck.api.docs_page import DOCS_PATH
from stemdeck.api.errors import ApiError
from stemdeck.core.settings import ENV_PREFIX, Settings, SettingsError

# services/api/src/stemdeck/api/web.py → services/frontend/dist
CHECKOUT_WEB_DIR = Path(__file__).resolve().parents[4] / "frontend" / "dist"
BUILD_HINT = "cd services/frontend && npm ci && npm run build (make run does it)"
# Vite names every asset by its content hash, so these never change under one URL.
IMMUTABLE = "public, max-age=31536000, immutable"
METRICS_PATH = "/metrics"


def resolve_web_dir(settings: Settings) -> Path | None:
    """The directory to serve, None when there is no build; a set but empty one is an error."""
    if settings.web_dir is not None:
        if not (settings.web_dir / "index.html").is_file():
            raise SettingsError(
                f"{ENV_PREFIX}WEB_DIR: {settings.web_dir} has no index.html; build the web "
                f"app ({BUILD_HINT}) or leave the variable empty"
            )
        return settings.web_dir.resolve()
    return CHECKOUT_WEB_DIR if (CHECKOUT_WEB_DIR / "index.html").is_file() else None


def _owned_prefixes(app: FastAPI) -> frozenset[str]:
    """First path segments of every API route (its OpenAPI paths) and of the docs."""
    # /metrics too: it is served on STEMDECK_METRICS_PORT, and a scraper pointed at this
    # port should get a 404, not the web app's index.html.
    paths = [*app.openapi()["paths"], DOCS_PATH, app.openapi_url, METRICS_PATH]
    return frozenset(path.split("/")[1] for path in paths if path)


def _not_here(path: str) -> ApiError:
    return ApiError(404, "not_found", f"There is nothing at {path}. See /docs for the API.")


class WebApp:
    """The ASGI fallback that answers what no route matched."""

    def __init__(self, web_dir: Path | None, owned: frozenset[str]) -> None:
        self.web_dir = web_dir
        self.owned = owned

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        relative = path.lstrip("/")
        if (
            scope["type"] != "http"
            or scope["method"] not in {"GET", "HEAD"}
            or relative.split("/", 1)[0] in self.owned
        ):
            raise _not_here(path)
        if self.web_dir is None:
            if relative:
                raise _not_here(path)
            raise ApiError(
                404,
                "web_app_not_built",
                f"The web app has not been built: {BUILD_HINT}. The API is at /api (see /docs).",
            )
        response = FileResponse(self._file(relative), headers={"Cache-Control": "no-cache"})
        if relative.startswith("assets/"):
            response.headers["Cache-Control"] = IMMUTABLE
        await response(scope, receive, send)

    def _file(self, relative: str) -> Path:
        assert self.web_dir is not None
        try:
            candidate = (self.web_dir / relative).resolve()
            found = relative and candidate.is_relative_to(self.web_dir) and candidate.is_file()
        except (OSError, ValueError):  # a NUL byte, a name longer than the filesystem takes
            raise _not_here("/" + relative) from None
        if found:
            return candidate
        if "." in relative.rsplit("/", 1)[-1]:
            # A file that is not there (an old asset): a 404, never index.html as a script.
            raise _not_here("/" + relative)
        return self.web_dir / "index.html"


def install_web_app(app: FastAPI, web_dir: Path | None) -> None:
    """Call after every router is included: the owned prefixes are read from them."""
    app.router.default = WebApp(web_dir, _owned_prefixes(app))
