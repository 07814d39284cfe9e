"""Webhooks on the Account page, in a real browser against a real accounts-mode stack.

GIVEN a signed-in user and a receiver listening on 127.0.0.1 (loopback allowed, as in
tests) WHEN they add a webhook on the Account page THEN its secret shows once (gone
after "Done", never in the page again), the endpoint is listed with its events in
words; a delivery that ran out of tries shows as "Failing since …" with the receiver's
answer in the log, and Redeliver schedules the same delivery afresh; deleting asks
first and removes it; the callbacks' secret is made and shown once, a new one replacing
it, their log one step away; and on a phone the section fits the screen.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect
from sqlalchemy import update

from stemdeck.core.db import session_scope
from stemdeck.core.models import WebhookDelivery, WebhookEndpoint
from stemdeck.core.settings import Settings
from tests.e2e.pages import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    DESKTOP,
    PHONE,
    accounts_stack,
    assert_finished_page,
    shot,
)
from tests.integration.stack import Stack, free_port

pytestmark = pytest.mark.slow

# Nothing needs to listen there: the test seeds the delivery log itself.
RECEIVER = f"http://127.0.0.1:{free_port()}/stemdeck-hook"


@pytest.fixture
def stack(settings: Settings) -> Iterator[Stack]:
    web = os.environ.get("STEMDECK_TEST_WEB_DIR")
    with accounts_stack(
        settings,
        STEMDECK_INGEST_ALLOW_LOOPBACK="true",
        **({"STEMDECK_WEB_DIR": web} if web else {}),
    ) as running:
        yield running


def signed_in_account(browser: Browser, stack: Stack, viewport: ViewportSize) -> Page:
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(stack.base_url + "/account")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Webhooks", exact=True)).to_be_visible()
    return page


def seed_failed_delivery(settings: Settings, endpoint_id: str) -> str:
    """A delivery that ran out of tries an hour ago, as the sender leaves one."""
    delivery_id = "msg_" + "0f" * 16
    since = datetime.now(UTC) - timedelta(hours=1)
    with session_scope(settings.effective_database_url) as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        assert endpoint is not None
        session.add(
            WebhookDelivery(
                id=delivery_id,
                endpoint_id=endpoint_id,
                owner_id=endpoint.owner_id,
                job_id="0" * 32,
                url=endpoint.url,
                event="job.completed",
                payload='{"type": "job.completed"}',
                status="failed",
                attempts=3,
                next_attempt_at=None,
                created_at=since,
                last_attempt_at=since,
                last_status_code=500,
                last_latency_ms=42,
                last_response="Internal Server Error: the receiver's database is down",
            )
        )
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id)
            .values(failing_since=since)
        )
    return delivery_id


def test_add_see_the_secret_once_redeliver_and_delete(
    browser: Browser, stack: Stack, settings: Settings
) -> None:
    page = signed_in_account(browser, stack, DESKTOP)
    section = page.get_by_role("region", name="Webhooks")
    expect(section.get_by_text("No webhooks yet.")).to_be_visible()

    # Bad input first: not a web address is refused by its field, before any request.
    section.get_by_label("Address of your receiver").fill("hooks.example/in")
    section.get_by_role("button", name="Add webhook").click()
    expect(section.get_by_role("alert")).to_contain_text("is not a web address")

    section.get_by_label("Address of your receiver").fill(RECEIVER)
    expect(section.get_by_role("checkbox", name="Job finished")).to_be_checked()
    expect(section.get_by_role("checkbox", name="Job failed")).to_be_checked()
    section.get_by_role("checkbox", name="Progress updates").check()
    section.get_by_label("Note (optional)").fill("home server")
    section.get_by_role("button", name="Add webhook").click()

    # The secret, once, with what it is for.
    expect(section.get_by_text("it is shown only this once")).to_be_visible()
    secret = section.get_by_label("Signing secret").input_value()
    assert secret.startswith("whsec_"), secret
    row = section.get_by_test_id("webhook")
    expect(row).to_contain_text(RECEIVER)
    expect(row).to_contain_text("Job finished, Job failed, Progress updates")
    expect(row).to_contain_text("home server")
    assert_finished_page(page)
    shot(page, "account-webhook-secret-desktop")
    section.get_by_role("button", name="Done, I have copied it").click()
    expect(section.get_by_label("Signing secret")).to_have_count(0)
    assert secret not in page.content()

    listed = page.request.get(stack.base_url + "/api/webhooks").json()["data"]
    assert [(w["url"], w["description"]) for w in listed] == [(RECEIVER, "home server")]
    assert "secret" not in listed[0]

    # A delivery that ran out of tries: the row warns, the log says what the receiver said.
    delivery_id = seed_failed_delivery(settings, listed[0]["id"])
    page.reload()
    row = page.get_by_test_id("webhook")
    expect(row.get_by_role("status")).to_contain_text("Failing since 1 hour ago")
    row.get_by_role("button", name=f"Show deliveries to {RECEIVER}").click()
    delivery = row.get_by_test_id("delivery")
    expect(delivery).to_contain_text("Job finished")
    expect(delivery).to_contain_text("Failed after 3 tries · HTTP 500 · 42 ms")
    expect(delivery).to_contain_text("the receiver's database is down")
    assert_finished_page(page)
    shot(page, "account-webhook-failing-desktop")

    delivery.get_by_role("button", name="Redeliver").click()
    expect(delivery).not_to_contain_text("Failed after 3 tries")
    again = page.request.get(f"{stack.base_url}/api/webhooks/{listed[0]['id']}/deliveries").json()
    (after,) = again["data"]
    assert after["id"] == delivery_id
    # Sent again from now: it may already have been tried, but not as the old run.
    assert after["status"] != "failed" or after["attempts"] < 3, after

    # Deleting asks first.
    row.get_by_role("button", name=f"Delete webhook {RECEIVER}").click()
    expect(row).to_contain_text(f"Stop sending to {RECEIVER}")
    row.get_by_role("button", name="Yes, delete").click()
    expect(section.get_by_text("No webhooks yet.")).to_be_visible()
    assert page.request.get(stack.base_url + "/api/webhooks").json()["data"] == []
    page.context.close()


def test_the_callback_secret_and_the_section_on_a_phone(browser: Browser, stack: Stack) -> None:
    page = signed_in_account(browser, stack, PHONE)
    section = page.get_by_role("region", name="Webhooks")
    section.get_by_label("Address of your receiver").fill(RECEIVER)
    section.get_by_role("button", name="Add webhook").click()
    expect(section.get_by_label("Signing secret")).to_be_visible()
    callbacks = section.get_by_role("group", name="Secret for job callbacks")
    callbacks.get_by_role("button", name="Make a new callback secret").click()
    first = callbacks.get_by_label("Signing secret").input_value()
    assert first.startswith("whsec_"), first
    expect(callbacks).to_contain_text("it is shown only this once")
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"]
    assert_finished_page(page)
    shot(page, "account-webhooks-phone")

    # Made again, it is another secret: the old one stops signing.
    callbacks.get_by_role("button", name="Done, I have copied it").click()
    callbacks.get_by_role("button", name="Make a new callback secret").click()
    second = callbacks.get_by_label("Signing secret").input_value()
    assert second.startswith("whsec_") and second != first

    # Their log, one step away: nothing sent yet.
    callbacks.get_by_role("button", name="Done, I have copied it").click()
    callbacks.get_by_role("button", name="Callback deliveries").click()
    expect(callbacks.get_by_text("Nothing sent yet.")).to_be_visible()
    assert int(page.evaluate("document.documentElement.scrollWidth")) <= PHONE["width"]
    page.context.close()
