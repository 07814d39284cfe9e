"""Fetching and checking model weights in STEMDECK_MODELS_DIR (first use, or `stemdeck models`).

Each file is downloaded to a temporary name beside its target, hashed as it arrives,
and renamed into place only when complete and equal to the SHA-256 the catalog pins,
so neither a broken transfer nor a substituted file is ever left where a worker loads
from. A file the catalog pins no digest for is never downloaded.

Messages name files relative to the models directory: they reach users in job errors
and API answers, which never show the server's own paths.

A download logs its progress (bytes of total) when it starts, every REPORT_EVERY_S and
when it ends, never per chunk, and hands the same reports to an optional callback: the
worker shows them on the job's stage, `stemdeck models` in its log. Weights are hundreds
of megabytes; without this a first job or a first `docker compose up` looks stuck.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import os
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stemdeck.core.catalog import ModelSpec, WeightFile

CHUNK = 1 << 20
REPORT_EVERY_S = 5.0
MIB = 1 << 20

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DownloadProgress:
    """Where one model's weight download stands: file ``index`` of ``count``."""

    model_id: str
    path: str  # relative to the models directory
    done_bytes: int
    total_bytes: int | None  # None when the server sent no Content-Length
    index: int = 0
    count: int = 1

    @property
    def fraction(self) -> float | None:
        """Of all the files this model is fetching now, by file; None while unknown."""
        if not self.total_bytes:
            return None
        within = min(self.done_bytes / self.total_bytes, 1.0)
        return (self.index + within) / self.count

    def describe(self) -> str:
        """``demucs/x.th for demucs:htdemucs: 40.0 of 80.2 MiB (50%)``, for a log line."""
        done = f"{self.done_bytes / MIB:.1f}"
        if not self.total_bytes:
            return f"{self.path} for {self.model_id}: {done} MiB"
        percent = 100 * self.done_bytes // self.total_bytes
        total = f"{self.total_bytes / MIB:.1f}"
        return f"{self.path} for {self.model_id}: {done} of {total} MiB ({percent}%)"


OnDownload = Callable[[DownloadProgress], None]


class _Meter:
    """Reports a download at its start, then at most every ``every_s``, and at its end."""

    def __init__(
        self,
        report: DownloadProgress,
        on_progress: OnDownload | None,
        every_s: float,
        clock: Callable[[], float],
    ) -> None:
        self._report, self._on_progress = report, on_progress
        self._every_s, self._clock = every_s, clock
        self._last = float("-inf")

    def __call__(self, done_bytes: int, total_bytes: int | None, *, final: bool = False) -> None:
        now = self._clock()
        if not final and now - self._last < self._every_s:
            return
        self._last = now
        report = DownloadProgress(
            self._report.model_id,
            self._report.path,
            done_bytes,
            total_bytes,
            self._report.index,
            self._report.count,
        )
        log.info("downloading %s", report.describe())
        if self._on_progress is not None:
            self._on_progress(report)


class WeightsUnavailable(Exception):
    """Weights that are not present and could not be fetched; the message names them."""


class WeightsRejected(Exception):
    """A weight file that does not match its pinned SHA-256; the message says what to do."""


class DigestMismatch(OSError):
    """A completed download whose SHA-256 is not the pinned one."""


def missing_files(spec: ModelSpec, models_dir: Path) -> list[Path]:
    return [models_dir / w.path for w in spec.weights if not (models_dir / w.path).is_file()]


def download_url(weight: WeightFile, mirror: str = "") -> str | None:
    """Where ``weight`` is fetched from: ``{mirror}/{path}`` when a mirror is set."""
    if weight.url is None:
        return None
    if mirror:
        return f"{mirror.rstrip('/')}/{weight.path}"
    return weight.url


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def mismatch_message(spec: ModelSpec, weight: WeightFile) -> str:
    return (
        f"{spec.id}: {weight.path} in the models directory does not match the SHA-256 "
        "Stemdeck pins for it (it is damaged, incomplete or not the published file), so "
        "it was not loaded. Run `stemdeck models`, which replaces it with a download (or "
        "conversion) that matches."
    )


