"""`stemdeck remote` end to end, as a user runs it: a real process against `stemdeck up`
(API, worker, embedded Redis, SQLite) with accounts and a real API token."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
import soundfile as sf

from tests.integration.test_up import SHORT_SONG, Up, stemdeck_up

pytestmark = pytest.mark.slow

ADMIN = "ada@example.com"
FAST_STRATEGY = "four-stems-dsp"  # builtin DSP: no weights, seconds per song
STEMS = ["vocals", "drums", "bass", "other"]


@dataclass
class Server:
    up: Up
    token: str


def stemdeck(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stemdeck.core.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `stemdeck up` with accounts for the module, and a token made with
    `stemdeck tokens create` on its database."""
    root = tmp_path_factory.mktemp("remote-up")
    with stemdeck_up(
        root / "data",
        root / "up.log",
        STEMDECK_AUTH="accounts",
        STEMDECK_ADMIN_EMAIL=ADMIN,
        STEMDECK_ADMIN_PASSWORD="ada's long password",
        # The failing job below fetches a missing file from this very server.
        STEMDECK_INGEST_ALLOW_LOOPBACK="true",
    ) as up:
        env = clean_env(STEMDECK_DATA_DIR=str(root / "data"))
        scopes = ("--scope", "jobs:read", "--scope", "jobs:write")
        made = stemdeck("tokens", "create", ADMIN, *scopes, "--name", "remote", env=env)
        assert made.returncode == 0, made.stderr
        yield Server(up, made.stdout.strip())


def clean_env(**extra: str) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
    return environment | {"PYTHONUNBUFFERED": "1"} | extra


@pytest.fixture
def user_env(tmp_path: Path) -> dict[str, str]:
    """A user's shell: no STEMDECK_* settings, a config dir of its own."""
    return clean_env(XDG_CONFIG_HOME=str(tmp_path / "config"))


def cut(source: Path, path: Path, seconds: int) -> Path:
    audio, rate = sf.read(source, frames=seconds * 44100)
    sf.write(path, audio, rate)
    return path


@pytest.fixture
def excerpt(shared_audio: Path, tmp_path: Path) -> Path:
    """Five seconds of a real song, as a FLAC file with a space in its name."""
    return cut(shared_audio / SHORT_SONG / "mixture.wav", tmp_path / "Falcon excerpt.flac", 5)


@pytest.fixture
def second(shared_audio: Path, tmp_path: Path) -> Path:
    song = shared_audio / "Music_Delta__80s_Rock" / "mixture.wav"
    return cut(song, tmp_path / "Rock take.wav", 4)


