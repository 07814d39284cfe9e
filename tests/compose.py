"""Reading docker-compose.yml as Compose does: merge keys, ${VAR} interpolation, overrides.

No Docker engine runs on the machines these tests run on, so the tests read
the files themselves; this is the small part of the Compose spec the files use.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import REPO

COMPOSE_FILE = REPO / "docker-compose.yml"
GPU_FILE = REPO / "docker-compose.gpu.yml"
ENV_EXAMPLE = REPO / ".env.example"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error}; $$ is a literal $.
_VARIABLE = re.compile(
    r"\$\$|\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)


class MissingVariable(Exception):
    pass


def raw(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def variables(path: Path) -> set[str]:
    """Every variable the file interpolates."""
    return {m["name"] for m in _VARIABLE.finditer(path.read_text()) if m["name"]}


def interpolate(value: Any, env: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {key: interpolate(item, env) for key, item in value.items()}
    if isinstance(value, list):
        return [interpolate(item, env) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        present = name in env and (env[name] != "" or op not in {":-", ":?"})
        if present:
            return env[name]
        if op in {":?", "?"}:
            raise MissingVariable(f"{name}: {arg}")
        if op in {":-", "-"}:
            return arg
        return ""

    return _VARIABLE.sub(replace, value)


def read_env_file(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge of an override file: mappings merge, anything else is replaced."""
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def service_environment(service: dict[str, Any], env_file: Mapping[str, str]) -> dict[str, str]:
    """What a container's environment holds: its env_file entries, then `environment`."""
    environment: dict[str, str] = {}
    if service.get("env_file"):
        environment.update(env_file)
    environment.update({k: str(v) for k, v in (service.get("environment") or {}).items()})
    return environment


def filled_in(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` as a user leaves it after changing the first block: each `change-me-…`
    example secret replaced by a secret of their own, the same one wherever it appears
    (a password also sits inside its URL)."""
    own: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        return own.setdefault(match[0], f"{match[0]}-{secrets.token_hex(8)}")

    return {name: re.sub(r"change-me-[a-z]+", replace, value) for name, value in env.items()}
