"""Adapts a model's progress callbacks to the job row: throttled, forward-only.

A write that finds the row gone (deleted), no longer running or taken over by
a newer attempt raises JobCancelled, so a cancelled job stops at its next
progress point; a worker asked to stop raises WorkerStopping there. A write
that finds the database away is skipped (the next one tries again). After each
write ``on_write`` runs (the task publishes a job-changed notice there).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError

from stemdeck.core.db import session_scope
from stemdeck.core.models import Job, utcnow
from stemdeck.core.states import JobStatus
from stemdeck.worker import shutdown

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.5


class JobCancelled(Exception):
    pass


class JobProgress:
    def __init__(
        self,
        database_url: str,
        job_id: str,
        attempt: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_write: Callable[[], None] = lambda: None,
    ) -> None:
        self._url = database_url
        self._job_id = job_id
        self._attempt = attempt
        self._clock = clock
        self._on_write = on_write
        self._progress = 0.0
        self._stage = ""
        self._last_write = float("-inf")

    @property
    def progress(self) -> float:
        return self._progress

    def update(self, stage: str, progress: float, *, force: bool = False) -> None:
        if shutdown.requested():
            raise shutdown.WorkerStopping(self._job_id)
        progress = min(1.0, max(self._progress, progress))
        stage_changed = stage != self._stage
        self._progress, self._stage = progress, stage
        now = self._clock()
        if force or stage_changed or now - self._last_write >= MIN_INTERVAL_S:
            self._last_write = now
            self._write()

    def scaled(self, start: float, end: float) -> Callable[[str, float], None]:
        """A callback mapping a sub-task's 0–1 onto [start, end] of the job."""
        return lambda stage, fraction: self.update(stage, start + (end - start) * fraction)

    def _write(self) -> None:
        this_attempt = () if self._attempt is None else (Job.attempts == self._attempt,)
        try:
            with session_scope(self._url) as session:
                result = session.execute(
                    update(Job)
                    .where(Job.id == self._job_id, Job.status == JobStatus.running, *this_attempt)
                    .values(progress=self._progress, stage=self._stage[:80], updated_at=utcnow())
                )
        except (OperationalError, InterfaceError) as error:
            log.warning("progress of job %s not written: %s", self._job_id, error.orig)
            return
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise JobCancelled(self._job_id)
        self._on_write()
