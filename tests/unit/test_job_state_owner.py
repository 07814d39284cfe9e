"""Only core/lifecycle.py changes a job's status, stage, attempt or error.

Read from the code itself (its syntax tree), so a new write anywhere in
services/ fails here, however it is spelt: an attribute assignment, a keyword
of Job(...) or of .values(...) (or ``**`` anything), or any UPDATE of the jobs table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SERVICES = Path(__file__).resolve().parents[2] / "services"
OWNER = SERVICES / "core/src/stemdeck/core/lifecycle.py"
STATE = {"status", "stage", "stage_detail", "attempts", "error", "error_code"}


def _python_files() -> list[Path]:
    return sorted(p for p in SERVICES.glob("*/src/**/*.py") if p != OWNER)


def state_writes(source: str) -> list[str]:
    """Where ``source`` writes one of the job's state columns (line: what)."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
            # `self.status = …` sets a field of some other object (an error's HTTP status).
            owner_is_self = isinstance(node.value, ast.Name) and node.value.id == "self"
            if node.attr in STATE and not owner_is_self:
                found.append(f"{node.lineno}: .{node.attr} =")
        elif isinstance(node, ast.Call) and _writes_rows(node):
            # keyword.arg is None for `**values`: what it holds cannot be seen, so it counts.
            found += [
                f"{node.lineno}: {keyword.arg or '**'}="
                for keyword in node.keywords
                if keyword.arg in STATE or keyword.arg is None
            ]
        if isinstance(node, ast.Call) and _is_update_of_job(node):
            found.append(f"{node.lineno}: update(Job)")
    return found


def _writes_rows(call: ast.Call) -> bool:
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    return name in {"Job", "values"} and not _statement_of_another_table(call)


def _statement_of_another_table(call: ast.Call) -> bool:
    """``update(Other)…values(…)`` or ``insert(Other)…values(…)``: another table's
    columns (a webhook delivery's status), whatever they are called."""
    node: ast.expr = call.func
    while isinstance(node, ast.Attribute | ast.Call):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"update", "insert"}
        ):
            return bool(node.args) and not (
                isinstance(node.args[0], ast.Name) and node.args[0].id == "Job"
            )
        node = node.func if isinstance(node, ast.Call) else node.value
    return False


def _is_update_of_job(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Name)
        and func.id == "update"
        and any(isinstance(arg, ast.Name) and arg.id == "Job" for arg in call.args)
    )


def test_nothing_outside_the_lifecycle_writes_a_jobs_state() -> None:
    offenders = {
        str(path.relative_to(SERVICES)): writes
        for path in _python_files()
        if (writes := state_writes(path.read_text(encoding="utf-8")))
    }
    assert offenders == {}


@pytest.mark.parametrize(
    "source",
    [
        "job.status = JobStatus.failed",
        "row.attempts += 1",
        "Job(id=i, status='queued')",
        "session.execute(update(Job).where(Job.id == i).values(stage='done'))",
        "session.execute(update(Job).values(heartbeat_at=None))",
        "Job(**columns)",
        "statement.values(**values)",
        "update(Job).where(Job.id == i).values(**values)",
        "job.error_code = 'timeout'",
    ],
)
def test_the_check_finds_each_way_of_writing_state(source: str) -> None:
    assert state_writes(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "self.status = status",  # ApiError's HTTP status
        "if job.status == JobStatus.queued: pass",
        "select(Job).where(Job.status == 'queued')",
        "JobPublic(status=JobStatus(job.status))",
        "update(WebhookDelivery).where(WebhookDelivery.id == i).values(status='failed')",
        "update(WebhookDelivery).values(**changes)",
    ],
)
def test_reading_state_is_not_writing_it(source: str) -> None:
    assert state_writes(source) == []
