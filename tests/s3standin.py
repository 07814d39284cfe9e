"""The MinIO stand-in of scripts/rehearsal/minio, run as a real process for tests.

Unlike moto, it verifies every SigV4 signature (header and presigned, with
expiry) and enforces per-user policies, so a test against it proves that a
signature, a key or a policy is right rather than merely present.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

from tests.conftest import REPO
from tests.integration.stack import free_port, wait_for_http
from tests.s3server import S3Server

STANDIN_DIR = REPO / "scripts" / "rehearsal" / "minio"


def standin_module() -> ModuleType:
    """s3_standin.py itself (stdlib only, outside every package): its SigV4 signer."""
    spec = importlib.util.spec_from_file_location("s3_standin", STANDIN_DIR / "s3_standin.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


@contextmanager
def running_standin(
    data: Path, root_user: str, root_password: str, *, port: int | None = None
) -> Iterator[S3Server]:
    """`minio server DATA` through the shim, as the Compose service runs it, on loopback."""
    port = port or free_port()
    env = {**os.environ, "MINIO_ROOT_USER": root_user, "MINIO_ROOT_PASSWORD": root_password}
    command = [str(STANDIN_DIR / "minio"), "server", str(data)]
    command += ["--address", f"127.0.0.1:{port}", "--console-address", ":9001"]
    log = data.parent / f"{data.name}.log"
    with log.open("ab") as handle:  # appended: a restart keeps the first run's log
        process = subprocess.Popen(command, env=env, stdout=handle, stderr=handle)
    server = S3Server(f"http://127.0.0.1:{port}", process)
    try:
        wait_for_http(f"{server.endpoint}/minio/health/ready", process, log)
        yield server
    finally:
        server.stop()


def mc_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment whose `mc` is the stand-in's shim, with its own alias config."""
    path = f"{STANDIN_DIR}{os.pathsep}{os.environ['PATH']}"
    return {**os.environ, "PATH": path, "MC_CONFIG_DIR": str(home / "mc"), **extra}
