"""bench/RESULTS.md holds one section per benchmark; each run replaces its own."""

from __future__ import annotations

import datetime as dt
import platform
import re
from collections.abc import Sequence
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
    """Print ``body`` and store it under ``## title`` in RESULTS.md, replacing an older run."""
    print(f"\n## {title}\n\n{body}")
    machine = f"{platform.machine()}, {platform.processor() or 'cpu'}"
    stamp = f"_{dt.date.today()}, {machine}, Python {platform.python_version()}_"
    section = f"## {title}\n\n{stamp}\n\n{body}\n"
    text = RESULTS.read_text() if RESULTS.exists() else HEADER
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text.rstrip() + "\n")
