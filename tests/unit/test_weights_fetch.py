"""Fetching and checking weights, from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import itertools
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stemdeck.core.catalog import ModelSpec, WeightFile
from stemdeck.core.settings import SettingsError, load_settings
from stemdeck.core.weights import (
    DownloadProgress,
    WeightsRejected,
    WeightsUnavailable,
    fetch_missing,
    missing_files,
    verify_present,
)

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: more than one copy chunk
BIG = PAYLOAD * 8  # eight chunks of 1 MiB

PINNED = hashlib.sha256(PAYLOAD).hexdigest()
BIG_PINNED = hashlib.sha256(BIG).hexdigest()
MIB = 1 << 20
REQUESTS: list[str] = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        REQUESTS.append(self.path)
        if self.path in ("/weights.th", "/fam/weights.th"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        elif self.path == "/big.th":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BIG)))
            self.end_headers()
            self.wfile.write(BIG)
        elif self.path == "/cut-short.th":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD[:1000])
            self.close_connection = True
        else:
            self.send_error(404)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    REQUESTS.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def spec(*weights: WeightFile) -> ModelSpec:
    return ModelSpec(id="test:model", label="t", slots=("a",), cost=1.0, weights=weights)


def test_absent_files_are_downloaded_into_place_and_checked(server: str, tmp_path: Path) -> None:
    model = spec(WeightFile("fam/weights.th", f"{server}/weights.th", PINNED))
    assert missing_files(model, tmp_path) == [tmp_path / "fam/weights.th"]
    assert fetch_missing(model, tmp_path) == [tmp_path / "fam/weights.th"]
    assert (tmp_path / "fam/weights.th").read_bytes() == PAYLOAD
    assert missing_files(model, tmp_path) == []
    assert fetch_missing(model, tmp_path) == []  # present files are not fetched again
    verify_present(model, tmp_path)


def test_a_mirror_serves_each_file_under_its_path_in_the_models_dir(
    server: str, tmp_path: Path
) -> None:
    model = spec(WeightFile("fam/weights.th", "https://upstream.invalid/w.th", PINNED))
    assert fetch_missing(model, tmp_path, mirror=f"{server}/") == [tmp_path / "fam/weights.th"]
    assert REQUESTS == ["/fam/weights.th"]


def test_a_download_reports_its_progress_every_few_seconds_not_every_chunk(
    server: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """GIVEN a clock that moves 2 s at each look, reports due every 5 s, WHEN eight chunks
    arrive THEN progress is reported at the start, when 5 s have passed, and at the end:
    the log and the callback alike, bytes of total."""
    seconds = itertools.count(2, 2)
    heard: list[DownloadProgress] = []
    model = spec(WeightFile("fam/big.th", f"{server}/big.th", BIG_PINNED))
    with caplog.at_level(logging.INFO, logger="stemdeck.core.weights"):
        fetch_missing(model, tmp_path, on_progress=heard.append, clock=lambda: next(seconds))
    assert [report.done_bytes for report in heard] == [0, 3 * MIB, 6 * MIB, 8 * MIB]
    assert {(report.total_bytes, report.model_id, report.path) for report in heard} == {
        (8 * MIB, "test:model", "fam/big.th")
    }
    assert [report.fraction for report in heard] == [0.0, 0.375, 0.75, 1.0]
    assert [record.getMessage() for record in caplog.records] == [
        "downloading fam/big.th for test:model: 0.0 of 8.0 MiB (0%)",
        "downloading fam/big.th for test:model: 3.0 of 8.0 MiB (37%)",
        "downloading fam/big.th for test:model: 6.0 of 8.0 MiB (75%)",
        "downloading fam/big.th for test:model: 8.0 of 8.0 MiB (100%)",
    ]
    assert (tmp_path / "fam/big.th").read_bytes() == BIG


def test_a_models_fraction_spans_all_its_files(server: str, tmp_path: Path) -> None:
    heard: list[DownloadProgress] = []
    model = spec(
        WeightFile("fam/one.th", f"{server}/weights.th", PINNED),
        WeightFile("fam/two.th", f"{server}/big.th", BIG_PINNED),
    )
    # A clock that stands still: each file is reported at its start and its end only.
    fetch_missing(model, tmp_path, on_progress=heard.append, clock=lambda: 0.0)
    assert [(r.path, r.done_bytes, r.fraction) for r in heard] == [
        ("fam/one.th", 0, 0.0),
        ("fam/one.th", MIB, 0.5),
        ("fam/two.th", 0, 0.5),
        ("fam/two.th", 8 * MIB, 1.0),
    ]


def test_a_callback_that_raises_stops_the_download_leaving_nothing(
    server: str, tmp_path: Path
) -> None:
    """The worker's callback raises when the job is cancelled: the transfer stops there."""

    class Cancelled(Exception):
        pass

    def cancel(report: DownloadProgress) -> None:
        if report.done_bytes:
            raise Cancelled

    model = spec(WeightFile("fam/big.th", f"{server}/big.th", BIG_PINNED))
    with pytest.raises(Cancelled):
        fetch_missing(model, tmp_path, on_progress=cancel, clock=itertools.count(0, 10).__next__)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/nope.th", "404"), ("/cut-short.th", "cut short")],
)
def test_a_failed_download_names_the_file_and_leaves_nothing(
    server: str, tmp_path: Path, path: str, reason: str
) -> None:
    model = spec(WeightFile("fam/w.th", f"{server}{path}", PINNED))
    with pytest.raises(WeightsUnavailable) as caught:
        fetch_missing(model, tmp_path)
    message = str(caught.value)
    assert "fam/w.th" in message and f"{server}{path}" in message and reason in message
    assert str(tmp_path) not in message
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_download_that_does_not_match_its_pin_is_discarded(server: str, tmp_path: Path) -> None:
    model = spec(WeightFile("fam/w.th", f"{server}/weights.th", "0" * 64))
    with pytest.raises(WeightsUnavailable, match="does not match the SHA-256 Stemdeck pins"):
        fetch_missing(model, tmp_path)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_a_file_without_a_pin_is_never_downloaded(server: str, tmp_path: Path) -> None:
    model = spec(WeightFile("fam/w.th", f"{server}/weights.th"))
    with pytest.raises(WeightsUnavailable, match="knows no SHA-256") as caught:
        fetch_missing(model, tmp_path)
    assert f"{server}/weights.th" in str(caught.value)
    assert REQUESTS == [] and not any(tmp_path.rglob("*"))


