"""bench/results.py: RESULTS.md keeps one section per benchmark, whoever writes it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from bench import results


@pytest.fixture
def results_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "RESULTS.md"
    monkeypatch.setattr(results, "RESULTS", path)
    return path


def titles(path: Path) -> list[str]:
    return [line[3:] for line in path.read_text().splitlines() if line.startswith("## ")]


def test_a_second_run_replaces_the_first_in_its_place(results_file: Path) -> None:
    results.record("Speed", "first")
    results.record("Quality (SDR, dB)", "q1")
    results.record("Speed", "second")

    assert titles(results_file) == ["Speed", "Quality (SDR, dB)"]
    text = results_file.read_text()
    assert "second" in text and "first" not in text


def test_a_doubled_section_becomes_one_at_the_next_run(results_file: Path) -> None:
    results_file.write_text(
        results.HEADER + "\n## Quality\n\nold\n\nnotes\n\n## Quality\n\nold\n\n## Models\n\nm\n"
    )

    results.record("Quality", "new")

    assert titles(results_file) == ["Quality", "Models"]
    assert "old" not in results_file.read_text()


def test_runs_side_by_side_keep_every_section(results_file: Path) -> None:
    names = [f"Bench {i}" for i in range(8)]
    threads = [threading.Thread(target=results.record, args=(name, "x" * 5000)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(titles(results_file)) == names
