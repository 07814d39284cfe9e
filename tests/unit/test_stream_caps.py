"""The caps on open job event streams: their settings, and how slots are counted."""

from __future__ import annotations

import pytest

from stemdeck.api.errors import ApiError
from stemdeck.api.sse.slots import StreamSlots
from stemdeck.core.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"STEMDECK_EVENTS_MAX_STREAMS": "0"}, "STEMDECK_EVENTS_MAX_STREAMS"),
        ({"STEMDECK_EVENTS_MAX_STREAMS": "many"}, "STEMDECK_EVENTS_MAX_STREAMS"),
        ({"STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT": "0"}, "STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT"),
        # Streams would take every connection, and other requests would get none.
        ({"STEMDECK_EVENTS_MAX_STREAMS": "1000"}, "leaving none for other requests"),
        (
            {"STEMDECK_HTTP_MAX_CONNECTIONS": "500", "STEMDECK_EVENTS_MAX_STREAMS": "800"},
            "lower it, or raise STEMDECK_HTTP_MAX_CONNECTIONS",
        ),
        (
            {"STEMDECK_HTTP_MAX_CONNECTIONS": "10", "STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT": "9"},
            "9 is more than the 8 streams in all (STEMDECK_EVENTS_MAX_STREAMS, four fifths",
        ),
        (
            {"STEMDECK_EVENTS_MAX_STREAMS": "10", "STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT": "11"},
            "STEMDECK_EVENTS_MAX_STREAMS_PER_CLIENT: 11 is more than",
        ),
    ],
)
def test_a_bad_cap_stops_start_up_naming_it(
    monkeypatch: pytest.MonkeyPatch, values: dict[str, str], named: str
) -> None:
    for variable, value in values.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert named in str(caught.value)


def test_the_defaults_leave_connections_for_other_requests() -> None:
    assert load_settings().stream_caps == (800, 50)


def test_unset_caps_follow_the_connection_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lowering STEMDECK_HTTP_MAX_CONNECTIONS alone lowers the stream caps with it."""
    monkeypatch.setenv("STEMDECK_HTTP_MAX_CONNECTIONS", "6")
    assert load_settings().stream_caps == (4, 4)


def refusal(slots: StreamSlots, client: str) -> ApiError:
    with pytest.raises(ApiError) as caught:
        slots.take(client)
    error = caught.value
    assert error.status == 429 and error.code == "too_many_streams"
    assert error.headers is not None and int(error.headers["Retry-After"]) > 0
    return error


def test_each_user_has_their_share_and_everyone_the_total() -> None:
    slots = StreamSlots(most=3, most_per_client=2)
    slots.take("ada")
    slots.take("ada")
    assert refusal(slots, "ada").details["limit"] == "events_streams_per_client"
    slots.take("bob")
    error = refusal(slots, "bob")
    assert error.details.items() >= {"limit": "events_streams", "used": 3, "allowed": 3}.items()
    assert "STEMDECK_EVENTS_MAX_STREAMS" in error.message


def test_a_slot_given_back_is_free_again() -> None:
    slots = StreamSlots(most=2, most_per_client=1)
    slots.take("ada")
    refusal(slots, "ada")
    slots.give_back("ada")
    assert slots.total == 0
    slots.take("ada")
    slots.take("bob")
    assert slots.total == 2