def test_a_present_file_that_does_not_match_its_pin_is_rejected_saying_what_to_do(
    tmp_path: Path,
) -> None:
    model = spec(WeightFile("fam/w.th", "https://upstream.invalid/w.th", PINNED))
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam/w.th").write_bytes(PAYLOAD[:-1] + b"!")
    with pytest.raises(WeightsRejected) as caught:
        verify_present(model, tmp_path)
    message = str(caught.value)
    assert "fam/w.th" in message and "Run `stemdeck models`, which replaces it" in message
    assert str(tmp_path) not in message


def test_an_unreachable_server_and_a_file_without_a_source(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="failed"):
        fetch_missing(spec(WeightFile("w.th", "http://127.0.0.1:1/w.th", PINNED)), tmp_path)
    with pytest.raises(WeightsUnavailable, match="no download source: put the file there"):
        fetch_missing(spec(WeightFile("w.th")), tmp_path)
    with pytest.raises(WeightsUnavailable, match="unsupported URL scheme"):
        fetch_missing(spec(WeightFile("w.th", "file:///etc/passwd", PINNED)), tmp_path)


@pytest.mark.parametrize(
    "value",
    ["ftp://mirror.example/models", "mirror.example/models", "https://mirror.example/m?v=1"],
)
def test_a_mirror_that_is_not_an_http_url_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("STEMDECK_MODEL_MIRROR", value)
    with pytest.raises(SettingsError, match="STEMDECK_MODEL_MIRROR"):
        load_settings()
    monkeypatch.setenv("STEMDECK_MODEL_MIRROR", "https://mirror.example/models/")
    assert load_settings().model_mirror == "https://mirror.example/models"
