"""What every log line and span of a job's work carries, set where RQ hands a job over.

``in_job_context`` wraps the RQ tasks (``separate_job``, ``ingest_job``): while one runs,
the log context (structlog's contextvars, see core/logs.py) holds ``job_id`` and
``worker`` (the RQ worker's name), and ``attempt`` once the attempt is claimed
(attempt.claim binds it). So every line logged meanwhile, by any module, says which job,
attempt and worker it is about. With tracing on, the task runs in a span that continues
the trace of whoever queued it (core/tracing.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from rq import get_current_job
from structlog.contextvars import bind_contextvars, unbind_contextvars

from stemdeck.core.tracing import continued_span


def in_job_context(task: Callable[[str], str]) -> Callable[[str], str]:
    @functools.wraps(task)
    def run(job_id: str) -> str:
        entry = get_current_job()  # None when a test calls the task itself
        worker = {"worker": entry.worker_name} if entry and entry.worker_name else {}
        bind_contextvars(job_id=job_id, **worker)
        try:
            with continued_span(task.__name__, entry.meta if entry else {}, job_id=job_id):
                return task(job_id)
        finally:
            unbind_contextvars("job_id", "worker", "attempt")

    return run
