"""/docs: the interactive API reference, from assets installed with the project.

Swagger UI's script and stylesheet come from the fastapi-offline wheel, and the page
starts it from docs.js beside this file rather than an inline script, so /docs runs
under the same Content-Security-Policy as the rest of the app and needs no CDN.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import APIRouter
from fastapi.responses import FileResponse, HTMLResponse

from stemdeck.api.errors import ApiError

DOCS_PATH = "/docs"
_SWAGGER = Path(fastapi_offline.__file__).parent / "static"
_HERE = Path(__file__).parent
ASSETS = {
    "swagger-ui-bundle.js": _SWAGGER / "swagger-ui-bundle.js",
    "swagger-ui.css": _SWAGGER / "swagger-ui.css",
    "favicon.png": _SWAGGER / "favicon.png",
    "docs.js": _HERE / "docs.js",
}
# Swagger UI's files change only with the installed wheel, so a day is safe.
_CACHE = "public, max-age=86400"

PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stemdeck API</title>
<link rel="icon" href="{DOCS_PATH}/assets/favicon.png">
<link rel="stylesheet" href="{DOCS_PATH}/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{DOCS_PATH}/assets/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/assets/docs.js"></script>
</body>
</html>
"""

router = APIRouter(include_in_schema=False)


@router.get(DOCS_PATH)
def docs_page() -> HTMLResponse:
    return HTMLResponse(PAGE, headers={"Cache-Control": "no-cache"})


@router.get(DOCS_PATH + "/assets/{name}")
def docs_asset(name: str) -> FileResponse:
    path = ASSETS.get(name)
    if path is None:
        raise ApiError(
            404, "not_found", f"There is no {name!r} here. The API reference is at /docs."
        )
    return FileResponse(path, headers={"Cache-Control": _CACHE})
