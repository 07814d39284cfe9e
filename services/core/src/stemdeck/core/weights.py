"""Fetching model weights into STEMDECK_MODELS_DIR (first use, or `stemdeck models`).

Each file is downloaded to a temporary name beside its target and renamed into
place only when complete, so a broken transfer never leaves a truncated file
that a later load would trip over.
"""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.request
import uuid
from pathlib import Path

from stemdeck.core.catalog import ModelSpec

CHUNK = 1 << 20


class WeightsUnavailable(Exception):
    """Weights that are not present and could not be fetched; the message names them."""


def missing_files(spec: ModelSpec, models_dir: Path) -> list[Path]:
    return [models_dir / w.path for w in spec.weights if not (models_dir / w.path).is_file()]


def fetch_missing(spec: ModelSpec, models_dir: Path, timeout_s: float = 60.0) -> list[Path]:
    """Download every absent weight file of ``spec``; returns the files fetched."""
    fetched: list[Path] = []
    for weight in spec.weights:
        target = models_dir / weight.path
        if target.is_file():
            continue
        if weight.url is None:
            raise WeightsUnavailable(
                f"{spec.id} needs {target}, which has no download source: put the file there."
            )
        try:
            _download(weight.url, target, timeout_s)
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            plain_url_error = isinstance(error, urllib.error.URLError) and not isinstance(
                error, urllib.error.HTTPError
            )
            reason = error.reason if plain_url_error else error  # type: ignore[union-attr]
            raise WeightsUnavailable(
                f"{spec.id} needs {target}; downloading it from {weight.url} failed ({reason}). "
                f"Download it where the network allows and put it at {target}."
            ) from None
        fetched.append(target)
    return fetched


def _download(url: str, target: Path, timeout_s: float) -> None:
    if not url.startswith(("https://", "http://")):
        raise OSError(f"unsupported URL scheme in {url!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out, CHUNK)
            expected = response.headers.get("Content-Length")
        # http.client returns a body cut short by a dropped connection without complaint.
        if expected is not None and partial.stat().st_size != int(expected):
            raise OSError(f"transfer cut short: {partial.stat().st_size} of {expected} bytes")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
