"""Core sits at the bottom of the import graph; api and worker add their `stemdeck`
commands through the `stemdeck.commands` entry points."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from stemdeck.core import cli
from tests.conftest import REPO

CORE_SRC = REPO / "services" / "core" / "src"
UPPER_LAYERS = ("stemdeck.api", "stemdeck.worker")
CORE_COMMANDS = {
    "migrate",
    "reconciler",
    "healthcheck",
    "strategies",
    "up",
    "users",
    "tokens",
    "status",
}
API_COMMANDS = {"api"}
WORKER_COMMANDS = {"worker", "separate", "models"}
REMOTE_COMMANDS = {"remote"}


def imported_modules(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module a file imports, wherever the import sits (deferred ones too)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            # `from stemdeck import worker` names the package in the alias.
            yield from ((node.lineno, f"{node.module}.{alias.name}") for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", None))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            yield node.lineno, node.args[0].value


def test_the_scan_sees_deferred_and_dynamic_imports() -> None:
    source = (
        "def command():\n"
        "    import stemdeck.api.app\n"
        "    from stemdeck.worker.main import run_worker\n"
        "    from stemdeck import worker\n"
        "    importlib.import_module('stemdeck.worker.cli')\n"
    )
    modules = {module for _, module in imported_modules(ast.parse(source))}
    assert {
        "stemdeck.api.app",
        "stemdeck.worker.main",
        "stemdeck.worker",
        "stemdeck.worker.cli",
    } <= modules


def test_core_imports_neither_the_api_nor_the_worker() -> None:
    files = sorted(CORE_SRC.rglob("*.py"))
    assert any(path.name == "cli.py" for path in files), CORE_SRC
    found = [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in files
        for line, module in imported_modules(ast.parse(path.read_text(), str(path)))
        if any(module == layer or module.startswith(f"{layer}.") for layer in UPPER_LAYERS)
    ]
    assert not found, "\n".join(found)


def test_the_installed_script_lists_the_commands_of_every_distribution() -> None:
    points = {point.name: point.dist.name for point in cli.command_entry_points() if point.dist}
    assert points == {
        "api": "stemdeck-api",
        "worker": "stemdeck-worker",
        "remote": "stemdeck-remote",
    }
    script = Path(sys.executable).parent / "stemdeck"
    result = subprocess.run(
        [str(script), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    listed = {line.strip("│ ").split(" ")[0] for line in result.stdout.splitlines()}
    assert listed >= CORE_COMMANDS | API_COMMANDS | WORKER_COMMANDS | REMOTE_COMMANDS, result.stdout


def test_starting_the_script_imports_neither_torch_nor_fastapi() -> None:
    # Container healthchecks start `stemdeck` often; loading the plugins must stay cheap
    # (argon2 too: loading the password module hashes a dummy password).
    code = (
        "import sys, typer.main\n"
        "from stemdeck.core.cli import app\n"
        "typer.main.get_command(app)\n"
        "heavy = ('torch', 'fastapi', 'uvicorn', 'argon2', 'stemdeck.core.accounts.passwords')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


INSTALLED = cli.command_entry_points()


def test_without_the_worker_its_commands_are_simply_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api_only = [point for point in INSTALLED if point.name == "api"]
    monkeypatch.setattr(cli, "command_entry_points", lambda: api_only)
    commands = set(typer.main.get_command(cli.app).commands)  # type: ignore[attr-defined]
    assert commands == CORE_COMMANDS | API_COMMANDS
    result = CliRunner().invoke(cli.app, ["up"])
    assert result.exit_code == 2
    assert "install stemdeck-worker" in result.output


# A plugin that claims a name core already has.
CLASHING = typer.Typer()


@CLASHING.command()
def migrate() -> None:
    """Not core's migrate."""


def with_broken(value: str) -> list[EntryPoint]:
    return [*INSTALLED, EntryPoint(name="broken", value=value, group=cli.COMMANDS_GROUP)]


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("stemdeck.nowhere.cli:app", "ModuleNotFoundError: No module named 'stemdeck.nowhere'"),
        ("stemdeck.core.cli:die", "it names a function, not a typer.Typer"),
        ("stemdeck.api.cli:app", "its command 'api' is taken by stemdeck-api"),
        (f"{__name__}:CLASHING", "its command 'migrate' is taken by stemdeck-core"),
    ],
)
def test_a_broken_plugin_stops_the_script_naming_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], value: str, why: str
) -> None:
    monkeypatch.setattr(cli, "command_entry_points", lambda: with_broken(value))
    with pytest.raises(SystemExit) as stopped:
        typer.main.get_command(cli.app)
    assert stopped.value.code == 2
    message = " ".join(capsys.readouterr().err.split())
    assert f"(entry point broken = {value} in stemdeck.commands)" in message
    assert why in message
