"""`stemdeck remote` against a server on 127.0.0.1 that misbehaves on cue (drops a
connection, answers 503, cuts an event stream): retries keep their Idempotency-Key, and
streams reconnect or fall back to polling. Also its configuration, and what it imports.
The end-to-end tests against a real server are in tests/integration/test_remote_cli.py."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import Progress
from typer.testing import CliRunner

from stemdeck.remote import cli, config
from stemdeck.remote.client import Client, Job, Retries
from stemdeck.remote.config import Remote
from stemdeck.remote.download import unpack
from stemdeck.remote.errors import RemoteError
from stemdeck.remote.follow import follow
from stemdeck.remote.submit import Options, from_url, upload

Answer = Callable[[BaseHTTPRequestHandler], None]
FAST = Retries(attempts=4, first_wait_s=0.01)
NO_OPTIONS = Options(None, None, None)


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    """The answers of each "METHOD /path", in turn; the last one repeats."""

    answers: dict[str, list[Answer]]
    seen: list[Seen] = field(default_factory=list)

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        route = f"{handler.command} {handler.path.split('?')[0]}"
        self.seen.append(Seen(handler.command, handler.path, dict(handler.headers), body))
        queue = self.answers.get(route) or [json_answer(404, error("not_found", route))]
        (queue.pop(0) if len(queue) > 1 else queue[0])(handler)

    def of(self, route: str) -> list[Seen]:
        method, path = route.split(" ")
        return [s for s in self.seen if s.method == method and s.path.split("?")[0] == path]


@contextmanager
def scripted(answers: dict[str, list[Answer]]) -> Iterator[tuple[str, Script]]:
    script = Script(answers)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            script.answer(self)

        def do_POST(self) -> None:
            script.answer(self)

        def do_DELETE(self) -> None:
            script.answer(self)

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def job(status: str = "queued", **fields: Any) -> dict[str, Any]:
    return {
        "id": "j1",
        "status": status,
        "stage": status,
        "progress": 1.0 if status == "completed" else 0.25,
        "error": None,
        "error_code": None,
        "source": {"name": "song.flac", "title": None},
        "strategy": "four-stems-dsp",
        "formats": ["flac"],
        "stems": [],
        "zip_url": None,
        "created_at": "2026-01-01T00:00:00Z",
    } | fields


def json_answer(status: int, body: Any) -> Answer:
    def write(handler: BaseHTTPRequestHandler) -> None:
        data = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return write


def drop(handler: BaseHTTPRequestHandler) -> None:
    """The connection closed with no answer, as a crash or a proxy's timeout does."""
    handler.close_connection = True


