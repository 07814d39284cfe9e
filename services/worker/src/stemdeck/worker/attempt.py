"""One attempt at a job, as the worker runs it: claimed, kept alive, and ended.

``run_attempt`` is the one place that turns every way an attempt can end (done,
refused, cancelled, superseded, stopped, timed out, crashed) into a lifecycle
transition, for downloads and separations alike. A heartbeat thread tells the
reconciler the attempt is alive. Writes that end an attempt are retried while
the database is briefly away.
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TypeVar

from rq import get_current_job
from rq.timeouts import JobTimeoutException
from sqlalchemy.exc import InterfaceError, OperationalError
from structlog.contextvars import bind_contextvars

from stemdeck.core.db import session_scope
from stemdeck.core.lifecycle import Attempt, JobLifecycle
from stemdeck.core.models import Job
from stemdeck.core.probe import AudioError
from stemdeck.core.public_errors import public_text, with_ref
from stemdeck.core.states import JobStatus
from stemdeck.core.storage import NotFound, StorageError, keys
from stemdeck.worker import runtime
from stemdeck.worker.models.base import ModelError
from stemdeck.worker.progress import JobCancelled
from stemdeck.worker.shutdown import WorkerStopping

log = logging.getLogger(__name__)

T = TypeVar("T")
# How long a worker keeps trying to record an attempt's end while the database is down.
WRITE_RETRY_S = 120.0
WRITE_RETRY_PAUSE_S = 1.0


class JobFailed(Exception):
    """The attempt ends as failed, for a reason the user is told; ``detail`` goes only to
    the log, on the failure's line (what a download tool said, say)."""

    def __init__(self, code: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.code, self.message, self.detail = code, message, detail


@dataclass(frozen=True)
class Work:
    """What an attempt does, in the words its failures use."""

    noun: str  # "separation", "download"
    again: str  # what the user submits again after a store failure


SEPARATION = Work("separation", "the song")
DOWNLOAD = Work("download", "the link")


def with_retries(action: Callable[[], T], what: str, *, budget_s: float = WRITE_RETRY_S) -> T:
    deadline = time.monotonic() + budget_s
    while True:
        try:
            return action()
        except (OperationalError, InterfaceError) as error:
            if time.monotonic() >= deadline:
                raise
            log.warning("database unavailable while %s (%s); retrying", what, error.orig)
            time.sleep(WRITE_RETRY_PAUSE_S)


def claim(job_id: str, phase: JobStatus) -> Attempt | None:
    lifecycle = runtime.current().lifecycle
    attempt = with_retries(lambda: lifecycle.claim(job_id, phase), f"claiming job {job_id}")
    if attempt is not None:
        # The job's log lines from here on say which attempt (job_context.py unbinds it).
        bind_contextvars(attempt=attempt.number)
    return attempt


def store_unavailable(again: str) -> str:
    """What a job says when the file store failed it; ``again``: what to submit again."""
    return (
        "The file store could not be used. Check that it is running and reachable "
        f"(GET /ready), then submit {again} again."
    )


def owns(attempt: Attempt) -> bool:
    """Whether this attempt (its number, in its phase) still owns the job's row."""
    with session_scope(runtime.current().settings.effective_database_url) as session:
        job = session.get(Job, attempt.job_id)
        return job is not None and job.attempts == attempt.number and job.status == attempt.phase


def run_attempt(attempt: Attempt, work: Work, body: Callable[[], str]) -> str:
    """Run the attempt's work; however it ends, record that. Returns the job's status
    as this attempt leaves it (or ``superseded`` when a newer attempt owns the job)."""
    try:
        return body()
    except JobCancelled:
        return _abandon(attempt)
    except WorkerStopping:
        log.info("worker stopping: job %s goes back to the queue", attempt.job_id)
        _remove_outputs(attempt)
        lifecycle = runtime.current().lifecycle
        with_retries(lambda: lifecycle.hand_back(attempt), f"handing back job {attempt.job_id}")
        return JobStatus.queued
    except JobTimeoutException:
        limit = _timeout()
        log.warning("job %s ran past its %s s timeout", attempt.job_id, limit)
        _remove_outputs(attempt)
        _fail(attempt, JobFailed("timeout", _timed_out(work, limit)))
    except JobFailed as failure:
        _fail(attempt, failure)
    except AudioError as error:  # the input's fault, and the message says how
        _fail(attempt, JobFailed("separation_failed", str(error)))
    except ModelError as error:
        _fail(attempt, JobFailed("separation_failed", str(error)), error, level=logging.ERROR)
    except NotFound as error:
        message = f"A file this {work.noun} needs is no longer stored; submit {work.again} again."
        _fail(attempt, JobFailed("source_missing", message), error, level=logging.ERROR)
    except StorageError as error:
        unavailable = JobFailed("storage_unavailable", store_unavailable(work.again))
        _fail(attempt, unavailable, error, level=logging.ERROR)
    except Exception as error:
        message = (
            f"The {work.noun} failed because of an internal error; try again, and if it "
            "keeps failing, report it with the error reference."
        )
        _fail(attempt, JobFailed("internal_error", message), error, level=logging.ERROR)
        raise
    return JobStatus.failed


def _fail(
    attempt: Attempt,
    failure: JobFailed,
    cause: BaseException | None = None,
    level: int = logging.WARNING,
) -> None:
    """Record the failure with a message fit to show, whose error reference is the job's
    id; the log line with that job_id has the whole message, the detail and the traceback."""
    detail = f" ({failure.detail})" if failure.detail else ""
    log.log(
        level,
        "job %s failed (%s): %s%s",
        attempt.job_id,
        failure.code,
        failure.message,
        detail,
        exc_info=cause,
        extra={"error_code": failure.code},
    )
    settings = runtime.current().settings
    dirs = (settings.effective_models_dir, settings.data_dir)
    roots = [form for path in dirs for form in (path.absolute(), path.resolve())]
    shown = with_ref(public_text(failure.message, roots), attempt.job_id)
    lifecycle = runtime.current().lifecycle
    with_retries(
        lambda: lifecycle.fail(attempt, failure.code, shown),
        f"recording the end of job {attempt.job_id}",
    )


def _timeout() -> float | str:
    current = get_current_job()
    return current.timeout if current is not None and current.timeout else "?"


def _timed_out(work: Work, limit: float | str) -> str:
    return (
        f"The {work.noun} ran longer than its time limit ({limit} s for this duration and "
        "strategy) and was stopped. Try a lighter strategy or a shorter file, or ask the "
        "admin to raise STEMDECK_JOB_TIMEOUT_BASE_S / _PER_AUDIO_S."
    )


def _abandon(attempt: Attempt) -> str:
    """Stopped at a progress point: the job was cancelled (or removed), or a newer
    attempt owns it."""
    rt = runtime.current()
    with session_scope(rt.settings.effective_database_url) as session:
        job = session.get(Job, attempt.job_id)
        cancelled = job is None or job.status == JobStatus.cancelled
    if not cancelled:
        log.info(
            "job %s was taken over by a newer attempt; leaving its files alone", attempt.job_id
        )
        return "superseded"
    # The API removed the files it knew of when it cancelled the job, but this attempt
    # may have written more since (stems, metadata.json): remove them all.
    log.info("job %s was cancelled; removing its files", attempt.job_id)
    rt.storage.delete_prefix(keys.job_prefix(attempt.job_id))
    return JobStatus.cancelled


def _remove_outputs(attempt: Attempt) -> None:
    """What an unfinished attempt may have stored; the source stays for the next one.

    Only while this attempt still owns the row: a stale one must not delete the stems of
    the attempt that replaced it."""
    if not owns(attempt):
        log.info("job %s belongs to a newer attempt; leaving its files alone", attempt.job_id)
        return
    storage = runtime.current().storage
    job_id = attempt.job_id
    for prefix in (keys.stems_prefix(job_id), keys.waveforms_prefix(job_id)):
        storage.delete_prefix(prefix)
    storage.delete_prefix(keys.metadata(job_id))


class Heartbeat:
    """Marks the attempt alive every interval while it runs (a daemon thread)."""

    def __init__(self, lifecycle: JobLifecycle, attempt: Attempt, interval_s: float) -> None:
        self._lifecycle, self._attempt = lifecycle, attempt
        self._interval_s = interval_s
        self._stop = threading.Event()
        # In a copy of the job's context, so its log lines carry the job's ids too.
        self._thread = threading.Thread(
            target=contextvars.copy_context().run,
            args=(self._run,),
            name=f"heartbeat-{attempt.job_id}",
            daemon=True,
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._lifecycle.beat(self._attempt)
            except Exception as error:  # the database may be away; the next beat retries
                log.warning("heartbeat of job %s not written: %s", self._attempt.job_id, error)
