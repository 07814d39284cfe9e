"""The SQL statements each read route issues, counted on the app's real engine (SQLite
and Postgres): a job is one statement with its stems, none while its kept body's marks
vouch for it (api/bodies.py), one light one once they no longer may alone; a page of
jobs two however many jobs and stems it holds, one once its finished jobs' bodies are
kept, none while the page itself is. Counts are deterministic where timings are not; a
change that loads stems one job at a time, or re-reads a job, fails here first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, update

from stemdeck.api import bodies
from stemdeck.core import migrate
from stemdeck.core.db import engine_for, session_scope
from stemdeck.core.models import Job, utcnow
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus
from tests.integration.conftest import StoredJob
from tests.integration.factories import announce

STEMS = ("vocals", "drums", "bass", "other")
Counter = Callable[[Callable[[], Any]], int]


@pytest.fixture(params=["postgres", "sqlite"])
def settings(
    request: pytest.FixtureRequest, make_settings: Callable[..., Settings], tmp_path: Path
) -> Settings:
    if request.param == "postgres":
        return make_settings()
    url = f"sqlite:///{tmp_path / 'stemdeck.db'}"
    migrate.upgrade(url)
    return make_settings(database_url=url)


@pytest.fixture
def statements(settings: Settings) -> Iterator[Counter]:
    """count(call): how many statements ``call`` sent through the app's engine."""
    engine = engine_for(settings.effective_database_url)
    seen: list[str] = []

    def note(*args: Any) -> None:
        # The webhook sender polls its outbox in the background: not the request's work.
        if "webhook_deliveries" not in args[2]:
            seen.append(args[2])

    event.listen(engine, "before_cursor_execute", note)

    def count(call: Callable[[], Any]) -> int:
        seen.clear()
        call()
        return len(seen)

    yield count
    event.remove(engine, "before_cursor_execute", note)


def ok(client: TestClient, path: str, status: int = 200) -> Callable[[], None]:
    def get() -> None:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == status, response.text

    return get


def test_a_job_with_its_stems_is_one_statement_and_none_once_kept(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    statements: Counter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    job = make_stored_job(stems=STEMS).id
    running = make_stored_job(status=JobStatus.running, stems=()).id
    ok(client, "/api/jobs/" + make_stored_job().id)()  # the first request sets up a process
    monkeypatch.setattr(bodies, "LIVE_S", 60.0)  # however slow this machine is

    # Read whole the first time; then its kept body, which its marks vouch for.
    assert statements(ok(client, f"/api/jobs/{job}")) == 1
    assert statements(ok(client, f"/api/jobs/{job}")) == 0
    assert statements(ok(client, f"/status/{job}")) == 1
    assert statements(ok(client, "/api/jobs/" + "0" * 32, 404)) == 1
    assert statements(ok(client, "/api/jobs/not-an-id", 404)) == 0
    # An unfinished job is kept for LIVE_S (its standing read Redis the first time) …
    assert statements(ok(client, f"/api/jobs/{running}")) == 1
    assert statements(ok(client, f"/api/jobs/{running}")) == 0
    # … and once that ran out, read whole again.
    monkeypatch.setattr(bodies, "LIVE_S", 0.0)
    assert statements(ok(client, f"/api/jobs/{running}")) == 1
    assert statements(ok(client, f"/api/jobs/{running}")) == 1


def test_a_kept_job_is_read_again_when_its_marks_change_or_trust_s_runs_out(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    statements: Counter,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = make_stored_job(stems=STEMS)
    job = stored.id
    ok(client, f"/api/jobs/{job}")()
    with session_scope(settings.effective_database_url) as session:
        row = session.get(Job, job)
        assert row is not None
        session.execute(update(Job).where(Job.id == job).values(updated_at=utcnow()))
        session.flush()
        session.refresh(row)
        session.expunge(row)
    announce(settings, row)

    # The light read tells it changed, then the job and its stems in one more.
    assert statements(ok(client, f"/api/jobs/{job}")) == 2
    assert statements(ok(client, f"/api/jobs/{job}")) == 0
    # Past TRUST_S its marks no longer vouch alone: one light read finds it unchanged.
    monkeypatch.setattr(bodies, "TRUST_S", 0.0)
    assert statements(ok(client, f"/api/jobs/{job}")) == 1


def test_a_page_of_jobs_costs_the_same_statements_for_one_job_as_for_twenty(
    client: TestClient,
    make_stored_job: Callable[..., StoredJob],
    statements: Counter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_stored_job(stems=STEMS)
    ok(client, "/api/jobs?limit=20")()
    kept_page = statements(ok(client, "/api/jobs?limit=20"))
    for _ in range(19):
        make_stored_job(stems=STEMS)  # each marks its owner's lists changed

    twenty_new = statements(ok(client, "/api/jobs?limit=20"))
    twenty_kept = statements(ok(client, "/api/jobs?limit=20"))

    assert len(client.get("/api/jobs?limit=20").json()["data"]) == 20
    # The page's versions with the count of all; then the jobs not kept, stems and all;
    # then the page kept whole, which its owner's mark vouches for.
    assert twenty_new == 2
    assert kept_page == twenty_kept == 0
    # Past TRUST_S: the versions again, every body still kept.
    monkeypatch.setattr(bodies, "TRUST_S", 0.0)
    assert statements(ok(client, "/api/jobs?limit=20")) == 1
    # Past the end no row carries the count, so it is its own statement.
    assert statements(ok(client, "/api/jobs?offset=20")) == 2


def test_each_file_route_reads_its_job_once(
    client: TestClient, make_stored_job: Callable[..., StoredJob], statements: Counter
) -> None:
    job = make_stored_job(stems=STEMS).id
    ok(client, f"/api/jobs/{job}")()

    assert statements(ok(client, f"/api/jobs/{job}/stems/vocals.flac", 307)) == 1
    assert statements(ok(client, f"/api/jobs/{job}/waveforms/drums.json", 307)) == 1
    assert statements(ok(client, f"/api/jobs/{job}/stems.zip")) == 1
