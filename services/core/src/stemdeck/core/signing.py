"""Keys for what the server signs and must recognise later.

Each use gets its own key, derived from STEMDECK_SECRET_KEY and a purpose, so a value
signed for one use (a stem link, say) is never accepted as another (sign-in state).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import cache

from stemdeck.core.settings import Settings


@cache
def _process_key() -> bytes:
    # Without a configured key, this process's own: links it signs die with it, and
    # another replica would not accept them, which is why replicas need the setting.
    return secrets.token_bytes(32)


def purpose_key(settings: Settings, purpose: str) -> bytes:
    """A 32-byte key for ``purpose`` (e.g. "stem-link", "oidc-state")."""
    configured = settings.secret_key.get_secret_value().encode()
    root = configured or _process_key()
    return hmac.new(root, f"stemdeck:{purpose}".encode(), hashlib.sha256).digest()
