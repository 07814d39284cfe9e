"""The whole API fuzzed from its own OpenAPI schema with Schemathesis, against a real
`stemdeck api` and `stemdeck worker`: no answer is a 5xx, every answer is as the schema
documents it (status code, content type, body), and the service is healthy afterwards.

It runs as the laptop's one user (STEMDECK_AUTH=none) and under STEMDECK_AUTH=accounts
with an API token holding every scope, so routes are exercised past their 401. A real
completed job's id, stem names and format are among the values tried for those
parameters, so the job routes get past their 404 too; the operations that cancel or
delete go last, with a second job. Every URL a generated job names is a closed port on
loopback (allowed for this stack only): no fuzzed job reaches out to the internet.

Bounded for CI: at most MAX_EXAMPLES cases per operation and phase, generated
deterministically (the same cases on every run, so a failure reproduces), one request
at a time, about a minute per mode on two cores. RUN_TIMEOUT_S is a hang guard, not a
speed target.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from stemdeck.core.accounts.api_tokens import issue_api_token
from stemdeck.core.accounts.first_admin import ensure_first_admin
from stemdeck.core.accounts.tokens import Scope
from stemdeck.core.db import session_scope
from stemdeck.core.models import User
from stemdeck.core.settings import Settings
from tests.integration.factories import ADMIN_EMAIL, ADMIN_PASSWORD, short_wav
from tests.integration.stack import FINAL, Stack, free_port, running_stack
from tests.waiting import wait_until

MAX_EXAMPLES = 15
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
# A hang guard for one Schemathesis run (a few minutes at most on two loaded cores).
RUN_TIMEOUT_S = 300

# What the stack needs so fuzzed jobs get past the door and fail fast: loopback URLs
# allowed (they all name a closed port), and no per-minute limit on new jobs, which
# would otherwise answer 429 to most of them.
STACK_ENV = {
    "STEMDECK_INGEST_ALLOW_LOOPBACK": "true",
    "STEMDECK_JOB_CREATE_PER_MINUTE_PER_USER": "0",
    "STEMDECK_JOB_CREATE_PER_MINUTE_PER_IP": "0",
}


@contextmanager
def fuzzable_stack(settings: Settings, **env: str) -> Iterator[Stack]:
    with running_stack(settings, workers=1, **STACK_ENV, **env) as stack:
        yield stack


def finished_job(stack: Stack, headers: dict[str, str], mixture: Path) -> dict[str, Any]:
    """A job uploaded as a client would, once it has completed."""
    with stack.client() as client:
        created = client.post(
            "/api/jobs",
            headers=headers,
            files={"file": ("song.wav", short_wav(mixture, 1.0), "audio/wav")},
            data={"strategy": "four-stems-dsp", "formats": "flac"},
        )
        assert created.status_code == 202, created.text
        job_url = created.json()["url"]

        def final() -> dict[str, Any] | None:
            job: dict[str, Any] = client.get(job_url, headers=headers).json()
            return job if job["status"] in FINAL else None

        job = wait_until(final, 240, f"the upload did not finish; logs in {stack.log_dir}")
    assert job["status"] == "completed", job["error"]
    return job


def registered_webhook(stack: Stack, headers: dict[str, str]) -> str:
    """A webhook endpoint's id, registered as a client would (its URL a closed port)."""
    url = f"http://127.0.0.1:{free_port()}/hook"
    with stack.client() as client:
        created = client.post("/api/webhooks", json={"url": url}, headers=headers)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def config_file(directory: Path, job: dict[str, Any], webhook_id: str) -> Path:
    """Schemathesis settings: ``job``'s id, stem names and formats, and a webhook
    endpoint's id, among the values tried (half the time for the ids, more for the rest)
    for those parameters, and a closed port as every new job's URL and callback_url, and
    every new endpoint's URL."""
    stem = job["stems"][0]["name"]
    dead_url = f"http://127.0.0.1:{free_port()}/song.wav"
    path = directory / f"schemathesis-{job['id']}.toml"
    path.write_text(
        f"""
[cache]
enabled = false

[dictionaries.jobs]
values = ["{job["id"]}"]

[dictionaries.stems]
values = ["{stem}"]

[dictionaries.formats]
values = ["flac"]

[dictionaries.waveforms]
values = ["json", "png"]

[dictionaries.urls]
values = ["{dead_url}"]

[dictionaries.webhooks]
values = ["{webhook_id}"]

[parameters]
"path.job_id" = {{ dictionary = "jobs", probability = 0.5 }}
"path.stem" = {{ dictionary = "stems", probability = 0.75 }}
"path.fmt" = {{ dictionary = "formats", probability = 0.75 }}
"path.kind" = {{ dictionary = "waveforms", probability = 0.75 }}
"path.webhook_id" = {{ dictionary = "webhooks", probability = 0.5 }}
"query.format" = {{ dictionary = "formats", probability = 0.75 }}
"body.url" = {{ dictionary = "urls", probability = 1.0 }}
"body.callback_url" = {{ dictionary = "urls", probability = 1.0 }}
"""
    )
    return path


