"""Range headers of any length are answered by what they mean, never by a crash."""

from __future__ import annotations

import pytest

from stemdeck.api.ranges import ByteRange, RangeNotSatisfiableError, parse_range

HUGE = "9" * 5000  # past Python's 4300-digit limit on int()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=10-", ByteRange(10, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        (f"bytes=0-{HUGE}", ByteRange(0, 999)),  # a last byte past the end: to the end
        (f"bytes=-{HUGE}", ByteRange(0, 999)),  # a suffix longer than the file: all of it
        (f"bytes={'0' * 5000}5-{'0' * 5000}9", ByteRange(5, 9)),  # leading zeros
    ],
)
def test_ranges_of_any_length_are_read(header: str, expected: ByteRange) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize(
    "header", [f"bytes={HUGE}-", f"bytes={HUGE}-{HUGE}", "bytes=1000-", "bytes=999999999999999999-"]
)
def test_a_first_byte_past_the_end_is_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiableError):
        parse_range(header, 1000)


def test_a_huge_last_byte_before_the_first_is_ignored() -> None:
    assert parse_range(f"bytes=5-{'0' * 5000}4", 1000) is None