def check_digest(spec: ModelSpec, weight: WeightFile, digest: str) -> None:
    """WeightsRejected unless ``digest`` is the one pinned for ``weight`` (if any)."""
    if weight.sha256 is not None and digest != weight.sha256:
        raise WeightsRejected(mismatch_message(spec, weight))


def verify_present(spec: ModelSpec, models_dir: Path) -> None:
    """Every present file with a pinned digest has it; WeightsRejected naming the first not."""
    for weight in spec.weights:
        path = models_dir / weight.path
        if weight.sha256 is not None and path.is_file():
            check_digest(spec, weight, sha256_file(path))


def discard_mismatched(spec: ModelSpec, models_dir: Path) -> list[str]:
    """Delete each present file that does not match its pin, so it is fetched again;
    the paths removed. For `stemdeck models`, the one process that writes the models dir."""
    removed = []
    for weight in spec.weights:
        path = models_dir / weight.path
        if weight.sha256 is not None and path.is_file() and sha256_file(path) != weight.sha256:
            path.unlink()
            removed.append(weight.path)
    return removed


def fetch_missing(
    spec: ModelSpec,
    models_dir: Path,
    timeout_s: float = 60.0,
    mirror: str = "",
    on_progress: OnDownload | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Path]:
    """Download every absent weight file of ``spec``; returns the files fetched.

    ``on_progress`` hears each file's start, its progress every REPORT_EVERY_S by
    ``clock`` and its end (what the log shows too); an exception it raises stops the
    download, and nothing of the file is left."""
    absent = [w for w in spec.weights if not (models_dir / w.path).is_file()]
    fetched: list[Path] = []
    for index, weight in enumerate(absent):
        target = models_dir / weight.path
        url = _checked_source(spec, weight, mirror)
        meter = _Meter(
            DownloadProgress(spec.id, weight.path, 0, None, index, len(absent)),
            on_progress,
            REPORT_EVERY_S,
            clock,
        )
        try:
            _download(url, target, weight.sha256 or "", timeout_s, meter)
        except DigestMismatch:
            raise WeightsUnavailable(
                f"{spec.id}: the {weight.path} downloaded from {url} does not match the "
                "SHA-256 Stemdeck pins for it, so it was discarded. Try `stemdeck models` "
                "again later, or put a copy that matches in the models directory."
            ) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
            plain_url_error = isinstance(error, urllib.error.URLError) and not isinstance(
                error, urllib.error.HTTPError
            )
            reason = error.reason if plain_url_error else error  # type: ignore[union-attr]
            raise WeightsUnavailable(
                f"{spec.id} needs {weight.path}; downloading it from {url} failed ({reason}). "
                "Run `stemdeck models` where the network allows, or download it there and "
                f"put it at {weight.path} in the models directory."
            ) from None
        fetched.append(target)
    return fetched


def _checked_source(spec: ModelSpec, weight: WeightFile, mirror: str) -> str:
    """The URL to fetch ``weight`` from; WeightsUnavailable when it has none or no pin."""
    url = download_url(weight, mirror)
    if url is None:
        raise WeightsUnavailable(
            f"{spec.id} needs {weight.path} in the models directory, which has no "
            "download source: put the file there."
        )
    if weight.sha256 is None:
        raise WeightsUnavailable(
            f"{spec.id} needs {weight.path} in the models directory. Stemdeck knows no "
            f"SHA-256 to check a download of it against, so it does not fetch it: "
            f"download it from {url}, check it, and put it there."
        )
    return url


def _download(url: str, target: Path, sha256: str, timeout_s: float, meter: _Meter) -> None:
    if not url.startswith(("https://", "http://")):
        raise OSError(f"unsupported URL scheme in {url!r}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex}.part")
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response, partial.open("wb") as out:
            expected = response.headers.get("Content-Length")
            total = int(expected) if expected is not None and expected.isdigit() else None
            done = 0
            meter(done, total)
            while block := response.read(CHUNK):
                digest.update(block)
                out.write(block)
                done += len(block)
                meter(done, total)
        # http.client returns a body cut short by a dropped connection without complaint.
        if total is not None and done != total:
            raise OSError(f"transfer cut short: {done} of {total} bytes")
        if digest.hexdigest() != sha256:
            raise DigestMismatch(url)
        meter(done, total, final=True)
        os.chmod(partial, 0o644)  # workers may run as another user than the one-shot
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
