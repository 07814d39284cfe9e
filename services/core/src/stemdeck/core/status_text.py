"""`stemdeck status` in a terminal: the picture of core/system.py as plain tables."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from stemdeck.core.system import SystemStatus

MIB = 1024 * 1024


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    ]


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "-"
    return _span((now - moment).total_seconds()) + " ago"


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _mib(size: int | None) -> str:
    return "-" if size is None else f"{size / MIB:.0f} MiB"


def render_status(status: SystemStatus) -> str:
    now = status.generated_at
    lines = ["Workers"]
    workers = [
        [
            w.name + (" (stale)" if w.stale else ""),
            w.device,
            ",".join(w.queues),
            w.current_job or "idle",
            ", ".join(w.models_loaded) or "-",
            _mib(w.rss_bytes),
            str(w.jobs_done),
            _ago(w.last_heartbeat, now),
        ]
        for w in status.workers
    ]
    header = ["NAME", "DEVICE", "QUEUES", "JOB", "MODELS", "MEMORY", "DONE", "SEEN"]
    lines += _table(header, workers) if workers else ["  no worker is running"]
    queues = [[q.name, str(q.depth), _span(q.oldest_wait_s), str(q.workers)] for q in status.queues]
    lines += ["", "Queues", *_table(["QUEUE", "WAITING", "OLDEST", "WORKERS"], queues)]
    lines += ["", "Latest failures"]
    failures = [
        [f.job_id, f.strategy, f.error_code or "-", _ago(f.finished_at, now), f.error or ""]
        for f in status.failures
    ]
    header = ["JOB", "STRATEGY", "CODE", "WHEN", "REASON"]
    lines += _table(header, failures) if failures else ["  none"]
    return "\n".join(lines)
