"""Log lines for every Stemdeck process: one JSON object per line, or readable in a terminal.

Each process calls ``configure_logging`` once at start-up. Code keeps logging with the
standard library (``logging.getLogger(__name__)``), as uvicorn, RQ and Alembic do; one
handler on the root logger renders every record through structlog's ProcessorFormatter:
``timestamp``, ``level``, ``logger``, ``event`` (the message), the fields a call passes
as ``extra=`` and the context bound in contextvars. Context travels there rather than in
arguments: the API binds ``request_id`` for each request (api/request_ids.py), the worker
``job_id``, ``attempt`` and ``worker`` for each job (worker/job_context.py), so every line
written meanwhile, by any module or library, carries them.

With tracing on (core/tracing.py), a line written inside a span also carries its
``trace_id`` and ``span_id``.

``STEMDECK_LOG_FORMAT=auto`` writes console lines when stderr is a terminal (`stemdeck up`
by hand) and JSON otherwise (containers, files, log shippers).

A job's state changes are their own events (``job.claim_separation``, ``job.fail``, …),
logged by ``log_job_change``, which every process hangs on its lifecycle.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from stemdeck.core.lifecycle import JobChange, Transition
from stemdeck.core.settings import LogFormat, Settings
from stemdeck.core.tracing import add_trace_ids

# Fields some libraries pass as ``extra`` for their own formatters (uvicorn's coloured
# copy of each message): not context, and noise in a JSON line.
_FOREIGN_EXTRAS = ("color_message",)


def _drop_foreign_extras(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for key in _FOREIGN_EXTRAS:
        event.pop(key, None)
    return event


def _shared_processors() -> list[Processor]:
    """What every line gets, whether it came from the standard library or structlog."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
    ]


def wants_json(log_format: LogFormat, stream: TextIO) -> bool:
    if log_format is LogFormat.auto:
        return not stream.isatty()
    return log_format is LogFormat.json


def _renderer(as_json: bool, stream: TextIO) -> list[Processor]:
    if as_json:
        # Tracebacks become one string field, so a line stays one JSON object.
        return [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
    return [structlog.dev.ConsoleRenderer(colors=stream.isatty())]


def configure_logging(settings: Settings, stream: TextIO | None = None) -> None:
    """Route every log record of this process to ``stream`` (stderr) in the settings' format
    and level, replacing whatever handlers the root logger had."""
    out = stream or sys.stderr
    as_json = wants_json(settings.log_format, out)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            *_shared_processors(),
            structlog.stdlib.ExtraAdder(),
            _drop_foreign_extras,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_renderer(as_json, out),
        ],
    )
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # Python's warnings too, which would otherwise print lines of their own to stderr.
    logging.captureWarnings(True)
    # structlog's own loggers, should a module use them, end in the same handler.
    structlog.configure(
        processors=[*_shared_processors(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_job_log = logging.getLogger("stemdeck.jobs")
# Progress moves many times a minute; the other changes are few and worth a line each.
_LEVELS = {
    Transition.progress: logging.DEBUG,
    Transition.fail: logging.WARNING,
    Transition.give_up: logging.WARNING,
}


def log_job_change(change: JobChange) -> None:
    """A lifecycle listener: each committed change of a job is an event ``job.<transition>``."""
    _job_log.log(
        _LEVELS.get(change.transition, logging.INFO),
        "job.%s",
        change.transition.value,
        extra={
            "job_id": change.job_id,
            "status": change.status.value if change.status is not None else None,
            "strategy": change.strategy,
            "attempt": change.attempt,
            "error_code": change.error_code,
        },
    )
