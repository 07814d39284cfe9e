"""Print the API's OpenAPI schema as JSON: the input of the web app's generated types.

``python -m stemdeck.api.openapi_dump > openapi.json`` needs no running service:
the app is built with throwaway settings (Redis connects lazily, never here).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

from stemdeck.api.app import create_app
from stemdeck.core.settings import Settings


def openapi_json() -> str:
    with tempfile.TemporaryDirectory(prefix="stemdeck-openapi-") as scratch:
        settings = Settings(
            _env_file=None,
            data_dir=Path(scratch),
            redis_url="redis://127.0.0.1:6379/0",
        )
        schema = create_app(settings).openapi()
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    # The schema depends on no setting; a developer's STEMDECK_* (a web dir that is not
    # built, say) must not stop the dump.
    for name in [n for n in os.environ if n.startswith("STEMDECK_")]:
        del os.environ[name]
    sys.stdout.write(openapi_json())
