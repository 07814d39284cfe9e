"""Absolute URLs of the API's own routes, from each route's path template.

Starlette's ``request.url_for`` searches the app's routes one by one for every URL it
builds. A job's answer names about twenty URLs (each stem's formats, downloads and
waveforms) and a page of twenty jobs four hundred, so that search was a third of
GET /api/jobs's time. Here each route's template is looked up once per process, by
asking the router for its path with placeholders as the parameters, and a URL is then
one ``str.format`` after the request's base URL: the same URL url_for gives (scheme,
host and root path from the request; the parameters unquoted, as url_for leaves them).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

# Where a request keeps its builder, so a page of jobs reads its base URL once.
_SCOPE_KEY = "stemdeck.route_urls"


class RouteUrls:
    def __init__(self, request: Request) -> None:
        self.base = str(request.base_url).rstrip("/")
        state = request.app.state
        if not hasattr(state, "route_templates"):
            state.route_templates = {}
        self._templates: dict[str, str] = state.route_templates
        self._app: Any = request.app

    def __call__(self, name: str, **params: str) -> str:
        template = self._templates.get(name)
        if template is None:
            placeholders = {key: "{" + key + "}" for key in params}
            template = str(self._app.url_path_for(name, **placeholders))
            self._templates[name] = template
        return self.base + template.format(**params)


def route_urls(request: Request) -> RouteUrls:
    """This request's URL builder."""
    urls: RouteUrls | None = request.scope.get(_SCOPE_KEY)
    if urls is None:
        urls = request.scope[_SCOPE_KEY] = RouteUrls(request)
    return urls