def events(*sent: tuple[str, dict[str, Any]]) -> Answer:
    """An event stream that sends these, then ends (whether or not the job has)."""

    def write(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(b": keep-alive\n\n")
        for name, data in sent:
            handler.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        handler.close_connection = True

    return write


def quiet() -> Progress:
    return Progress(console=Console(file=io.StringIO()))


def client(url: str) -> Client:
    return Client(Remote(url, "sdk_test"), FAST)


def test_an_upload_retried_after_a_dropped_connection_keeps_its_idempotency_key(
    tmp_path: Path,
) -> None:
    """GIVEN a server that drops the first upload's connection WHEN `submit FILE` runs THEN
    it sends the whole file again under the same Idempotency-Key, and prints the one job."""
    song = tmp_path / "song.flac"
    song.write_bytes(os.urandom(300_000))
    answers = {"POST /api/jobs": [drop, json_answer(202, job())]}
    with scripted(answers) as (url, script):
        result = CliRunner().invoke(cli.app, ["remote", "--server", url, "submit", str(song)])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"j1\t{song}\n"
    posts = script.of("POST /api/jobs")
    keys = [post.headers.get("Idempotency-Key") for post in posts]
    assert len(posts) == 2 and keys[0] and keys[0] == keys[1]
    assert all(song.read_bytes() in post.body for post in posts)


def test_a_url_job_retried_after_a_503_keeps_its_key_and_the_next_job_has_another() -> None:
    unavailable = json_answer(503, error("queue_unavailable", "Redis is down"))
    answers = {"POST /api/jobs": [unavailable, json_answer(202, job())]}
    with scripted(answers) as (url, script), client(url) as remote:
        first = from_url(remote, "https://example.com/a.mp3", Options("vocals", "mp3", None))
        from_url(remote, "https://example.com/b.mp3", NO_OPTIONS)

    keys = [post.headers["Idempotency-Key"] for post in script.of("POST /api/jobs")]
    assert first.id == "j1"
    assert len(keys) == 3 and keys[0] == keys[1] != keys[2]
    assert json.loads(script.seen[0].body) == {
        "url": "https://example.com/a.mp3",
        "strategy": "vocals",
        "formats": "mp3",
    }


def test_a_key_still_in_flight_is_asked_again_and_the_replay_taken() -> None:
    busy = error("idempotency_key_in_flight", "A request with this key is still being processed.")
    answers = {"POST /api/jobs": [json_answer(409, busy), json_answer(200, job())]}
    with scripted(answers) as (url, script), client(url) as remote:
        assert from_url(remote, "https://example.com/a.mp3", NO_OPTIONS).id == "j1"

    keys = {post.headers["Idempotency-Key"] for post in script.of("POST /api/jobs")}
    assert len(script.seen) == 2 and len(keys) == 1


def test_a_refusal_is_not_retried_and_keeps_the_server_s_words(tmp_path: Path) -> None:
    song = tmp_path / "song.flac"
    song.write_bytes(b"fLaC")
    reused = error("idempotency_key_reused", "This Idempotency-Key was used for another request.")
    with (
        scripted({"POST /api/jobs": [json_answer(409, reused)]}) as (url, script),
        client(url) as remote,
        pytest.raises(RemoteError) as refused,
    ):
        upload(remote, song, NO_OPTIONS, quiet())

    assert len(script.seen) == 1
    assert refused.value.message == (
        "This Idempotency-Key was used for another request. (idempotency_key_reused, HTTP 409)"
    )
    assert refused.value.exit_code == 1


def test_retries_stop_after_the_last_attempt_saying_the_server_is_unreachable() -> None:
    with (
        scripted({"POST /api/jobs": [drop]}) as (url, script),
        client(url) as remote,
        pytest.raises(RemoteError) as failed,
    ):
        from_url(remote, "https://example.com/a.mp3", NO_OPTIONS)

    assert len(script.seen) == FAST.attempts
    assert len({seen.headers["Idempotency-Key"] for seen in script.seen}) == 1
    assert f"Cannot reach the Stemdeck server at {url}" in failed.value.message


def test_a_dropped_event_stream_is_followed_again_until_the_job_ends() -> None:
    path = "GET /api/jobs/j1/events"
    answers = {path: [events(("job", job("running"))), events(("job", job("completed")))]}
    seen: list[str] = []
    with scripted(answers) as (url, script), client(url) as remote:
        final = follow(remote, "j1", lambda job: seen.append(job.status))

    assert final.status == "completed"
    assert seen == ["running", "completed"]
    assert len(script.of(path)) == 2


def test_too_many_streams_falls_back_to_polling_the_job() -> None:
    busy = error("too_many_streams", "Close a stream, or poll GET /api/jobs/{id} meanwhile.")
    answers = {
        "GET /api/jobs/j1/events": [json_answer(429, busy)],
        "GET /api/jobs/j1": [json_answer(200, job("failed", error="No audio", error_code="x"))],
    }
    with scripted(answers) as (url, _), client(url) as remote:
        final = follow(remote, "j1", lambda _: None)

    assert final.failure() == "Job j1 (song) failed: No audio (x)"


def test_a_stream_that_says_signed_out_stops_with_the_server_s_message() -> None:
    revoked = error("invalid_token", "This API token is not valid: it was revoked.")
    answers = {"GET /api/jobs/j1/events": [events(("signed_out", revoked))]}
    with (
        scripted(answers) as (url, _),
        client(url) as remote,
        pytest.raises(RemoteError) as ended,
    ):
        follow(remote, "j1", lambda _: None)

    assert ended.value.exit_code == 2
    assert "This API token is not valid: it was revoked." in ended.value.message


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli.app, ["remote", *args], env=env)


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home))
    for name in (config.SERVER_ENV, config.TOKEN_ENV):
        monkeypatch.delenv(name, raising=False)
    return home / "stemdeck" / "remote.json"


