"""A real S3-compatible server on 127.0.0.1 for tests: moto's standalone server.

It stands in for MinIO (whose binaries no registry here carries): the same S3
HTTP API, multipart uploads, ranges and presigned URLs, over a real socket.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.integration.stack import free_port

ACCESS_KEY = "stemdeck-test"
SECRET_KEY = "stemdeck-test-secret"


@dataclass
class S3Server:
    endpoint: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def running_s3_server(log: Path) -> Iterator[S3Server]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(moto), "-H", "127.0.0.1", "-p", str(port)], stdout=handle, stderr=handle
        )
    server = S3Server(f"http://127.0.0.1:{port}", process)
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise AssertionError(f"moto_server exited: {log.read_text()}")
            try:
                if httpx.get(f"{server.endpoint}/moto-api/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"moto_server did not start in 60 s: {log.read_text()}")
            time.sleep(0.1)
        yield server
    finally:
        server.stop()