def remote(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return stemdeck("remote", *args, env=env)


def test_login_then_submit_wait_out_downloads_stems_that_decode(
    server: Server, user_env: dict[str, str], excerpt: Path, second: Path, tmp_path: Path
) -> None:
    """GIVEN a token saved by `login` WHEN two files are submitted with --wait --out THEN
    each job's stems are in DIR/<title>/ and decode; status, list, download and delete
    work on a job afterwards without --server or --token."""
    login = remote(user_env, "login", "--server", server.up.base_url, "--token", server.token)
    assert login.returncode == 0, login.stderr
    saved = tmp_path / "config" / "stemdeck" / "remote.json"
    assert f"Logged in to {server.up.base_url} as {ADMIN}; saved in {saved}" in login.stdout
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text()) == {"server": server.up.base_url, "token": server.token}

    out = tmp_path / "stems"
    inputs = (str(excerpt), str(second))
    submitted = remote(
        user_env, "submit", *inputs, "--strategy", FAST_STRATEGY, "--wait", "--out", str(out)
    )
    assert submitted.returncode == 0, submitted.stderr
    lines = [line.split("\t") for line in submitted.stdout.splitlines()]
    assert [sent for _, sent in lines] == list(inputs)
    job_id = lines[0][0]
    assert sorted(path.name for path in out.iterdir()) == ["Falcon excerpt", "Rock take"]
    for folder, seconds in ((out / "Falcon excerpt", 5), (out / "Rock take", 4)):
        assert sorted(path.name for path in folder.iterdir()) == sorted(
            f"{folder.name} - {stem}.flac" for stem in STEMS
        )
        for path in folder.iterdir():
            audio, rate = sf.read(path)
            assert rate == 44100 and audio.shape[0] > (seconds - 1) * rate

    status = remote(user_env, "status", job_id)
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"{job_id}  completed\n")
    assert "  stems:     vocals, drums, bass, other" in status.stdout
    raw = json.loads(remote(user_env, "status", job_id, "--json").stdout)
    assert (raw["id"], raw["strategy"]) == (job_id, FAST_STRATEGY)
    listed = remote(user_env, "list", "--limit", "5")
    assert f"{job_id}\tcompleted\t100%\t" in listed.stdout
    again = remote(user_env, "download", job_id, "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert again.stdout == f"{tmp_path / 'again' / 'Falcon excerpt'}\n"
    assert len(list((tmp_path / "again" / "Falcon excerpt").glob("*.flac"))) == len(STEMS)

    assert remote(user_env, "delete", job_id).stdout == f"deleted {job_id}\n"
    gone = remote(user_env, "status", job_id)
    assert gone.returncode == 1
    assert f"No job with id '{job_id}'" in gone.stderr


def test_a_failing_job_exits_1_with_the_server_s_message(
    server: Server, user_env: dict[str, str]
) -> None:
    """GIVEN a URL the worker gets a 404 for WHEN it is submitted with --wait THEN the
    command exits 1 with the job's error as the server words it."""
    env = user_env | {"STEMDECK_SERVER": server.up.base_url, "STEMDECK_TOKEN": server.token}
    missing = f"{server.up.base_url}/no-such-song.mp3"
    result = remote(env, "submit", missing, "--strategy", FAST_STRATEGY, "--wait")
    assert result.returncode == 1, result.stdout + result.stderr
    job_id = result.stdout.split("\t")[0]
    headers = {"Authorization": f"Bearer {server.token}"}
    job = httpx.get(f"{server.up.base_url}/api/jobs/{job_id}", headers=headers, timeout=10).json()
    assert job["status"] == "failed" and job["error"]
    message = " ".join(result.stderr.split())
    assert f"Job {job_id} (no-such-song) failed: {job['error']} ({job['error_code']})" in message


def test_bad_setups_exit_2_saying_what_to_do(
    server: Server, user_env: dict[str, str], excerpt: Path, tmp_path: Path
) -> None:
    no_server = remote(user_env, "list")
    assert no_server.returncode == 2
    assert "No server configured" in no_server.stderr

    wrong = "sdk_" + "x" * 43
    refused = remote(user_env, "login", "--server", server.up.base_url, "--token", wrong)
    assert refused.returncode == 2
    assert "This API token is not valid" in refused.stderr
    assert "stemdeck tokens create" in refused.stderr
    assert not (tmp_path / "config" / "stemdeck" / "remote.json").exists()

    with_token = ("--server", server.up.base_url, "--token", server.token)
    unknown = remote(user_env, *with_token, "submit", str(excerpt), "--strategy", "nope")
    assert unknown.returncode == 1
    assert "Unknown strategy 'nope'. Choose one of:" in unknown.stderr
    assert unknown.stdout == ""


@dataclass
class Forwarded:
    keys: list[str | None] = field(default_factory=list)
    answers: list[httpx.Response] = field(default_factory=list)


@contextmanager
def losing_first_answer(upstream: str) -> Iterator[tuple[str, Forwarded]]:
    """A proxy on 127.0.0.1 that hands each request to ``upstream``, but drops the
    connection instead of passing on the first POST's answer: the job exists, and the
    client never heard so (a timeout, a proxy restarting)."""
    forwarded = Forwarded()

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            skip = {"host", "content-length", "connection"}
            headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
            answer = httpx.request(
                self.command, upstream + self.path, headers=headers, content=body, timeout=60
            )
            forwarded.keys.append(self.headers.get("Idempotency-Key"))
            forwarded.answers.append(answer)
            if self.command == "POST" and len(forwarded.answers) == 1:
                self.close_connection = True
                return
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in {"content-length", "content-encoding", "connection"}:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        def do_GET(self) -> None:
            self.do_POST()

        def log_message(self, *_: object) -> None:
            pass

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}", forwarded
    finally:
        proxy.shutdown()
        proxy.server_close()


def test_a_retry_after_a_lost_answer_makes_no_second_job(
    server: Server, user_env: dict[str, str], shared_audio: Path, tmp_path: Path
) -> None:
    """GIVEN a proxy that loses the answer to the first upload, after the server made the
    job WHEN `submit` retries THEN its Idempotency-Key gets the server's replay of that
    job, and the server holds one job for the upload, the one printed."""
    song = cut(shared_audio / SHORT_SONG / "mixture.wav", tmp_path / "Once only.flac", 3)
    with losing_first_answer(server.up.base_url) as (proxy, forwarded):
        env = user_env | {"STEMDECK_SERVER": proxy, "STEMDECK_TOKEN": server.token}
        result = remote(env, "submit", str(song), "--strategy", FAST_STRATEGY)

    assert result.returncode == 0, result.stderr
    job_id = result.stdout.split("\t")[0]
    first, retry = forwarded.answers
    assert forwarded.keys[0] and forwarded.keys == [forwarded.keys[0]] * 2
    assert (first.status_code, first.json()["id"]) == (202, job_id)
    assert (retry.status_code, retry.headers["Idempotent-Replayed"]) == (200, "true")
    headers = {"Authorization": f"Bearer {server.token}"}
    page = httpx.get(f"{server.up.base_url}/api/jobs?limit=100", headers=headers, timeout=10)
    mine = [job["id"] for job in page.json()["data"] if job["source"]["name"] == song.name]
    assert mine == [job_id]
