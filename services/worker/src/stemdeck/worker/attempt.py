"""One attempt at a job, as the worker sees its row.

Each claim bumps ``attempts`` and sets the phase (``fetching`` for a download,
``running`` for a separation); every later write names both, so a worker the
reconciler gave up on (paused, partitioned, not dead) cannot overwrite the row
of the attempt that replaced it, in its phase or the next one (a download's
attempts are counted apart from the separation's, so the numbers alone repeat).
A heartbeat thread tells the reconciler the attempt is alive. Writes that end
an attempt are retried while the database is briefly away.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import TypeVar

from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError

from stemdeck.core.db import session_scope
from stemdeck.core.models import Job, utcnow
from stemdeck.core.states import JobStatus, Stage

log = logging.getLogger(__name__)

T = TypeVar("T")
# How long a worker keeps trying to record an attempt's end while the database is down.
WRITE_RETRY_S = 120.0
WRITE_RETRY_PAUSE_S = 1.0


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


def claim(url: str, job_id: str, status: JobStatus, stage: str) -> int | None:
    """Move a queued job to ``status`` as a new attempt; its number, or None if not queued."""

    def run() -> int | None:
        with session_scope(url) as session:
            job = session.get(Job, job_id, with_for_update=True)
            if job is None or job.status != JobStatus.queued:
                log.info("job %s is gone or not queued (%s); skipping", job_id, job and job.status)
                return None
            now = utcnow()
            job.status = status
            job.stage = stage
            job.progress = 0.0
            job.attempts += 1
            job.started_at = now
            job.heartbeat_at = now
            job.error = job.error_code = None
            return job.attempts

    return with_retries(run, f"claiming job {job_id}")


def store_unavailable(error: Exception, again: str) -> str:
    """What a job says when the file store failed it; ``again``: what to submit again."""
    return (
        f"The file store could not be used ({error}). Check that it is running and "
        f"reachable (GET /ready), then submit {again} again."
    )


def owns(url: str, job_id: str, attempt: int, phase: JobStatus) -> bool:
    """Whether this attempt (its number, in its phase) still owns the job's row."""
    with session_scope(url) as session:
        job = session.get(Job, job_id)
        return job is not None and job.attempts == attempt and job.status == phase


def finish(
    url: str,
    job_id: str,
    attempt: int,
    status: JobStatus,
    *,
    phase: JobStatus,
    code: str | None,
    message: str,
) -> bool:
    """End the attempt as failed/queued; False when the row is gone or a newer attempt owns it."""

    def run() -> bool:
        values: dict[str, object] = {"status": status, "heartbeat_at": None}
        if status == JobStatus.queued:
            # Handed back (worker shutdown): this attempt does not count.
            values.update(stage=Stage.waiting, progress=0.0, attempts=attempt - 1)
        else:
            values.update(error=message, error_code=code, finished_at=utcnow())
        with session_scope(url) as session:
            result = session.execute(
                update(Job)
                .where(Job.id == job_id, Job.attempts == attempt, Job.status == phase)
                .values(**values)
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    return with_retries(run, f"recording the end of job {job_id}")


class Heartbeat:
    """Writes ``heartbeat_at`` every interval while the attempt runs (a daemon thread)."""

    def __init__(
        self, url: str, job_id: str, attempt: int, phase: JobStatus, interval_s: float
    ) -> None:
        self._url, self._job_id, self._attempt, self._phase = url, job_id, attempt, phase
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{job_id}", daemon=True)

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
                with session_scope(self._url) as session:
                    session.execute(
                        update(Job)
                        .where(
                            Job.id == self._job_id,
                            Job.attempts == self._attempt,
                            Job.status == self._phase,
                        )
                        .values(heartbeat_at=utcnow())
                    )
            except Exception as error:  # the database may be away; the next beat retries
                log.warning("heartbeat of job %s not written: %s", self._job_id, error)