# The operations that end what they are given (a job, a session, a token, an invite):
# run after the others, so the real job those read lasts their whole run.
ENDINGS = "^DELETE |/cancel$"


def run_schemathesis(stack: Stack, config: Path, headers: dict[str, str], *only: str) -> str:
    """One Schemathesis run over the operations ``only`` selects (CLI filter options);
    its report, asserted to show no failure."""
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(config),
        "run",
        f"{stack.base_url}/openapi.json",
        *only,
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "60",
        # A stem URL's 307 is the answer documented; its target is another operation.
        "--max-redirects",
        "0",
        "--no-color",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    result = subprocess.run(
        command,
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, f"Schemathesis found problems:\n{report}"
    assert "Tested: " in report, report
    return report


def assert_healthy_afterwards(stack: Stack, headers: dict[str, str], mixture: Path) -> None:
    """Both processes still run, /health and /ready answer 200, and once the jobs the
    fuzzing left are cancelled, a normal upload is separated."""
    assert stack.api.poll() is None and all(w.poll() is None for w in stack.workers)
    with stack.client() as client:
        assert client.get("/health").status_code == 200
        ready = client.get("/ready")
        assert ready.status_code == 200, ready.text
        listing = client.get("/api/jobs", params={"limit": 100}, headers=headers).json()
        for job in listing["data"]:
            if job["status"] not in FINAL:
                gone = client.delete(f"/api/jobs/{job['id']}", headers=headers)
                assert gone.status_code in {204, 404}, gone.text
    finished_job(stack, headers, mixture)


def fuzz(stack: Stack, headers: dict[str, str], mixture: Path, directory: Path) -> None:
    """Every operation: those that read or create first, with a real job to read, then
    those that cancel or delete, with another; then the service must still be healthy."""
    kept, doomed = (finished_job(stack, headers, mixture) for _ in range(2))
    # Both before the first run, whose new endpoints may reach the per-user cap.
    kept_hook, doomed_hook = (registered_webhook(stack, headers) for _ in range(2))
    kept_config = config_file(directory, kept, kept_hook)
    run_schemathesis(stack, kept_config, headers, "--exclude-name-regex", ENDINGS)
    doomed_config = config_file(directory, doomed, doomed_hook)
    run_schemathesis(stack, doomed_config, headers, "--include-name-regex", ENDINGS)
    assert_healthy_afterwards(stack, headers, mixture)


@pytest.mark.slow
@pytest.mark.timeout(3 * RUN_TIMEOUT_S)
def test_fuzzing_the_api_as_the_local_user_finds_nothing(
    settings: Settings, mixture: Path, tmp_path: Path
) -> None:
    with fuzzable_stack(settings) as stack:
        fuzz(stack, {}, mixture, tmp_path)


@pytest.mark.slow
@pytest.mark.timeout(3 * RUN_TIMEOUT_S)
def test_fuzzing_the_api_with_an_all_scopes_token_finds_nothing(
    make_settings: Callable[..., Settings], mixture: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        auth="accounts", admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD
    )
    ensure_first_admin(settings.effective_database_url, ADMIN_EMAIL, ADMIN_PASSWORD)
    with session_scope(settings.effective_database_url) as session:
        admin = session.scalars(select(User).where(User.email == ADMIN_EMAIL)).one()
        token = issue_api_token(session, admin, [scope.value for scope in Scope], "fuzz")
    accounts = {
        "STEMDECK_AUTH": "accounts",
        "STEMDECK_ADMIN_EMAIL": ADMIN_EMAIL,
        "STEMDECK_ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    headers = {"Authorization": f"Bearer {token}"}
    with fuzzable_stack(settings, **accounts) as stack:
        with stack.client() as client:
            assert client.get("/api/jobs").status_code == 401  # the token is what lets it in
        fuzz(stack, headers, mixture, tmp_path)


# What the fuzzing found, each pinned by its own test.


@pytest.mark.parametrize(
    "body",
    [b'{"name": "\xff"}', b"[" * 5000],
    ids=["not-utf8", "nested-past-the-recursion-limit"],
)
def test_a_json_body_that_is_not_json_text_is_a_422_not_a_bare_400(
    client: TestClient, body: bytes
) -> None:
    response = client.post(
        "/api/account/tokens", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request"
    assert "JSON" in error["message"]


def test_job_events_are_documented_as_the_events_the_stream_sends(
    client: TestClient, make_stored_job: Callable[..., Any]
) -> None:
    """The schema of the event stream describes one event (its `event` and `data`
    fields), as OpenAPI before 3.2 reads it, and the stream's events fit it."""
    job_id = make_stored_job().id
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        first = "".join(stream.iter_text()).split("\n\n")[0]
    fields = dict(line.split(": ", 1) for line in first.splitlines())
    operation = client.get("/openapi.json").json()["paths"]["/api/jobs/{job_id}/events"]
    schema = operation["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]

    assert schema["type"] == "object"
    assert set(schema["required"]) == {"event", "data"} == fields.keys()
    assert fields["event"] in schema["properties"]["event"]["enum"]
    assert json.loads(fields["data"])["id"] == job_id