def test_a_flag_beats_the_environment_which_beats_the_saved_file(config_home: Path) -> None:
    page = json_answer(200, {"data": [job()], "count": 1, "limit": 20, "offset": 0})
    with scripted({"GET /api/jobs": [page]}) as (url, script):
        config.save(Remote(url, "sdk_file"))
        assert run("list").exit_code == 0
        assert run("list", env={"STEMDECK_TOKEN": "sdk_env"}).exit_code == 0
        with_flag = run("--token", "sdk_flag", "list", env={"STEMDECK_TOKEN": "sdk_env"})
        assert with_flag.exit_code == 0
        assert with_flag.stdout == "j1\tqueued\t25%\t2026-01-01T00:00:00\tsong\n"
        # The server from the environment (closed) beats the file's; a flag beats both.
        closed = {"STEMDECK_SERVER": "http://127.0.0.1:1"}
        unreachable = run("list", env=closed)
        assert run("--server", url, "list", env=closed).exit_code == 0

    tokens = [seen.headers["Authorization"] for seen in script.seen]
    assert tokens == ["Bearer sdk_file", "Bearer sdk_env", "Bearer sdk_flag", "Bearer sdk_file"]
    assert unreachable.exit_code == 1
    assert "Cannot reach the Stemdeck server at http://127.0.0.1:1" in unreachable.output


def test_the_saved_token_is_private_and_a_laxer_file_is_tightened(config_home: Path) -> None:
    config_home.parent.mkdir(parents=True)
    config_home.write_text("{}")
    config_home.chmod(0o644)
    assert config.save(Remote("https://stemdeck.example.com", "sdk_secret")) == config_home

    assert stat.S_IMODE(config_home.stat().st_mode) == 0o600
    assert json.loads(config_home.read_text()) == {
        "server": "https://stemdeck.example.com",
        "token": "sdk_secret",
    }
    assert run("logout").stdout == f"Removed {config_home}\n"
    assert not config_home.exists()


def test_login_asks_for_the_token_and_saves_it_once_the_server_took_it(
    config_home: Path,
) -> None:
    me = {"user": {"id": "u1", "email": "ada@example.com", "is_admin": False}}
    answers = {"GET /api/auth/me": [json_answer(200, me | {"auth": "accounts", "via": "token"})]}
    with scripted(answers) as (url, script):
        result = CliRunner().invoke(
            cli.app, ["remote", "login", "--server", url + "/"], input="sdk_typed\n"
        )

    assert result.exit_code == 0, result.output
    assert "sdk_typed" not in result.output  # asked for hidden, as a password is
    assert f"Logged in to {url} as ada@example.com; saved in {config_home}" in result.output
    assert script.seen[0].headers["Authorization"] == "Bearer sdk_typed"
    assert json.loads(config_home.read_text()) == {"server": url, "token": "sdk_typed"}


def test_a_new_config_folder_is_private(config_home: Path) -> None:
    config.save(Remote("https://stemdeck.example.com", None))
    assert stat.S_IMODE(config_home.parent.stat().st_mode) == 0o700
    assert json.loads(config_home.read_text()) == {"server": "https://stemdeck.example.com"}


def test_a_token_saved_for_another_server_is_not_sent_to_this_one(config_home: Path) -> None:
    config.save(Remote("https://one.example.com", "sdk_one"))
    assert config.resolve("https://two.example.com/", None) == Remote(
        "https://two.example.com", None
    )


@pytest.mark.parametrize(
    ("args", "saved", "message"),
    [
        (["list"], None, "No server configured: pass --server URL, set STEMDECK_SERVER"),
        (["--server", "stemdeck.example.com", "list"], None, "must be an http(s) URL"),
        (["list"], "not json", "is not what `stemdeck remote login` writes"),
        (["--server", "http://127.0.0.1:1", "submit", "missing.wav"], None, "no such file"),
    ],
)
def test_a_setup_to_fix_exits_2_saying_what_to_do(
    config_home: Path, args: list[str], saved: str | None, message: str
) -> None:
    if saved is not None:
        config_home.parent.mkdir(parents=True)
        config_home.write_text(saved)
    result = run(*args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())


def test_a_zip_entry_outside_the_folder_is_refused(tmp_path: Path) -> None:
    archive, out = tmp_path / "stems.zip", tmp_path / "out"
    out.mkdir()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("Song/Song - vocals.flac", b"audio")
        bundle.writestr("../escaped.flac", b"audio")
    with pytest.raises(RemoteError, match="outside its folder"):
        unpack(archive, out)
    assert not (tmp_path / "escaped.flac").exists()


def test_the_client_imports_no_database_torch_or_core() -> None:
    code = (
        "import sys\n"
        "import stemdeck.remote.cli, stemdeck.remote.commands\n"
        "heavy = ('sqlalchemy', 'torch', 'redis', 'fastapi', 'stemdeck.core', "
        "'stemdeck.core.db')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_job_of_reads_the_fields_it_shows() -> None:
    parsed = Job.of(job("completed", source={"name": "a/b.c.wav", "title": None}))
    assert (parsed.title, parsed.final, parsed.progress) == ("b.c", True, 1.0)
