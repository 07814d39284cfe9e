"""Sign-in timing (`make bench`): a wrong password and an unknown account, side by side.

The unknown account is checked against a dummy argon2 hash, so guessing emails and
timing the answers must not tell which ones have accounts. Interleaved runs and
medians, so other work on the machine slows both alike; the ratio is the figure.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.results import record, table  # noqa: E402
from stemdeck.core.accounts.passwords import hash_password, verify_password  # noqa: E402

ROUNDS = 15
# Within this ratio an attacker's timing cannot tell the two apart over network jitter.
TARGET = (0.8, 1.25)


def seconds(check: Callable[[], bool]) -> float:
    started = time.perf_counter()
    check()
    return time.perf_counter() - started


def main() -> None:
    stored = hash_password("correct horse battery staple")
    wrong: list[float] = []
    unknown: list[float] = []
    for _ in range(ROUNDS):
        wrong.append(seconds(lambda: verify_password(stored, "not the password")))
        unknown.append(seconds(lambda: verify_password(None, "not the password")))
    wrong_s, unknown_s = statistics.median(wrong), statistics.median(unknown)
    ratio = unknown_s / wrong_s
    verdict = "PASS" if TARGET[0] <= ratio <= TARGET[1] else "FAIL"
    rows = [
        ("known account, wrong password (median)", f"{wrong_s * 1000:.1f} ms", ""),
        (
            "unknown account (median)",
            f"{unknown_s * 1000:.1f} ms",
            f"ratio {ratio:.3f} (target {TARGET[0]}-{TARGET[1]}) {verdict}",
        ),
    ]
    record("Sign-in timing", table(rows, ("measure", "value", "note")))


if __name__ == "__main__":
    main()
