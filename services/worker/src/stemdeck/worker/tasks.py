"""RQ tasks: the thin layer between the queue, the job row and the executor.

The database session is never held open while audio is processed: read the
row, close, compute, reopen to write (long inference must not pin a connection).
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
from collections.abc import Callable
from pathlib import Path

from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy import delete, select

from stemdeck.core.db import session_scope
from stemdeck.core.dedup import complete_from_twin, find_twin
from stemdeck.core.models import Job, Stem, copy_stem, utcnow
from stemdeck.core.probe import AudioError, probe
from stemdeck.core.states import JobStatus, Stage
from stemdeck.core.storage import NotFound, StorageError, keys
from stemdeck.worker import runtime
from stemdeck.worker.attempt import (
    Heartbeat,
    claim,
    finish,
    owns,
    store_unavailable,
    with_retries,
)
from stemdeck.worker.executor import SeparationResult, separate_file
from stemdeck.worker.models.base import ModelError
from stemdeck.worker.progress import JobCancelled, JobProgress
from stemdeck.worker.shutdown import WorkerStopping

log = logging.getLogger(__name__)

# Shares of the job's progress bar outside the executor.
FETCH_END = 0.02
EXECUTOR_END = 0.95


def separate_job(job_id: str) -> str:
    """Separate one job's source into stems; returns the final status.

    Each change of the row is announced on the job's events channel (the API's
    Server-Sent Events): the claim, every progress write, and the end, however it ends.
    """
    rt = runtime.current()
    try:
        return _separate(rt, job_id)
    finally:
        rt.job_changed(job_id)


def _separate(rt: runtime.WorkerRuntime, job_id: str) -> str:
    url = rt.settings.effective_database_url
    if reused_twin(url, job_id):
        return JobStatus.completed
    attempt = claim(url, job_id, JobStatus.running, Stage.decoding)
    if attempt is None:
        return "skipped"
    rt.job_changed(job_id)
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        if job is None or job.source_key is None:
            return JobStatus.cancelled
        strategy_name, formats, source_key = job.strategy, list(job.formats), job.source_key

    progress = JobProgress(url, job_id, attempt, on_write=lambda: rt.job_changed(job_id))
    heartbeat = Heartbeat(url, job_id, attempt, JobStatus.running, rt.settings.heartbeat_interval_s)
    try:
        with heartbeat, tempfile.TemporaryDirectory(prefix=f"stemdeck-{job_id}-") as scratch:
            strategy = rt.strategies[strategy_name]
            with rt.storage.local_path(source_key) as source_path:
                progress.update(Stage.decoding, FETCH_END, force=True)
                info = probe(source_path)
                result = separate_file(
                    source_path,
                    info,
                    strategy,
                    formats,
                    Path(scratch),
                    rt.models,
                    progress.scaled(FETCH_END, EXECUTOR_END),
                )
            progress.update(Stage.uploading, EXECUTOR_END, force=True)
            _store_outputs(job_id, attempt, result, progress)
    except JobCancelled:
        return _abandon(url, job_id)
    except WorkerStopping:
        log.info("worker stopping: job %s goes back to the queue", job_id)
        _remove_outputs(url, job_id, attempt)
        finish(
            url, job_id, attempt, JobStatus.queued, phase=JobStatus.running, code=None, message=""
        )
        return JobStatus.queued
    except JobTimeoutException:
        limit = timeout_of(job_id)
        log.warning("job %s ran past its %s s timeout", job_id, limit)
        _remove_outputs(url, job_id, attempt)
        _fail(
            url,
            job_id,
            attempt,
            "timeout",
            f"The separation ran longer than its time limit ({limit} s for this duration "
            "and strategy) and was stopped. Try a lighter strategy or a shorter file, or ask "
            "the admin to raise STEMDECK_JOB_TIMEOUT_BASE_S / _PER_AUDIO_S.",
        )
        return JobStatus.failed
    except (AudioError, ModelError) as error:
        _fail(url, job_id, attempt, "separation_failed", str(error))
        return JobStatus.failed
    except NotFound as error:
        _fail(
            url,
            job_id,
            attempt,
            "source_missing",
            f"The job's file {error} is no longer stored; upload the song again.",
        )
        return JobStatus.failed
    except StorageError as error:
        log.error("job %s: storage failed: %s", job_id, error)
        _fail(
            url,
            job_id,
            attempt,
            "storage_unavailable",
            store_unavailable(error, "the song"),
        )
        return JobStatus.failed
    except Exception:
        log.exception("job %s failed unexpectedly", job_id)
        _fail(
            url,
            job_id,
            attempt,
            "internal_error",
            "Separation failed because of an internal error; try again, "
            "and if it keeps failing, report it with the job id.",
        )
        raise
    return JobStatus.completed


def reused_twin(url: str, job_id: str) -> bool:
    """Complete a queued job at once from a completed job with the same audio (dedup)."""

    def run() -> str | bool | None:
        with session_scope(url) as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.status != JobStatus.queued:
                return False
            twin = find_twin(session, job)
            if twin is None:
                return False
            return complete_from_twin(job, twin) or True

    unused_source = with_retries(run, f"looking for a twin of job {job_id}")
    if isinstance(unused_source, str):
        runtime.current().storage.delete_prefix(unused_source)
    if unused_source:
        log.info("job %s completed from a twin's stems", job_id)
    return bool(unused_source)


def timeout_of(job_id: str) -> float | str:
    current = get_current_job()
    return current.timeout if current is not None and current.timeout else "?"


def _abandon(url: str, job_id: str) -> str:
    """Stopped at a progress point: the row is gone (cancelled) or a newer attempt owns it."""
    with session_scope(url) as session:
        exists = session.get(Job, job_id) is not None
    if exists:
        log.info("job %s was taken over by a newer attempt; leaving its files alone", job_id)
        return "superseded"
    # Cancelling deletes the row; the API removed the files it knew of, but this
    # attempt may have written more since (stems, metadata.json): remove them all.
    log.info("job %s was cancelled; removing its files", job_id)
    runtime.current().storage.delete_prefix(keys.job_prefix(job_id))
    return JobStatus.cancelled


def _remove_outputs(url: str, job_id: str, attempt: int) -> None:
    """What an unfinished attempt may have stored; the source stays for the next one.

    Only while this attempt still owns the row: a stale one must not delete the stems of
    the attempt that replaced it."""
    if not owns(url, job_id, attempt, JobStatus.running):
        log.info("job %s belongs to a newer attempt; leaving its files alone", job_id)
        return
    storage = runtime.current().storage
    for prefix in (keys.stems_prefix(job_id), keys.waveforms_prefix(job_id)):
        storage.delete_prefix(prefix)
    storage.delete_prefix(keys.metadata(job_id))


def _store_outputs(
    job_id: str, attempt: int, result: SeparationResult, progress: JobProgress
) -> None:
    rt = runtime.current()
    storage = rt.storage
    rows: list[Stem] = []
    files = sum(len(stem.files) + 2 for stem in result.stems) + 1
    done = 0

    def put(write: Callable[[], None]) -> None:
        # Forced, and before each write: a cancelled or superseded attempt stops here
        # rather than overwrite the files of the attempt that replaced it.
        nonlocal done
        progress.update(
            Stage.uploading, EXECUTOR_END + (1 - EXECUTOR_END) * done / files, force=True
        )
        write()
        done += 1

    for position, stem in enumerate(result.stems):
        stem_keys: dict[str, str] = {}
        sizes: dict[str, int] = {}
        for format_id, path in stem.files.items():
            key = keys.stem(job_id, stem.name, format_id)
            put(functools.partial(storage.put_file, key, path))
            stem_keys[format_id] = key
            sizes[format_id] = path.stat().st_size
        waveform_key = keys.waveform(job_id, stem.name, "json")
        png_key = keys.waveform(job_id, stem.name, "png")
        put(functools.partial(storage.put_file, waveform_key, stem.waveform_json))
        put(functools.partial(storage.put_file, png_key, stem.waveform_png))
        rows.append(
            Stem(
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
        )
    metadata = {
        "job_id": job_id,
        "duration_s": result.duration_s,
        "notes": result.notes,
        "gain_db": result.gain_db,
        "stems": [
            {"name": r.name, "lufs": r.lufs, "peak_dbfs": r.peak_dbfs, "keys": r.keys} for r in rows
        ],
    }
    encoded = json.dumps(metadata, indent=2).encode()
    put(functools.partial(storage.put_bytes, keys.metadata(job_id), encoded))

    def record() -> None:
        with session_scope(rt.settings.effective_database_url) as session:
            job = session.execute(select(Job).where(Job.id == job_id).with_for_update()).scalar()
            if job is None or job.status != JobStatus.running or job.attempts != attempt:
                raise JobCancelled(job_id)
            # A re-run replaces the previous attempt's rows whole.
            session.execute(delete(Stem).where(Stem.job_id == job_id))
            # Fresh instances per try: a rolled-back session leaves the old ones unusable.
            session.add_all([copy_stem(row, job_id) for row in rows])
            job.status = JobStatus.completed
            job.stage = Stage.done
            job.progress = 1.0
            job.notes = result.notes
            job.output_gain_db = result.gain_db
            job.finished_at = utcnow()
            job.heartbeat_at = None

    with_retries(record, f"recording the stems of job {job_id}")


def _fail(url: str, job_id: str, attempt: int, code: str, message: str) -> None:
    finish(
        url, job_id, attempt, JobStatus.failed, phase=JobStatus.running, code=code, message=message
    )
