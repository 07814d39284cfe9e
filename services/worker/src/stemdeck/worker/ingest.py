"""The ingest task: download a URL job's audio (guarded), store it, queue its separation.

The download runs in its own process (``stemdeck.worker.fetch``), killed at the
wall-clock cap, when the job is cancelled (its row deleted) or when this worker
is asked to stop. What it fetched is checked like an upload (probe, full
decode, length) before anything is stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from redis.exceptions import RedisError
from sqlalchemy import update

from stemdeck.core.db import session_scope
from stemdeck.core.models import Job
from stemdeck.core.probe import AudioError, AudioInfo, check_duration, probe, verify_decodes
from stemdeck.core.queue import enqueue_separation, redis_connection, separate_queue
from stemdeck.core.states import JobStatus, Stage
from stemdeck.core.storage import StorageError, keys
from stemdeck.worker import runtime, shutdown
from stemdeck.worker.attempt import (
    Heartbeat,
    claim,
    finish,
    owns,
    store_unavailable,
    with_retries,
)
from stemdeck.worker.fetch import FetchRequest, FetchResult
from stemdeck.worker.tasks import reused_twin

log = logging.getLogger(__name__)

POLL_S = 0.25
DOWNLOADING = "downloading"


class _Stopped(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def ingest_job(job_id: str) -> str:
    """Download a URL job's audio, store it and queue its separation; returns the status.

    The claim and the end, however it ends, are announced on the job's events channel.
    """
    rt = runtime.current()
    try:
        return _ingest(rt, job_id)
    finally:
        rt.job_changed(job_id)


def _ingest(rt: runtime.WorkerRuntime, job_id: str) -> str:
    settings = rt.settings
    url = settings.effective_database_url
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        # Already downloaded (an ingest entry queued twice): the separation has it now.
        source_url = job.source_url if job is not None and job.source_key is None else None
    if source_url is None:
        return "skipped"
    attempt = claim(url, job_id, JobStatus.fetching, DOWNLOADING)
    if attempt is None:
        return "skipped"
    rt.job_changed(job_id)
    try:
        return _fetch_and_store(rt, job_id, attempt, source_url)
    except StorageError as error:
        log.error("job %s: storage failed: %s", job_id, error)
        _fail(
            url,
            job_id,
            attempt,
            "storage_unavailable",
            store_unavailable(error, "the link"),
        )
        return JobStatus.failed
    except Exception:
        log.exception("job %s: the download failed unexpectedly", job_id)
        _fail(
            url,
            job_id,
            attempt,
            "internal_error",
            "The download failed because of an internal error; try again, and if it keeps "
            "failing, report it with the job id.",
        )
        raise


def _fail(url: str, job_id: str, attempt: int, code: str, message: str) -> None:
    finish(
        url, job_id, attempt, JobStatus.failed, phase=JobStatus.fetching, code=code, message=message
    )


def _fetch_and_store(rt: runtime.WorkerRuntime, job_id: str, attempt: int, source_url: str) -> str:
    settings = rt.settings
    url = settings.effective_database_url
    with (
        Heartbeat(url, job_id, attempt, JobStatus.fetching, settings.heartbeat_interval_s),
        tempfile.TemporaryDirectory(prefix=f"stemdeck-ingest-{job_id}-") as scratch,
    ):
        try:
            result = _download(url, job_id, attempt, source_url, Path(scratch))
        except _Stopped as stopped:
            if stopped.why == "stopping":
                finish(
                    url,
                    job_id,
                    attempt,
                    JobStatus.queued,
                    phase=JobStatus.fetching,
                    code=None,
                    message="",
                )
                return JobStatus.queued
            return JobStatus.cancelled
        if not result.ok:
            log.info("job %s: download refused or failed: %s", job_id, result.code)
            _fail(url, job_id, attempt, result.code, result.message)
            return JobStatus.failed
        path = Path(result.path)
        try:
            info = probe(path)
            verify_decodes(path, info)
            check_duration(info, settings.max_duration_s)
        except AudioError as error:
            code = "not_audio" if error.code in {"unsupported_media", "no_audio"} else error.code
            message = (
                "What this URL serves is not audio Stemdeck can read. Link to an audio file "
                "or a page of a site yt-dlp supports."
                if code == "not_audio"
                else error.message
            )
            _fail(url, job_id, attempt, code, message)
            return JobStatus.failed
        if not _store(job_id, attempt, path, info, result):
            return JobStatus.cancelled
    if reused_twin(url, job_id):
        return JobStatus.completed
    strategy = rt.strategies[_strategy_of(url, job_id)]
    queue = separate_queue(redis_connection(settings.require_redis_url()))
    try:
        enqueue_separation(queue, settings, job_id, info.duration_s, strategy.cost)
    except RedisError as error:
        # The row is queued: the reconciler hands it on once Redis is back.
        log.warning("could not queue the separation of job %s yet: %s", job_id, error)
    return JobStatus.queued


def _strategy_of(url: str, job_id: str) -> str:
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        return job.strategy if job is not None else ""


def _still_mine(url: str, job_id: str, attempt: int) -> bool:
    try:
        with session_scope(url) as session:
            job = session.get(Job, job_id)
            return job is None or (job.attempts == attempt and job.status == JobStatus.fetching)
    except Exception:  # the database away is not a cancellation
        return True


def _exists(url: str, job_id: str) -> bool:
    try:
        with session_scope(url) as session:
            return session.get(Job, job_id) is not None
    except Exception:
        return True


def _download(url: str, job_id: str, attempt: int, source_url: str, scratch: Path) -> FetchResult:
    settings = runtime.current().settings
    request = FetchRequest(
        url=source_url,
        out_dir=str(scratch),
        max_bytes=settings.max_upload_bytes,
        max_duration_s=settings.max_duration_s,
        allow_loopback=settings.ingest_allow_loopback,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "stemdeck.worker.fetch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(json.dumps(asdict(request)).encode())
    process.stdin.close()
    deadline = time.monotonic() + settings.ingest_timeout_s
    last_check = 0.0
    try:
        while process.poll() is None:
            now = time.monotonic()
            if now > deadline:
                _kill(process)
                return FetchResult(
                    False,
                    "download_timeout",
                    f"The download took longer than {settings.ingest_timeout_s:g} s and was "
                    "stopped (STEMDECK_INGEST_TIMEOUT_S). The server may be slow; try again "
                    "later, or download the file yourself and upload it.",
                )
            if shutdown.requested():
                raise _Stopped("stopping")
            if now - last_check >= 1.0:
                last_check = now
                if not _exists(url, job_id):
                    raise _Stopped("cancelled")
                if not _still_mine(url, job_id, attempt):
                    raise _Stopped("superseded")
            time.sleep(POLL_S)
    finally:
        if process.poll() is None:
            _kill(process)
    lines = process.stdout.read().decode(errors="replace").strip().splitlines()
    try:
        return FetchResult(**json.loads(lines[-1]))
    except (IndexError, ValueError, TypeError):
        return FetchResult(
            False,
            "download_failed",
            f"The download process ended without an answer (exit code {process.returncode}); "
            "try again, and report it with the job id if it keeps happening.",
        )


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _store(job_id: str, attempt: int, path: Path, info: AudioInfo, result: FetchResult) -> bool:
    """Store the source and hand the job to separation; False if it is no longer ours."""
    rt = runtime.current()
    key = keys.source(job_id, info.extension)
    # A stale attempt must not overwrite a source a newer one stored (and may be reading).
    if not owns(rt.settings.effective_database_url, job_id, attempt, JobStatus.fetching):
        return False
    rt.storage.put_file(key, path)
    title = result.title or None

    def record() -> bool:
        with session_scope(rt.settings.effective_database_url) as session:
            values: dict[str, object] = {
                "status": JobStatus.queued,
                "stage": Stage.waiting,
                "progress": 0.0,
                # The download's attempts are its own; separation counts from 1 again.
                "attempts": 0,
                "heartbeat_at": None,
                "source_key": key,
                "source_title": title[:255] if title else None,
                "source_sha256": _sha256(path),
                "source_size_bytes": path.stat().st_size,
                "source_format": info.format[:32],
                "source_duration_s": info.duration_s,
                "source_sample_rate": info.sample_rate,
                "source_channels": info.channels,
            }
            if title:
                values["source_name"] = title[:255]
            updated = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempts == attempt, Job.status == JobStatus.fetching)
                .values(**values)
            )
            return bool(updated.rowcount)  # type: ignore[attr-defined]

    if with_retries(record, f"recording the source of job {job_id}"):
        return True
    if not _exists(rt.settings.effective_database_url, job_id):
        rt.storage.delete_prefix(keys.job_prefix(job_id))
    return False
