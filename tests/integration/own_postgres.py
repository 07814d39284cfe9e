"""A Postgres cluster of a test's own (initdb + pg_ctl on a free port), to stop and start.

initdb refuses to run as root, so as root the cluster belongs to the `postgres`
user (Debian's package creates it) and every command runs through runuser.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.integration.stack import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise AssertionError(f"Postgres's {name} is missing: apt-get install postgresql")
    return found[-1]


@dataclass
class OwnPostgres:
    data_dir: Path
    port: int
    as_user: list[str]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, _bin("pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "60", *args],
            check=True,
            stdout=subprocess.DEVNULL,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.data_dir / "server.log"), "start")

    def stop(self) -> None:
        self._ctl("-m", "fast", "stop")


@contextmanager
def own_postgres(start: bool = True) -> Iterator[OwnPostgres]:
    """A new cluster on a free port; ``start=False`` leaves it stopped (its port refuses)."""
    root = Path(tempfile.mkdtemp(prefix="stemdeck-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data = root / "data"
    subprocess.run(
        [*as_user, _bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    server = OwnPostgres(data, free_port(), as_user)
    if start:
        server.start()
    try:
        yield server
    finally:
        try:
            if (data / "postmaster.pid").exists():
                server.stop()
        finally:
            shutil.rmtree(root, ignore_errors=True)
