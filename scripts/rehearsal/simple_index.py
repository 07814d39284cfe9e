"""A PEP 503 "simple" index over a folder of wheels: ``python simple_index.py ROOT``
writes ROOT/simple/<project>/index.html for every wheel in ROOT/files."""

from __future__ import annotations

import re
import sys
from pathlib import Path


def write_index(root: Path) -> None:
    projects: dict[str, list[str]] = {}
    for wheel in sorted((root / "files").glob("*.whl")):
        name = re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower()
        projects.setdefault(name, []).append(wheel.name)
    for name, files in projects.items():
        page = root / "simple" / name / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text("".join(f'<a href="../../files/{f}">{f}</a><br>\n' for f in files))


if __name__ == "__main__":
    write_index(Path(sys.argv[1]))
