"""The built web app at /, with SPA routing: any path that is not a file is index.html.

The routes the API already has (/api, /docs, /openapi.json, /health, /ready, the
compat routes) keep their own answers, including their JSON 404s: the catch-all
refuses every path whose first segment one of them owns.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, Response

from stemdeck.api.errors import ApiError
from stemdeck.core.settings import ENV_PREFIX, Settings, SettingsError

# services/api/src/stemdeck/api/web.py → services/frontend/dist
CHECKOUT_WEB_DIR = Path(__file__).resolve().parents[4] / "frontend" / "dist"
BUILD_HINT = "cd services/frontend && npm ci && npm run build (make run does it)"
# Vite names every asset by its content hash, so these never change under one URL.
IMMUTABLE = "public, max-age=31536000, immutable"


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
    paths = [*app.openapi()["paths"], app.docs_url, app.redoc_url, app.openapi_url]
    return frozenset(path.split("/")[1] for path in paths if path)


def install_web_app(app: FastAPI, web_dir: Path | None) -> None:
    """Mount after every router, so the API's own routes match first."""
    owned = _owned_prefixes(app)

    def not_here(path: str) -> ApiError:
        return ApiError(404, "not_found", f"There is nothing at /{path}. See /docs for the API.")

    if web_dir is None:

        @app.get("/", include_in_schema=False)
        def web_app_missing() -> Response:
            raise ApiError(
                404,
                "web_app_not_built",
                f"The web app has not been built: {BUILD_HINT}. The API is at /api (see /docs).",
            )

        return

    index = web_dir / "index.html"

    @app.api_route("/{path:path}", methods=["GET", "HEAD"], include_in_schema=False)
    def web_app(path: str) -> Response:
        if path.split("/", 1)[0] in owned:
            raise not_here(path)
        candidate = (web_dir / path).resolve()
        if path and candidate.is_file() and candidate.is_relative_to(web_dir):
            cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
            return FileResponse(candidate, headers={"Cache-Control": cache})
        if "." in path.rsplit("/", 1)[-1]:
            # A file that is not there (an old asset): a 404, never index.html as a script.
            raise not_here(path)
        return FileResponse(index, headers={"Cache-Control": "no-cache"})
