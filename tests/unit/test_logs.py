"""Log lines: the format STEMDECK_LOG_FORMAT chooses, what a JSON line holds, and the
job.<transition> events (the real processes' lines: tests/integration/test_logs_and_traces.py)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from structlog.contextvars import bound_contextvars

from stemdeck.core.lifecycle import JobChange, Transition
from stemdeck.core.logs import configure_logging, log_job_change
from stemdeck.core.settings import Settings, SettingsError, load_settings
from stemdeck.core.states import JobStatus


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def logged() -> Iterator[Callable[..., io.StringIO]]:
    """Configure this process's logging to a stream; the root logger is restored after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level

    def configure(stream: io.StringIO | None = None, **settings: Any) -> io.StringIO:
        out = stream if stream is not None else io.StringIO()
        configure_logging(Settings(_env_file=None, **settings), out)
        return out

    yield configure
    root.handlers[:], level = saved
    root.setLevel(level)
    logging.captureWarnings(False)


def lines_of(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_auto_writes_json_where_stderr_is_no_terminal(logged: Callable[..., io.StringIO]) -> None:
    out = logged()
    with bound_contextvars(request_id="abc123"):
        logging.getLogger("stemdeck.test").info("stored %d files", 3, extra={"job_id": "j1"})

    (line,) = lines_of(out)
    assert line["event"] == "stored 3 files"
    assert (line["level"], line["logger"]) == ("info", "stemdeck.test")
    assert (line["request_id"], line["job_id"]) == ("abc123", "j1")
    assert line["timestamp"].endswith("Z")


def test_auto_writes_readable_lines_in_a_terminal(logged: Callable[..., io.StringIO]) -> None:
    out = logged(Terminal())
    logging.getLogger("stemdeck.test").warning("disk %s", "full", extra={"job_id": "j1"})

    text = out.getvalue()
    assert "disk full" in text and "job_id" in text and "j1" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.parametrize(
    ("fmt", "stream", "as_json"), [("json", Terminal(), True), ("console", io.StringIO(), False)]
)
def test_the_setting_overrides_the_guess(
    logged: Callable[..., io.StringIO], fmt: str, stream: io.StringIO, as_json: bool
) -> None:
    out = logged(stream, log_format=fmt)
    logging.getLogger("stemdeck.test").info("hello")
    first = out.getvalue().splitlines()[0]
    assert first.startswith("{") is as_json, first


def test_a_traceback_stays_inside_its_json_line(logged: Callable[..., io.StringIO]) -> None:
    out = logged(log_format="json")
    try:
        raise RuntimeError("cannot open /srv/secret.db")
    except RuntimeError:
        logging.getLogger("stemdeck.test").exception("request failed")

    (line,) = lines_of(out)
    assert line["event"] == "request failed" and line["level"] == "error"
    assert "Traceback" in line["exception"] and "secret.db" in line["exception"]


def test_the_level_setting_filters(logged: Callable[..., io.StringIO]) -> None:
    out = logged(log_format="json", log_level="warning")
    logging.getLogger("stemdeck.test").info("quiet")
    logging.getLogger("stemdeck.test").warning("loud")
    assert [line["event"] for line in lines_of(out)] == ["loud"]


def test_a_job_change_is_an_event_of_its_own(logged: Callable[..., io.StringIO]) -> None:
    out = logged(log_format="json", log_level="debug")
    log_job_change(JobChange("j1", Transition.claim_separation, JobStatus.running, "htdemucs", 1))
    log_job_change(JobChange("j1", Transition.progress, JobStatus.running, "htdemucs", 1))
    log_job_change(
        JobChange("j1", Transition.fail, JobStatus.failed, "htdemucs", 1, "separation_failed")
    )

    claim, progress, fail = lines_of(out)
    assert claim == claim | {
        "event": "job.claim_separation",
        "level": "info",
        "logger": "stemdeck.jobs",
        "job_id": "j1",
        "status": "running",
        "strategy": "htdemucs",
        "attempt": 1,
        "error_code": None,
    }
    assert (progress["event"], progress["level"]) == ("job.progress", "debug")
    assert (fail["event"], fail["level"], fail["error_code"]) == (
        "job.fail",
        "warning",
        "separation_failed",
    )


def test_an_unknown_log_format_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STEMDECK_LOG_FORMAT", "xml")
    with pytest.raises(SettingsError, match="STEMDECK_LOG_FORMAT") as caught:
        load_settings()
    assert "json" in str(caught.value) and "console" in str(caught.value)
