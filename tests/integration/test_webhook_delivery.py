"""Webhook delivery: the outbox, the API's sender and its guard, against a real receiver
on 127.0.0.1, real Postgres and Redis, and the real API (in process, or as `stemdeck api`
processes for a restart)."""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from pydantic import ValidationError
from redis import Redis
from sqlalchemy import select
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from stemdeck.api.app import create_app
from stemdeck.core.accounts.users import add_user
from stemdeck.core.db import session_scope
from stemdeck.core.events import lifecycle_listeners
from stemdeck.core.lifecycle import JobLifecycle
from stemdeck.core.models import (
    LOCAL_ADMIN_ID,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from stemdeck.core.reconciler import Reconciler
from stemdeck.core.settings import Settings
from stemdeck.core.states import JobStatus, Stage
from stemdeck.core.storage import make_storage
from stemdeck.core.webhooks.deliveries import MAX_DELAY_S, retry_delay_s
from stemdeck.core.webhooks.signing import new_secret
from tests.integration.conftest import StoredJob
from tests.integration.factories import load
from tests.integration.stack import Stack, running_stack
from tests.waiting import wait_until

COMPLETED, FAILED, PROGRESS = "job.completed", "job.failed", "job.progress"

# Small numbers, so retries and windows pass in seconds.
FAST = {
    "public_url": "http://testserver",
    "ingest_allow_loopback": True,
    "webhook_poll_s": 0.05,
    "webhook_timeout_s": 1.0,
    "webhook_retry_base_s": 0.2,
    "webhook_retry_window_s": 30.0,
}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers ``statuses`` in turn, then ``then``;
    each answer after ``delay_s``."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    then: int = 200
    delay_s: float = 0.0
    location: str = ""

    def answer(self) -> int:
        return self.statuses.pop(0) if self.statuses else self.then

    def ids(self) -> set[str]:
        return {received.headers["webhook-id"] for received in self.requests}


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.requests.append(
                Received({k.lower(): v for k, v in self.headers.items()}, body)
            )
            time.sleep(receiver.delay_s)
            status = receiver.answer()
            self.send_response(status)
            if receiver.location:
                self.send_header("Location", receiver.location)
            answer = f"answer {status} " + "x" * 4000
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            # The sender may have hung up (it was cut at its timeout).
            with contextlib.suppress(OSError):
                self.wfile.write(answer.encode())

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from _serve("127.0.0.1")


def _serve(host: str) -> Iterator[Receiver]:
    found = Receiver()
    httpd = ThreadingHTTPServer((host, 0), _handler(found))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    found.url = f"http://{host}:{httpd.server_address[1]}/hook"
    try:
        yield found
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def hook_settings(make_settings: Callable[..., Settings]) -> Callable[..., Settings]:
    return lambda **overrides: make_settings(**{**FAST, **overrides})


@pytest.fixture
def make_stored_job_for(
    make_stored_job: Callable[..., StoredJob],
) -> Callable[..., str]:
    def build(**columns: Any) -> str:
        return make_stored_job(status=JobStatus.queued, **columns).id

    return build


def add_endpoint(
    settings: Settings,
    url: str,
    events: tuple[str, ...] = (COMPLETED, FAILED),
    owner_id: str = LOCAL_ADMIN_ID,
) -> WebhookEndpoint:
    with session_scope(settings.effective_database_url) as session:
        endpoint = WebhookEndpoint(
            owner_id=owner_id, url=url, secret=new_secret(), events=list(events)
        )
        session.add(endpoint)
    return endpoint


def lifecycle_of(settings: Settings) -> JobLifecycle:
    """The lifecycle as a worker builds it: with the outbox among its listeners."""
    redis = Redis.from_url(settings.require_redis_url())
    return JobLifecycle(settings.effective_database_url, lifecycle_listeners(redis, settings))


def complete(settings: Settings, job_id: str) -> None:
    lifecycle = lifecycle_of(settings)
    attempt = lifecycle.claim(job_id, JobStatus.running)
    assert attempt is not None
    stems = load(settings, job_id).stems
    assert lifecycle.complete(attempt, stems, [], 0.0)


def fail(settings: Settings, job_id: str) -> None:
    lifecycle = lifecycle_of(settings)
    attempt = lifecycle.claim(job_id, JobStatus.running)
    assert attempt is not None
    assert lifecycle.fail(attempt, "decode_failed", "The file could not be decoded.")


def deliveries(settings: Settings, **where: Any) -> list[WebhookDelivery]:
    with session_scope(settings.effective_database_url) as session:
        rows = session.scalars(
            select(WebhookDelivery).filter_by(**where).order_by(WebhookDelivery.created_at)
        ).all()
        session.expunge_all()
        return list(rows)


def wait_for_delivery(
    settings: Settings, check: Callable[[WebhookDelivery], bool], what: str, timeout_s: float = 30
) -> WebhookDelivery:
    seen: list[WebhookDelivery] = []

    def found() -> WebhookDelivery | None:
        seen[:] = deliveries(settings)
        return next((row for row in seen if check(row)), None)

    return wait_until(
        found,
        timeout_s,
        lambda: f"{what}; deliveries: {[(r.status, r.attempts, r.last_response) for r in seen]}",
        poll_s=0.05,
    )


def endpoint_row(settings: Settings, endpoint_id: str) -> WebhookEndpoint:
    with session_scope(settings.effective_database_url) as session:
        row = session.get(WebhookEndpoint, endpoint_id)
        assert row is not None
        session.expunge(row)
        return row


def test_a_completed_job_is_delivered_signed_with_the_job_as_the_api_answers_it(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN an endpoint made with POST /api/webhooks, the callback secret from POST
    /api/webhooks/callback-secret, another user's endpoint, and a job with its own
    callback_url WHEN the job completes THEN its endpoint and its callback_url each get
    one delivery, verifiable with standardwebhooks and the right secret, whose data is
    the job exactly as GET /api/jobs/{id} answers it; the other user's endpoint gets
    nothing; a tampered body or a replay with an old timestamp does not verify."""
    settings = hook_settings()
    with session_scope(settings.effective_database_url) as session:
        other = add_user(session, "other@example.com", "another password")
    add_endpoint(settings, receiver.url + "?other", owner_id=other.id)
    job_id = make_stored_job_for(callback_url=receiver.url + "?callback")
    with TestClient(create_app(settings)) as client:
        made = client.post("/api/webhooks", json={"url": receiver.url})
        assert made.status_code == 201, made.text
        callback = client.post("/api/webhooks/callback-secret")
        assert callback.status_code == 201, callback.text
        secrets = {
            receiver.url: made.json()["secret"],
            receiver.url + "?callback": callback.json()["secret"],
        }
        complete(settings, job_id)
        wait_until(lambda: len(receiver.requests) >= 2, 30, "two deliveries did not arrive")
        time.sleep(0.3)  # long enough for a third, wrong one to show up
        answer = client.get(f"/api/jobs/{job_id}")
    assert answer.status_code == 200
    assert len(receiver.requests) == 2, [r.headers for r in receiver.requests]
    rows = {row.id: row for row in deliveries(settings)}
    for received in receiver.requests:
        row = rows[received.headers["webhook-id"]]
        assert row.status == "delivered" and row.attempts == 1
        assert received.headers["webhook-id"].startswith("msg_")
        assert received.headers["content-type"] == "application/json"
        assert received.headers["user-agent"] == "Stemdeck-Webhooks/1"
        secret = secrets[row.url]
        payload = Webhook(secret).verify(received.body, received.headers)
        assert payload["type"] == COMPLETED
        assert datetime.fromisoformat(payload["timestamp"]) == row.created_at
        assert payload["data"] == answer.json()
        assert payload["data"]["stems"] and payload["data"]["zip_url"].startswith(
            "http://testserver/api/jobs/"
        )
        with pytest.raises(WebhookVerificationError, match="signature"):
            Webhook(secret).verify(
                received.body.replace(b"completed", b"c0mpleted"), received.headers
            )
        with pytest.raises(WebhookVerificationError, match="signature"):
            Webhook(new_secret()).verify(received.body, received.headers)
        # A replay: correctly signed, but ten minutes late.
        old = datetime.now(UTC) - timedelta(minutes=10)
        replayed = {
            **received.headers,
            "webhook-timestamp": str(int(old.timestamp())),
            "webhook-signature": Webhook(secret).sign(row.id, old, received.body),
        }
        with pytest.raises(WebhookVerificationError, match="too old"):
            Webhook(secret).verify(received.body, replayed)


def test_a_failing_receiver_gets_the_same_delivery_until_it_answers(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN a receiver that answers 500, then a redirect (not followed), then 202 WHEN a
    job fails THEN it gets three tries of one delivery (one webhook-id, the same bytes),
    and the row ends delivered after 3 attempts with the last answer logged."""
    settings = hook_settings()
    receiver.statuses = [500, 302]
    receiver.location = "http://127.0.0.1:1/elsewhere"
    receiver.then = 202
    add_endpoint(settings, receiver.url)
    job_id = make_stored_job_for()
    tries_before = {result: tries_counted(result) for result in ("retrying", "delivered")}
    with TestClient(create_app(settings)):
        fail(settings, job_id)
        row = wait_for_delivery(settings, lambda r: r.status == "delivered", "no delivery")
    assert len(receiver.requests) == 3
    assert tries_counted("retrying") - tries_before["retrying"] == 2
    assert tries_counted("delivered") - tries_before["delivered"] == 1
    assert len(receiver.ids()) == 1 and receiver.ids() == {row.id}
    assert len({received.body for received in receiver.requests}) == 1
    assert row.event == FAILED and row.attempts == 3
    assert row.last_status_code == 202
    assert row.last_response is not None and row.last_response.startswith("answer 202")
    assert len(row.last_response) == 1024, "only the start of the answer is kept"
    body = Webhook(endpoint_secret(settings, row)).verify(
        receiver.requests[0].body, receiver.requests[0].headers
    )
    assert body["data"]["status"] == "failed"
    assert body["data"]["error_code"] == "decode_failed"


def tries_counted(result: str) -> float:
    """stemdeck_webhook_tries_total of this process for job.failed ending in ``result``."""
    value = REGISTRY.get_sample_value(
        "stemdeck_webhook_tries_total", {"event": FAILED, "result": result}
    )
    return value or 0.0


def endpoint_secret(settings: Settings, row: WebhookDelivery) -> str:
    assert row.endpoint_id is not None
    return endpoint_row(settings, row.endpoint_id).secret


@contextlib.contextmanager
def api_process(settings: Settings) -> Iterator[Stack]:
    """A `stemdeck api` process (no worker) sending webhooks as FAST says."""
    with running_stack(
        settings,
        workers=0,
        STEMDECK_INGEST_ALLOW_LOOPBACK="true",
        STEMDECK_WEBHOOK_POLL_S="0.05",
        STEMDECK_WEBHOOK_TIMEOUT_S="1",
        STEMDECK_WEBHOOK_RETRY_BASE_S=str(settings.webhook_retry_base_s),
        STEMDECK_WEBHOOK_RETRY_WINDOW_S="60",
    ) as stack:
        yield stack


def test_a_delivery_waiting_for_its_retry_survives_a_restart_of_the_api(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN a delivery whose receiver is down (503), tried by one `stemdeck api` process
    WHEN that process stops mid-backoff and a new one starts after the receiver is back
    THEN the new process delivers it, with the same webhook-id."""
    settings = hook_settings(webhook_retry_base_s=1.0)
    receiver.then = 503
    add_endpoint(settings, receiver.url)
    job_id = make_stored_job_for()
    with api_process(settings) as stack:
        complete(settings, job_id)
        stack.wait_until(lambda: len(receiver.requests) >= 1, "a first try", timeout_s=30)
    row = wait_for_delivery(
        settings, lambda r: r.attempts >= 1, "the first try was not recorded", timeout_s=10
    )
    assert row.status == "pending" and row.last_status_code == 503
    assert row.locked_until is None, "a stopping sender hands back what it holds"
    tried = len(receiver.requests)
    receiver.then = 200
    with api_process(settings):
        row = wait_for_delivery(settings, lambda r: r.status == "delivered", "no delivery")
    assert len(receiver.requests) == tried + 1
    assert receiver.ids() == {row.id}


@pytest.mark.parametrize("target", ["loopback", "private"])
def test_a_private_or_loopback_receiver_is_refused_without_the_test_allowance(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
    target: str,
) -> None:
    """GIVEN STEMDECK_INGEST_ALLOW_LOOPBACK off WHEN a delivery's endpoint is on 127.0.0.1
    (a live receiver) or on a private address THEN no connection is made, and the row
    says why; it is retried like any failed try."""
    settings = hook_settings(ingest_allow_loopback=False)
    url = receiver.url if target == "loopback" else "http://10.255.255.1/hook"
    add_endpoint(settings, url)
    job_id = make_stored_job_for()
    with TestClient(create_app(settings)):
        complete(settings, job_id)
        row = wait_for_delivery(settings, lambda r: r.attempts >= 2, "no two tries")
    assert receiver.requests == []
    assert row.status == "pending" and row.last_status_code is None
    words = "loopback address" if target == "loopback" else "private address"
    assert row.last_response is not None
    assert row.last_response.startswith("refused: ") and words in row.last_response


def test_a_slow_receiver_is_cut_at_the_timeout_and_tried_again(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN a receiver that answers only after 4 s, and a 1 s timeout WHEN a delivery is
    sent to it THEN each try is cut at 1 s (the row says so, no status code), and the
    delivery is tried again with the same webhook-id."""
    settings = hook_settings()
    receiver.delay_s = 4.0
    endpoint = add_endpoint(settings, receiver.url)
    job_id = make_stored_job_for()
    with TestClient(create_app(settings)):
        complete(settings, job_id)
        row = wait_for_delivery(settings, lambda r: r.attempts >= 2, "no second try")
    assert row.endpoint_id == endpoint.id
    assert row.last_response == "timed out after 1 s"
    assert row.last_status_code is None and row.status == "pending"
    assert row.last_latency_ms is not None and row.last_latency_ms < 4000
    assert len(receiver.requests) >= 2 and receiver.ids() == {row.id}


def test_out_of_tries_marks_the_endpoint_failing_until_a_delivery_gets_through(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN a receiver that always answers 500 and a 2 s retry window WHEN a delivery
    runs out of tries THEN it is failed and its endpoint is failing since then; WHEN it
    is redelivered (POST …/redeliver) to the mended receiver THEN it is delivered (a
    fresh run of tries, one attempt) and the endpoint is no longer failing."""
    settings = hook_settings(webhook_retry_window_s=2.0)
    receiver.then = 500
    endpoint = add_endpoint(settings, receiver.url)
    job_id = make_stored_job_for()
    with TestClient(create_app(settings)) as client:
        complete(settings, job_id)
        row = wait_for_delivery(settings, lambda r: r.status == "failed", "no failure")
        assert row.attempts >= 2 and row.last_status_code == 500
        assert row.retry_until is not None and row.last_attempt_at is not None
        assert row.last_attempt_at >= row.retry_until, "tried until the window's end"
        failing = endpoint_row(settings, endpoint.id).failing_since
        assert failing is not None and failing >= row.created_at
        assert client.get(f"/api/webhooks/{endpoint.id}").json()["failing"] is True
        receiver.then = 200
        redone = client.post(f"/api/webhooks/deliveries/{row.id}/redeliver")
        assert redone.status_code == 202, redone.text
        again = wait_for_delivery(settings, lambda r: r.status == "delivered", "no redelivery")
        assert client.get(f"/api/webhooks/{endpoint.id}").json()["failing"] is False
    assert again.id == row.id and again.attempts == 1
    assert endpoint_row(settings, endpoint.id).failing_since is None
    assert receiver.ids() == {row.id}
    assert len({received.body for received in receiver.requests}) == 1


def test_progress_is_throttled_per_job(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN an endpoint for job.progress and an interval of a minute WHEN a job is
    claimed and writes its progress twice, and another job is claimed THEN each job
    gets one job.progress delivery; an endpoint for job.completed alone gets none."""
    settings = hook_settings(webhook_progress_interval_s=60.0)
    progress = add_endpoint(settings, receiver.url, events=(PROGRESS,))
    add_endpoint(settings, receiver.url + "?completed", events=(COMPLETED,))
    first, second = make_stored_job_for(), make_stored_job_for()
    lifecycle = lifecycle_of(settings)
    attempt = lifecycle.claim(first, JobStatus.running)
    assert attempt is not None
    assert lifecycle.progress(attempt, Stage.separating, None, 0.3)
    assert lifecycle.progress(attempt, Stage.separating, None, 0.6)
    assert lifecycle.claim(second, JobStatus.running) is not None
    rows = deliveries(settings)
    assert sorted(row.job_id for row in rows) == sorted([first, second])
    assert {row.event for row in rows} == {PROGRESS}
    assert {row.endpoint_id for row in rows} == {progress.id}
    with TestClient(create_app(settings)):
        wait_for_delivery(
            settings, lambda r: r.job_id == first and r.status == "delivered", "no progress"
        )
    sent = [r for r in receiver.requests if r.headers["webhook-id"] == rows[0].id]
    body = Webhook(progress.secret).verify(sent[0].body, sent[0].headers)
    assert body["type"] == PROGRESS and body["data"]["status"] == "running"


def test_a_deleted_job_is_delivered_as_its_id(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN a job.completed delivery not yet sent WHEN its job is deleted first THEN the
    delivery still goes, its data the job's id alone."""
    settings = hook_settings()
    add_endpoint(settings, receiver.url)
    job_id = make_stored_job_for()
    complete(settings, job_id)
    # Its files stay behind: only the row matters here.
    assert lifecycle_of(settings).remove(job_id, lambda _session, _job: None)
    with TestClient(create_app(settings)):
        wait_until(lambda: receiver.requests, 30, "no delivery")
    row = deliveries(settings)[0]
    body = Webhook(endpoint_secret(settings, row)).verify(
        receiver.requests[0].body, receiver.requests[0].headers
    )
    assert body["data"] == {"id": job_id}


def test_the_reconciler_prunes_finished_deliveries_past_the_log_days(
    hook_settings: Callable[..., Settings],
) -> None:
    """GIVEN deliveries made 8 days ago (one delivered, one failed, one still pending, one
    redelivered yesterday) and one made today WHEN the reconciler runs with a 7-day log
    THEN only the old finished ones are deleted."""
    settings = hook_settings(webhook_log_days=7)
    endpoint = add_endpoint(settings, "http://127.0.0.1:1/hook")
    now = utcnow()
    old, yesterday = now - timedelta(days=8), now - timedelta(days=1)
    made = {
        "old-delivered": (old, "delivered", old),
        "old-failed": (old, "failed", old),
        "old-pending": (old, "pending", old),
        "old-retried": (old, "delivered", yesterday),
        "new-delivered": (now, "delivered", now),
    }
    with session_scope(settings.effective_database_url) as session:
        for name, (created, status, tried) in made.items():
            session.add(
                WebhookDelivery(
                    id=f"msg_{name}",
                    endpoint_id=endpoint.id,
                    owner_id=LOCAL_ADMIN_ID,
                    job_id="0" * 32,
                    url=endpoint.url,
                    event=COMPLETED,
                    status=status,
                    next_attempt_at=now + timedelta(days=1),
                    created_at=created,
                    last_attempt_at=tried,
                )
            )
    redis = Redis.from_url(settings.require_redis_url())
    report = Reconciler(settings, redis, make_storage(settings)).run_once(now)
    assert report.deliveries_pruned == 2
    kept = {row.id for row in deliveries(settings)}
    assert kept == {"msg_old-pending", "msg_old-retried", "msg_new-delivered"}


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"webhook_retry_base_s": 60, "webhook_retry_window_s": 30}, "WEBHOOK_RETRY_BASE_S"),
        ({"webhook_timeout_s": 0}, "webhook_timeout_s"),
        ({"webhook_poll_s": -1}, "webhook_poll_s"),
        ({"webhook_log_days": 0}, "webhook_log_days"),
    ],
)
def test_bad_webhook_settings_are_refused_saying_which(values: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        Settings(_env_file=None, **values)


def test_job_urls_in_a_delivery_start_with_the_public_url_and_its_path(
    hook_settings: Callable[..., Settings],
    make_stored_job_for: Callable[..., str],
    receiver: Receiver,
) -> None:
    """GIVEN STEMDECK_PUBLIC_URL with a path (a proxy serving Stemdeck under /sd) WHEN a
    job's delivery is sent THEN every URL in its data starts with that address."""
    public = "https://stemdeck.example.com/sd"
    settings = hook_settings(public_url=public)
    add_endpoint(settings, receiver.url)
    job_id = make_stored_job_for()
    with TestClient(create_app(settings)):
        complete(settings, job_id)
        wait_until(lambda: receiver.requests, 30, "no delivery")
    data = json.loads(receiver.requests[0].body)["data"]
    assert data["url"] == f"{public}/api/jobs/{job_id}"
    assert data["zip_url"].startswith(f"{public}/api/jobs/{job_id}/")
    for stem in data["stems"]:
        assert all(url.startswith(f"{public}/api/") for url in stem["urls"].values())


def test_retry_waits_are_random_up_to_a_ceiling_that_doubles_to_two_hours() -> None:
    rng = random.Random(15)
    for tries, ceiling in [(1, 5.0), (2, 10.0), (3, 20.0), (12, MAX_DELAY_S), (500, MAX_DELAY_S)]:
        waits = [retry_delay_s(tries, 5.0, rng) for _ in range(200)]
        assert all(0 <= wait <= ceiling for wait in waits)
        assert max(waits) > ceiling * 0.8, "full jitter spreads over the whole range"
