"""bench/RESULTS.md holds one section per benchmark; each run replaces its own."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import platform
import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = (
    "# Benchmark results\n\n"
    "Written by `make bench`; each section is one run, its figures measured side by side.\n"
)


def table(rows: Sequence[tuple[str, ...]], headers: tuple[str, ...]) -> str:
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def record(title: str, body: str) -> None:
    """Print ``body`` and store it under ``## title`` in RESULTS.md, replacing an older run.

    One section per title: an older run's, and any copy of it, give way to this one, in
    the first copy's place. The file is read and written under an exclusive lock and
    replaced whole (a temporary file renamed over it): bench scripts run side by side
    would otherwise each write back the file as they read it, losing or doubling another's
    section (RESULTS.md once held the quality section twice).
    """
    print(f"\n## {title}\n\n{body}")
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}"
    stamp = f"_{dt.date.today()}, {machine}, Python {platform.python_version()}_"
    section = f"## {title}\n\n{stamp}\n\n{body}\n"
    with _locked():
        text = RESULTS.read_text() if RESULTS.exists() else HEADER
        handle, temporary = tempfile.mkstemp(dir=RESULTS.parent, prefix=".RESULTS.")
        with os.fdopen(handle, "w") as out:
            out.write(with_section(text, title, section))
        os.chmod(temporary, 0o644)  # mkstemp's 0600 would stay on RESULTS.md
        os.replace(temporary, RESULTS)


def with_section(text: str, title: str, section: str) -> str:
    """``text`` with every ``## title`` section removed and ``section`` in the first's
    place (at the end when there was none). A section runs to the next ``## `` line."""
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    first = pattern.search(text)
    if first is None:
        return text.rstrip() + "\n\n" + section
    head, tail = text[: first.start()], pattern.sub("", text[first.start() :])
    return (head + section + "\n" + tail).rstrip() + "\n"


@contextmanager
def _locked() -> Iterator[None]:
    # Beside no tracked file: the lock outlives the run, and belongs to no checkout.
    with (Path(tempfile.gettempdir()) / "stemdeck-bench-results.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
