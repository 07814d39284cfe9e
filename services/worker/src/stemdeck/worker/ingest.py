"""The ingest task: download a URL job's audio (guarded), store it, queue its separation.

The download runs in its own process (``stemdeck.worker.fetch``), killed at the
wall-clock cap, when the job is cancelled (or removed) or when this worker
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

from stemdeck.core.db import session_scope
from stemdeck.core.lifecycle import Attempt, FetchedSource
from stemdeck.core.models import Job
from stemdeck.core.names import title_name
from stemdeck.core.probe import (
    AudioError,
    AudioInfo,
    PointerFileError,
    check_duration,
    probe,
    verify_decodes,
)
from stemdeck.core.queue import enqueue_separation, redis_connection, separate_queue
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import keys
from stemdeck.worker import runtime, shutdown
from stemdeck.worker.attempt import (
    DOWNLOAD,
    Heartbeat,
    JobFailed,
    claim,
    owns,
    run_attempt,
    with_retries,
)
from stemdeck.worker.fetch import FetchRequest, FetchResult, download_environment
from stemdeck.worker.job_context import in_job_context
from stemdeck.worker.progress import JobCancelled
from stemdeck.worker.tasks import reused_twin

log = logging.getLogger(__name__)

POLL_S = 0.25


@in_job_context
def ingest_job(job_id: str) -> str:
    """Download a URL job's audio, store it and queue its separation; returns the status
    it leaves the job in."""
    source_url = _pending_url(job_id)
    if source_url is None:
        return "skipped"
    attempt = claim(job_id, JobStatus.fetching)
    if attempt is None:
        return "skipped"
    return run_attempt(attempt, DOWNLOAD, lambda: _fetch_and_store(attempt, source_url))


def _pending_url(job_id: str) -> str | None:
    """The URL still to download; None when the job is gone or already downloaded (an
    ingest entry queued twice: the separation has it now)."""
    with session_scope(runtime.current().settings.effective_database_url) as session:
        job = session.get(Job, job_id)
        return job.source_url if job is not None and job.source_key is None else None


def _fetch_and_store(attempt: Attempt, source_url: str) -> str:
    rt = runtime.current()
    with (
        Heartbeat(rt.lifecycle, attempt, rt.settings.heartbeat_interval_s),
        tempfile.TemporaryDirectory(prefix=f"stemdeck-ingest-{attempt.job_id}-") as scratch,
    ):
        result = _download(attempt, source_url, Path(scratch))
        if not result.ok:
            log.info("job %s: download refused or failed: %s", attempt.job_id, result.code)
            raise JobFailed(result.code, result.message, result.detail)
        path = Path(result.path)
        info = _check_audio(path)
        _store(attempt, path, info, result)
    if reused_twin(attempt.job_id):
        return JobStatus.completed
    _queue_separation(attempt.job_id, info)
    return JobStatus.queued


def _check_audio(path: Path) -> AudioInfo:
    """What was fetched is checked like an upload."""
    try:
        info = probe(path)
        verify_decodes(path, info)
        check_duration(info, runtime.current().settings.max_duration_s)
    except PointerFileError as error:
        raise JobFailed(
            error.code,
            f"What this URL serves is {error.kind}: it names other files or streams instead "
            "of holding audio, and Stemdeck does not follow such pointers. Link to the audio "
            "file itself, or download the audio and upload it.",
        ) from error
    except AudioError as error:
        if error.code in {"unsupported_media", "no_audio"}:
            raise JobFailed(
                "not_audio",
                "What this URL serves is not audio Stemdeck can read. Link to an audio file "
                "or a page of a site yt-dlp supports.",
            ) from error
        raise JobFailed(error.code, error.message) from error
    return info


def _queue_separation(job_id: str, info: AudioInfo) -> None:
    rt = runtime.current()
    with session_scope(rt.settings.effective_database_url) as session:
        job = session.get(Job, job_id)
        strategy_name = job.strategy if job is not None else ""
    strategy = rt.strategies[strategy_name]
    queue = separate_queue(redis_connection(rt.settings.require_redis_url()))
    try:
        enqueue_separation(queue, rt.settings, job_id, info.duration_s, strategy.cost)
    except RedisError as error:
        # The row is queued: the reconciler hands it on once Redis is back.
        log.warning("could not queue the separation of job %s yet: %s", job_id, error)


def _still_mine(attempt: Attempt) -> bool:
    try:
        return owns(attempt)
    except Exception:  # the database away is not a cancellation
        return True


def _download(attempt: Attempt, source_url: str, scratch: Path) -> FetchResult:
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
        env=download_environment(os.environ),
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
                raise shutdown.WorkerStopping(attempt.job_id)
            if now - last_check >= 1.0:
                last_check = now
                if not _still_mine(attempt):
                    raise JobCancelled(attempt.job_id)
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


def _store(attempt: Attempt, path: Path, info: AudioInfo, result: FetchResult) -> None:
    """Store the source and hand the job to separation (JobCancelled: no longer ours)."""
    rt = runtime.current()
    key = keys.source(attempt.job_id, info.extension)
    # A stale attempt must not overwrite a source a newer one stored (and may be reading).
    if not owns(attempt):
        raise JobCancelled(attempt.job_id)
    rt.storage.put_file(key, path)
    # The title names the job and its downloads (the zip's folder), as a file name would.
    title = title_name(result.title)
    source = FetchedSource(
        source_key=key,
        source_title=title,
        source_sha256=_sha256(path),
        source_size_bytes=path.stat().st_size,
        source_format=info.format[:32],
        source_duration_s=info.duration_s,
        source_sample_rate=info.sample_rate,
        source_channels=info.channels,
    )
    stored = with_retries(
        lambda: rt.lifecycle.fetched(attempt, source),
        f"recording the source of job {attempt.job_id}",
    )
    if not stored:
        raise JobCancelled(attempt.job_id)
