"""RQ tasks: the thin layer between the queue, the job's lifecycle and the executor.

The database session is never held open while audio is processed: read the
row, close, compute, reopen to write (long inference must not pin a connection).
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stemdeck.core.db import session_scope
from stemdeck.core.lifecycle import Attempt
from stemdeck.core.models import Job, Stem
from stemdeck.core.probe import probe
from stemdeck.core.states import JobStatus, Stage
from stemdeck.core.storage import Storage, keys
from stemdeck.core.tracing import span
from stemdeck.worker import presence, runtime
from stemdeck.worker.attempt import SEPARATION, Heartbeat, claim, run_attempt, with_retries
from stemdeck.worker.executor import RenderedStem, SeparationResult, separate_file
from stemdeck.worker.job_context import in_job_context
from stemdeck.worker.music import MusicAnalysis
from stemdeck.worker.progress import JobCancelled, JobProgress

log = logging.getLogger(__name__)

# Shares of the job's progress bar outside the executor.
FETCH_END = 0.02
EXECUTOR_END = 0.95


@in_job_context
def separate_job(job_id: str) -> str:
    """Separate one job's source into stems; returns the status it leaves the job in."""
    if reused_twin(job_id):
        return JobStatus.completed
    attempt = claim(job_id, JobStatus.running)
    if attempt is None:
        return "skipped"
    return run_attempt(attempt, SEPARATION, lambda: _separate(attempt))


@dataclass(frozen=True)
class _Order:
    strategy: str
    formats: list[str]
    source_key: str


def _separate(attempt: Attempt) -> str:
    begun = time.monotonic()
    rt = runtime.current()
    order = _read_order(attempt.job_id)
    progress = JobProgress(rt.lifecycle, attempt)
    interval_s = rt.settings.heartbeat_interval_s
    with (
        Heartbeat(rt.lifecycle, attempt, interval_s),
        tempfile.TemporaryDirectory(prefix=f"stemdeck-{attempt.job_id}-") as scratch,
    ):
        result = _run_strategy(order, Path(scratch), progress)
        progress.update(Stage.uploading, EXECUTOR_END, force=True)
        with span("storage.store_outputs"):
            stems = _store_outputs(attempt.job_id, result, progress)
    _record(attempt, stems, result)
    if reporter := presence.current():
        reporter.separation_done(order.strategy, time.monotonic() - begun, result.duration_s)
    return JobStatus.completed


def _read_order(job_id: str) -> _Order:
    with session_scope(runtime.current().settings.effective_database_url) as session:
        job = session.get(Job, job_id)
        if job is None or job.source_key is None:
            raise JobCancelled(job_id)
        return _Order(job.strategy, list(job.formats), job.source_key)


def _run_strategy(order: _Order, scratch: Path, progress: JobProgress) -> SeparationResult:
    rt = runtime.current()
    with rt.storage.local_path(order.source_key) as source_path:
        progress.update(Stage.decoding, FETCH_END, force=True)
        return separate_file(
            source_path,
            probe(source_path),
            rt.strategies[order.strategy],
            order.formats,
            scratch,
            rt.models,
            progress.scaled(FETCH_END, EXECUTOR_END),
        )


def _record(attempt: Attempt, stems: list[Stem], result: SeparationResult) -> None:
    lifecycle = runtime.current().lifecycle
    recorded = with_retries(
        lambda: lifecycle.complete(
            attempt, stems, result.notes, result.gain_db, analysis_json(result.music)
        ),
        f"recording the stems of job {attempt.job_id}",
    )
    if not recorded:
        raise JobCancelled(attempt.job_id)


def analysis_json(music: MusicAnalysis | None) -> dict[str, Any] | None:
    """The job row's ``analysis`` (what the API shows as is): None when it failed."""
    if music is None:
        return None
    key = music.key
    return {
        "bpm": music.bpm,
        "beats": list(music.beats),
        "downbeats": list(music.downbeats),
        "key": None
        if key is None
        else {"tonic": key.tonic, "mode": key.mode, "name": key.name, "confidence": key.confidence},
    }


def reused_twin(job_id: str) -> bool:
    """Complete a queued job at once from a completed job with the same audio (dedup)."""
    rt = runtime.current()
    reused = with_retries(
        lambda: rt.lifecycle.reuse_twin(job_id, rt.settings.dedup_scope),
        f"looking for a twin of job {job_id}",
    )
    if isinstance(reused, str):
        rt.storage.delete_prefix(reused)
    if reused:
        log.info("job %s completed from a twin's stems", job_id)
    return bool(reused)


def _store_outputs(job_id: str, result: SeparationResult, progress: JobProgress) -> list[Stem]:
    """Every stem file, waveform and metadata.json; the Stem rows that describe them."""
    files = sum(len(stem.files) + 2 for stem in result.stems) + 1
    uploads = _Uploads(progress, files)
    rows = [
        _store_stem(uploads, job_id, position, stem) for position, stem in enumerate(result.stems)
    ]
    metadata = {
        "job_id": job_id,
        "duration_s": result.duration_s,
        "notes": result.notes,
        "gain_db": result.gain_db,
        "analysis": analysis_json(result.music),
        "stems": [
            {"name": r.name, "lufs": r.lufs, "peak_dbfs": r.peak_dbfs, "keys": r.keys} for r in rows
        ],
    }
    encoded = json.dumps(metadata, indent=2).encode()
    uploads.put(lambda storage: storage.put_bytes(keys.metadata(job_id), encoded))
    return rows


class _Uploads:
    """Counts the files stored, as the last share of the job's progress bar."""

    def __init__(self, progress: JobProgress, files: int) -> None:
        self._progress, self._files, self._done = progress, files, 0

    def put(self, write: Callable[[Storage], None]) -> None:
        # Forced, and before each write: a cancelled or superseded attempt stops here
        # rather than overwrite the files of the attempt that replaced it.
        share = EXECUTOR_END + (1 - EXECUTOR_END) * self._done / self._files
        self._progress.update(Stage.uploading, share, force=True)
        write(runtime.current().storage)
        self._done += 1

    def put_file(self, key: str, path: Path) -> None:
        self.put(functools.partial(_put_file, key=key, path=path))


def _put_file(storage: Storage, *, key: str, path: Path) -> None:
    storage.put_file(key, path)


def _store_stem(uploads: _Uploads, job_id: str, position: int, stem: RenderedStem) -> Stem:
    stem_keys: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for format_id, path in stem.files.items():
        stem_keys[format_id] = keys.stem(job_id, stem.name, format_id)
        uploads.put_file(stem_keys[format_id], path)
        sizes[format_id] = path.stat().st_size
    waveform_key = keys.waveform(job_id, stem.name, "json")
    png_key = keys.waveform(job_id, stem.name, "png")
    uploads.put_file(waveform_key, stem.waveform_json)
    uploads.put_file(png_key, stem.waveform_png)
    return Stem(
        job_id=job_id,
        name=stem.name,
        position=position,
        duration_s=stem.duration_s,
        lufs=stem.lufs,
        peak_dbfs=stem.peak_dbfs,
        formats=list(stem.files),
        keys=stem_keys,
        sizes=sizes,
        waveform_key=waveform_key,
        waveform_png_key=png_key,
    )
