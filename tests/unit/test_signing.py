"""Purpose keys: one per use, stable for a configured secret, shared by its processes."""

from __future__ import annotations

import subprocess
import sys

from stemdeck.core.settings import Settings
from stemdeck.core.signing import purpose_key

SECRET = "0123456789abcdef0123456789abcdef-shared"


def test_each_purpose_gets_its_own_key_from_one_secret() -> None:
    settings = Settings(secret_key=SECRET)
    link, state = purpose_key(settings, "stem-link"), purpose_key(settings, "oidc-state")
    assert len(link) == len(state) == 32
    assert link != state
    assert purpose_key(Settings(secret_key=SECRET + "x"), "stem-link") != link


def _key_in_a_new_process(secret: str) -> str:
    code = (
        "from stemdeck.core.settings import Settings;"
        "from stemdeck.core.signing import purpose_key;"
        f"print(purpose_key(Settings(secret_key={secret!r}), 'stem-link').hex())"
    )
    return subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()


def test_processes_sharing_the_secret_share_keys_and_without_it_do_not() -> None:
    """GIVEN two API processes (replicas) THEN with STEMDECK_SECRET_KEY set they sign
    alike, and without it each has its own random key."""
    assert _key_in_a_new_process(SECRET) == _key_in_a_new_process(SECRET)
    assert _key_in_a_new_process("") != _key_in_a_new_process("")
