"""`stemdeck status`'s tables, from the picture GET /api/system gives."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from stemdeck.core.presence import WorkerPresence
from stemdeck.core.status_text import render_status
from stemdeck.core.system import FailureStatus, QueueStatus, SystemStatus

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def worker(name: str, **fields: object) -> WorkerPresence:
    values: dict[str, object] = {
        "name": name,
        "host": "box",
        "pid": 7,
        "device": "cpu",
        "queues": ["separate", "ingest"],
        "current_job": None,
        "current_queue": None,
        "job_started_at": None,
        "models_loaded": [],
        "models_bytes": 0,
        "rss_bytes": 300 * 1024 * 1024,
        "jobs_done": 4,
        "started_at": NOW - timedelta(hours=1),
        "last_heartbeat": NOW - timedelta(seconds=3),
        "interval_s": 5.0,
    }
    return WorkerPresence.model_validate(values | fields)


def test_the_tables_name_each_worker_queue_and_failure() -> None:
    status = SystemStatus(
        generated_at=NOW,
        workers=[
            worker("box.7", current_job="3f9c", models_loaded=["demucs:htdemucs"]),
            worker("box.8", stale=True, last_heartbeat=NOW - timedelta(minutes=5)),
        ],
        queues=[
            QueueStatus(name="separate", depth=2, oldest_wait_s=75.0, workers=1),
            QueueStatus(name="ingest", depth=0, oldest_wait_s=None, workers=1),
        ],
        failures=[
            FailureStatus(
                job_id="c02e",
                owner_id="u1",
                source_name="demo.mp3",
                strategy="htdemucs",
                error_code="timeout",
                error="It ran too long.",
                finished_at=NOW - timedelta(minutes=10),
            )
        ],
    )

    lines = render_status(status).splitlines()

    assert lines[0] == "Workers"
    assert lines[1].split() == [
        "NAME",
        "DEVICE",
        "QUEUES",
        "JOB",
        "MODELS",
        "MEMORY",
        "DONE",
        "SEEN",
    ]
    busy = "box.7 cpu separate,ingest 3f9c demucs:htdemucs 300 MiB 4 3 s ago"
    assert lines[2].split() == busy.split()
    assert lines[3].startswith("box.8 (stale)") and lines[3].endswith("5 min ago")
    assert lines[3].split()[4] == "idle"
    text = "\n".join(lines)
    assert "separate  2        75 s" in text
    assert "ingest    0        -" in text
    assert "c02e  htdemucs  timeout  10 min ago  It ran too long." in text


def test_nothing_running_says_so() -> None:
    empty = SystemStatus(generated_at=NOW, workers=[], queues=[], failures=[])
    text = render_status(empty)
    assert "no worker is running" in text
    assert text.endswith("Latest failures\n  none")
