"""Secrets and signatures, by the spec's reference library (``standardwebhooks``), not by hand.

A secret is ``whsec_`` and a base64 key; a delivery's ``webhook-signature`` is ``v1,`` and
the base64 HMAC-SHA256 of ``{webhook-id}.{webhook-timestamp}.{body}`` under that key.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
# 24 bytes, as the spec's examples and common senders use (192 bits).
SECRET_BYTES = 24


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def delivery_headers(
    secret: str, delivery_id: str, sent_at: datetime, body: bytes
) -> dict[str, str]:
    """The three headers that let a receiver check who sent ``body`` and when."""
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(secret).sign(delivery_id, sent_at, body),
    }
