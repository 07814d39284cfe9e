"""The README's two receivers (Python with `standardwebhooks`, Node with node:crypto
only), run exactly as the README shows them, on 127.0.0.1, against deliveries signed as
Stemdeck signs them (core/webhooks/signing.py):

- a delivery verifies, and is handled once however often it comes (one webhook-id);
- a changed body, a timestamp more than 5 minutes old or ahead, another secret's
  signature, or no signature at all is refused (400), and nothing is handled.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest

from stemdeck.core.models import new_job_id, utcnow
from stemdeck.core.webhooks.signing import delivery_headers, new_secret
from tests.conftest import REPO
from tests.integration.stack import free_port
from tests.waiting import wait_until

README = REPO / "README.md"
# Each recipe is the fenced block right after its marker comment.
RECIPE = r"<!-- recipe: {name} -->\n```(\w+)\n(.*?)\n```"
STARTUP_S = 30  # a hang guard for a receiver to listen, not a speed target


def recipe(name: str) -> str:
    found = re.search(RECIPE.format(name=name), README.read_text(), re.DOTALL)
    assert found, f"README.md has no fenced block after <!-- recipe: {name} -->"
    return found.group(2) + "\n"


@dataclass
class Receiver:
    url: str
    process: subprocess.Popen[str]

    def handled(self) -> list[str]:
        """The lines it printed: one per delivery it handled."""
        self.process.terminate()
        out, _ = self.process.communicate(timeout=STARTUP_S)
        return out.splitlines()


def accepting(url: str) -> bool:
    try:
        httpx.get(url, timeout=1)
    except httpx.TransportError:
        return False
    return True  # any answer: it listens


@pytest.fixture(params=["python", "node"])
def receiver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Receiver]:
    """The README's receiver for the language, as a user would save and start it."""
    if request.param == "python":
        path, command = tmp_path / "receiver.py", [sys.executable]
        source = recipe("verify-python")
    else:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is not installed: the JavaScript recipe cannot be checked")
        path, command = tmp_path / "receiver.mjs", [node]
        source = recipe("verify-node")
    path.write_text(source)
    port = free_port()
    env = {**os.environ, "STEMDECK_WEBHOOK_SECRET": SECRET, "PORT": str(port)}
    process = subprocess.Popen(
        [*command, str(path)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/hooks/stemdeck"
    try:
        wait_until(
            lambda: accepting(url) or process.poll() is not None,
            STARTUP_S,
            f"the {request.param} receiver did not start",
        )
        assert process.poll() is None, f"the {request.param} receiver exited at once"
        yield Receiver(url, process)
    finally:
        process.kill()
        process.wait()


SECRET = new_secret()
JOB_ID = new_job_id()


def body() -> bytes:
    """A delivery's body as the contract has it: the event, when, and the job."""
    job = {"id": JOB_ID, "status": "completed", "stage": "done", "progress": 1.0}
    event = {"type": "job.completed", "timestamp": utcnow().isoformat(), "data": job}
    return json.dumps(event).encode()


def deliver(
    receiver: Receiver,
    content: bytes,
    *,
    delivery_id: str | None = None,
    sent_at: datetime | None = None,
    secret: str = SECRET,
    signed: bytes | None = None,
) -> httpx.Response:
    """POST ``content`` as Stemdeck sends a delivery; ``signed``: the body the signature
    was made over, when it is not the one sent (a body changed on the way)."""
    delivery_id = delivery_id or "msg_" + secrets.token_hex(16)
    headers = delivery_headers(secret, delivery_id, sent_at or utcnow(), signed or content)
    headers |= {"content-type": "application/json", "user-agent": "Stemdeck-Webhooks/1"}
    return httpx.post(receiver.url, content=content, headers=headers, timeout=STARTUP_S)


def test_a_delivery_verifies_and_is_handled_once_however_often_it_comes(
    receiver: Receiver,
) -> None:
    content = body()
    first = deliver(receiver, content, delivery_id="msg_" + "a" * 32)
    again = deliver(receiver, content, delivery_id="msg_" + "a" * 32)  # a retry: one id

    assert first.status_code == again.status_code == 204
    assert receiver.handled() == [f"job.completed {JOB_ID} completed"]


def test_a_delivery_signed_a_minute_ago_still_verifies(receiver: Receiver) -> None:
    response = deliver(receiver, body(), sent_at=utcnow() - timedelta(minutes=1))

    assert response.status_code == 204
    assert receiver.handled() == [f"job.completed {JOB_ID} completed"]


def test_a_changed_body_is_refused(receiver: Receiver) -> None:
    original = body()
    changed = original.replace(b'"completed"', b'"failed"')
    assert changed != original

    response = deliver(receiver, changed, signed=original)

    assert response.status_code == 400
    assert receiver.handled() == []


@pytest.mark.parametrize("minutes", [-6, 6], ids=["6-minutes-old", "6-minutes-ahead"])
def test_a_timestamp_more_than_5_minutes_away_is_refused(receiver: Receiver, minutes: int) -> None:
    """Signed correctly, but then: a delivery recorded and replayed later fails."""
    response = deliver(receiver, body(), sent_at=utcnow() + timedelta(minutes=minutes))

    assert response.status_code == 400
    assert receiver.handled() == []


def test_another_secrets_signature_is_refused(receiver: Receiver) -> None:
    response = deliver(receiver, body(), secret=new_secret())

    assert response.status_code == 400
    assert receiver.handled() == []


@pytest.mark.parametrize("dropped", ["webhook-signature", "webhook-timestamp", "webhook-id"])
def test_a_delivery_without_its_headers_is_refused(receiver: Receiver, dropped: str) -> None:
    content = body()
    headers = delivery_headers(SECRET, "msg_" + "b" * 32, utcnow(), content)
    del headers[dropped]

    response = httpx.post(receiver.url, content=content, headers=headers, timeout=STARTUP_S)

    assert response.status_code == 400
    assert receiver.handled() == []


def test_a_timestamp_that_is_not_a_number_is_refused(receiver: Receiver) -> None:
    content = body()
    headers = delivery_headers(SECRET, "msg_" + "c" * 32, utcnow(), content)
    headers["webhook-timestamp"] = "soon"

    response = httpx.post(receiver.url, content=content, headers=headers, timeout=STARTUP_S)

    assert response.status_code == 400
    assert receiver.handled() == []
