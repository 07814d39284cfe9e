"""Fetching weights from a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stemdeck.core.catalog import ModelSpec, WeightFile
from stemdeck.core.weights import WeightsUnavailable, fetch_missing, missing_files

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB: more than one copy chunk


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/weights.th":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
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
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def spec(*weights: WeightFile) -> ModelSpec:
    return ModelSpec(id="test:model", label="t", slots=("a",), cost=1.0, weights=weights)


def test_absent_files_are_downloaded_into_place(server: str, tmp_path: Path) -> None:
    model = spec(WeightFile("fam/weights.th", f"{server}/weights.th"))
    assert missing_files(model, tmp_path) == [tmp_path / "fam/weights.th"]
    assert fetch_missing(model, tmp_path) == [tmp_path / "fam/weights.th"]
    assert (tmp_path / "fam/weights.th").read_bytes() == PAYLOAD
    assert missing_files(model, tmp_path) == []
    assert fetch_missing(model, tmp_path) == []  # present files are not fetched again


@pytest.mark.parametrize(
    ("path", "reason"),
    [("/nope.th", "404"), ("/cut-short.th", "cut short")],
)
def test_a_failed_download_names_the_file_and_leaves_nothing(
    server: str, tmp_path: Path, path: str, reason: str
) -> None:
    model = spec(WeightFile("fam/w.th", f"{server}{path}"))
    with pytest.raises(WeightsUnavailable) as caught:
        fetch_missing(model, tmp_path)
    message = str(caught.value)
    assert (
        str(tmp_path / "fam/w.th") in message and f"{server}{path}" in message and reason in message
    )
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_an_unreachable_server_and_a_file_without_a_source(tmp_path: Path) -> None:
    with pytest.raises(WeightsUnavailable, match="failed"):
        fetch_missing(spec(WeightFile("w.th", "http://127.0.0.1:1/w.th")), tmp_path)
    with pytest.raises(WeightsUnavailable, match="no download source: put the file there"):
        fetch_missing(spec(WeightFile("w.th")), tmp_path)
    with pytest.raises(WeightsUnavailable, match="unsupported URL scheme"):
        fetch_missing(spec(WeightFile("w.th", "file:///etc/passwd")), tmp_path)
