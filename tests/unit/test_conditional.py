"""Entity tags of stored files, and the If-None-Match and If-Range headers read against
them (the HTTP answers themselves are in tests/integration/test_api_stems.py)."""

from __future__ import annotations

import pytest

from stemdeck.api.conditional import entity_tag, none_match, range_applies
from stemdeck.core.storage import ObjectInfo

KEY = "jobs/j1/stems/vocals.flac"
TAG = entity_tag(KEY, ObjectInfo(5000, "42-1700000000000000000"))


def test_a_tag_is_strong_quoted_and_stable_for_the_same_object() -> None:
    assert TAG.startswith('"') and TAG.endswith('"') and not TAG.startswith("W/")
    assert entity_tag(KEY, ObjectInfo(5000, "42-1700000000000000000")) == TAG
    assert "jobs" not in TAG  # the key (which may name another job) is never shown


@pytest.mark.parametrize(
    ("key", "info"),
    [
        (KEY, ObjectInfo(5001, "42-1700000000000000000")),  # other bytes, other size
        (KEY, ObjectInfo(5000, "43-1700000000000000001")),  # rewritten, same size
        ("jobs/j1/stems/drums.flac", ObjectInfo(5000, "42-1700000000000000000")),
    ],
)
def test_a_tag_changes_with_the_object_or_the_key(key: str, info: ObjectInfo) -> None:
    assert entity_tag(key, info) != TAG


@pytest.mark.parametrize(
    ("header", "matches"),
    [
        (TAG, True),
        (f"W/{TAG}", True),  # weak comparison, as If-None-Match asks
        (f'"other", {TAG}', True),
        (f'"a,b",{TAG}', True),  # a comma inside a tag does not split the list
        ("*", True),
        ('"other"', False),
        (TAG.strip('"'), False),  # unquoted: not an entity tag
        ("", False),
        (None, False),
    ],
)
def test_if_none_match(header: str | None, matches: bool) -> None:
    assert none_match(header, TAG) is matches


@pytest.mark.parametrize(
    ("header", "applies"),
    [
        (None, True),  # no If-Range: the Range stands
        (TAG, True),
        (f" {TAG} ", True),
        (f"W/{TAG}", False),  # If-Range compares strongly
        ('"other"', False),
        ("Wed, 21 Oct 2015 07:28:00 GMT", False),  # a date: no Last-Modified to match
    ],
)
def test_if_range(header: str | None, applies: bool) -> None:
    assert range_applies(header, TAG) is applies
