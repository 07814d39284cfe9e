"""Adapts a model's progress callbacks to the job row: throttled, forward-only.

A write the lifecycle refuses (the job was cancelled or removed, or a newer
attempt owns it) raises JobCancelled, so a cancelled job stops at its next
progress point; a worker asked to stop raises WorkerStopping there. A write
that finds the database away is skipped (the next one tries again).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from sqlalchemy.exc import InterfaceError, OperationalError

from stemdeck.core.lifecycle import Attempt, JobLifecycle
from stemdeck.core.states import Stage
from stemdeck.worker import shutdown

log = logging.getLogger(__name__)

MIN_INTERVAL_S = 0.5


class JobCancelled(Exception):
    pass


def parse_stage(label: str) -> tuple[Stage, str | None]:
    """``"separating: demucs:htdemucs"`` → (separating, ``"demucs:htdemucs"``)."""
    stage, _, detail = label.partition(": ")
    return Stage(stage), detail or None


class JobProgress:
    def __init__(
        self,
        lifecycle: JobLifecycle,
        attempt: Attempt,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._lifecycle = lifecycle
        self._attempt = attempt
        self._clock = clock
        self._progress = 0.0
        self._stage = ""
        self._last_write = float("-inf")

    @property
    def progress(self) -> float:
        return self._progress

    def update(self, stage: str, progress: float, *, force: bool = False) -> None:
        if shutdown.requested():
            raise shutdown.WorkerStopping(self._attempt.job_id)
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
        stage, detail = parse_stage(self._stage)
        try:
            written = self._lifecycle.progress(self._attempt, stage, detail, self._progress)
        except (OperationalError, InterfaceError) as error:
            log.warning("progress of job %s not written: %s", self._attempt.job_id, error.orig)
            return
        if not written:
            raise JobCancelled(self._attempt.job_id)
