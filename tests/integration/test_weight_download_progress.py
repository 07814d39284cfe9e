"""A first job that downloads its model's weights shows the download on its stage, and
the worker's log shows bytes of total: a real worker, a real HTTP server on 127.0.0.1
that stops halfway through the file until the test has seen the job's stage."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stemdeck.core import weights
from stemdeck.core.catalog import CATALOG, WeightFile
from stemdeck.core.settings import Settings
from tests.integration.factories import load, queued_job, work

HALF = bytes(range(256)) * 4096  # 1 MiB, one read of the download loop
PAYLOAD = HALF * 2
PATH = "test/center.th"
HALFWAY = "downloading builtin:center weights 50%"


class HalfThenWait(BaseHTTPRequestHandler):
    """Sends half the file, then the rest once ``go_on`` is set (or 60 s have passed)."""

    go_on = threading.Event()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD)))
        self.end_headers()
        self.wfile.write(HALF)
        self.wfile.flush()
        HalfThenWait.go_on.wait(timeout=60)
        self.wfile.write(PAYLOAD[len(HALF) :])

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def weights_server() -> Iterator[str]:
    HalfThenWait.go_on.clear()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), HalfThenWait)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    HalfThenWait.go_on.set()
    httpd.shutdown()
    httpd.server_close()


def watch_stages(settings: Settings, job_id: str, seen: list[str]) -> threading.Thread:
    """Reads the job's row until it shows the download halfway, then lets the server go on."""

    def watch() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not HalfThenWait.go_on.is_set():
            job = load(settings, job_id)
            label = f"{job.stage}: {job.stage_detail}"
            if not seen or seen[-1] != label:
                seen.append(label)
            if job.stage_detail == HALFWAY:
                break
            time.sleep(0.02)
        HalfThenWait.go_on.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_first_job_shows_its_weight_download_on_the_stage_and_in_the_log(
    make_settings: Callable[..., Settings],
    shared_audio: Path,
    weights_server: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """GIVEN a model whose weights are not there yet and download from a mirror, WHEN a
    job needs it THEN while the file is half fetched the job's stage reads "separating:
    downloading builtin:center weights 50%", the log says "1.0 of 2.0 MiB (50%)", and the
    job then completes with the file in place."""
    pinned = WeightFile(
        PATH, "https://upstream.invalid/center.th", hashlib.sha256(PAYLOAD).hexdigest()
    )
    spec = dataclasses.replace(CATALOG["builtin:center"], weights=(pinned,))
    monkeypatch.setitem(CATALOG, spec.id, spec)
    # Every read of the download is reported: the wait is the server's, not a clock's.
    monkeypatch.setattr(weights, "REPORT_EVERY_S", 0.0)
    settings = make_settings(model_downloads=True, model_mirror=weights_server)
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    job_id = queued_job(settings, song, "center-sides")
    seen: list[str] = []
    watcher = watch_stages(settings, job_id, seen)

    with caplog.at_level(logging.INFO, logger="stemdeck.core.weights"):
        work(settings)
    watcher.join(timeout=5)

    assert f"separating: {HALFWAY}" in seen, seen
    logged = [r.getMessage() for r in caplog.records if r.name == "stemdeck.core.weights"]
    assert f"downloading {PATH} for builtin:center: 1.0 of 2.0 MiB (50%)" in logged, logged
    assert logged[-1] == f"downloading {PATH} for builtin:center: 2.0 of 2.0 MiB (100%)"
    job = load(settings, job_id)
    assert job.status == "completed", job.error
    assert (settings.effective_models_dir / PATH).read_bytes() == PAYLOAD
