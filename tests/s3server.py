"""A real S3-compatible server on 127.0.0.1 for tests: moto's standalone server.

It stands in for MinIO (whose binaries no registry here carries): the same S3
HTTP API, multipart uploads, ranges and presigned URLs, over a real socket.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.stack import free_port, wait_for_http

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
def _serving(command: list[str], port: int, log: Path) -> Iterator[S3Server]:
    with log.open("wb") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=handle)
    server = S3Server(f"http://127.0.0.1:{port}", process)
    try:
        wait_for_http(server.endpoint, process, log)
        yield server
    finally:
        server.stop()


@contextmanager
def running_s3_server(log: Path) -> Iterator[S3Server]:
    port = free_port()
    moto = Path(sys.executable).with_name("moto_server")
    with _serving([str(moto), "-H", "127.0.0.1", "-p", str(port)], port, log) as server:
        yield server


# s3rver (npm, tests/s3rver) enforces X-Amz-Expires, which moto does not; it is
# used only where a test needs a presigned URL to really run out.
S3RVER_KEY = "S3RVER"


@contextmanager
def running_s3rver(workdir: Path) -> Iterator[str]:
    binary = Path(__file__).parent / "s3rver" / "node_modules" / ".bin" / "s3rver"
    assert binary.exists(), "s3rver is missing: run `make test` (scripts/services.sh installs it)"
    port = free_port()
    data = workdir / "s3rver-data"
    data.mkdir(parents=True, exist_ok=True)
    command = [str(binary), "-d", str(data), "-a", "127.0.0.1", "-p", str(port)]
    with _serving([*command, "--no-vhost-buckets"], port, workdir / "s3rver.log") as server:
        yield server.endpoint
