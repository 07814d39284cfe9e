"""The Compose files, Dockerfiles and .env.example, checked for what Compose would do.

There is no Docker engine here, so GIVEN the files as Compose reads them
(merge keys, ${VAR} interpolation from a copied .env.example, the GPU override
merged on top), THEN each service runs a real `stemdeck` command with real
settings, waits for what it needs to be healthy, and the worker can scale.
"""

from __future__ import annotations

import os
import re
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from packaging.requirements import Requirement
from typer.testing import CliRunner

from stemdeck.core.cli import app as cli_app
from stemdeck.core.settings import ENV_PREFIX, EXAMPLE_SECRETS, Settings
from tests.compose import (
    COMPOSE_FILE,
    ENV_EXAMPLE,
    GPU_FILE,
    MissingVariable,
    filled_in,
    interpolate,
    merged,
    raw,
    read_env_file,
    service_environment,
    variables,
)
from tests.conftest import REPO

LONG_RUNNING = {"postgres", "redis", "minio", "api", "worker", "reconciler", "frontend"}
STEMDECK_SERVICES = {"migrate", "api", "worker", "reconciler"}
SETTINGS = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}


@pytest.fixture(scope="module")
def env_example() -> dict[str, str]:
    return read_env_file(ENV_EXAMPLE)


@pytest.fixture(scope="module")
def compose(env_example: dict[str, str]) -> dict[str, Any]:
    """docker-compose.yml after `cp .env.example .env`."""
    resolved: dict[str, Any] = interpolate(raw(COMPOSE_FILE), env_example)
    return resolved


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = compose["services"]
    return found


def test_env_example_lists_every_setting_and_the_stacks_variables_only() -> None:
    names = [
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert len(names) == len(set(names)), "a variable is listed twice"
    listed = set(names)
    assert {n for n in listed if n.startswith(ENV_PREFIX)} == SETTINGS
    stack_variables = {
        name
        for path in (COMPOSE_FILE, GPU_FILE)
        for name in variables(path)
        if not name.startswith(ENV_PREFIX)
    }
    assert {n for n in listed if not n.startswith(ENV_PREFIX)} == stack_variables


def test_env_example_puts_what_to_change_first() -> None:
    text = ENV_EXAMPLE.read_text()
    change_block = text.split("# --- Change these first", 1)[1].split("# ---", 1)[0]
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE_FILE.read_text()))
    for name in required:
        assert f"\n{name}=" in change_block, f"{name} is required but not in 'Change these first'"
    # Every STEMDECK_* value below that block is the setting's default, so the copy
    # changes nothing there.
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    below = text.split("# --- Change these first", 1)[1].split("\n# ---", 1)[1]
    for line in below.splitlines():
        name, _, value = line.partition("=")
        if name.startswith(ENV_PREFIX) and value:
            field = name.removeprefix(ENV_PREFIX).lower()
            given = Settings(_env_file=None, **{field: value})  # type: ignore[call-arg]
            assert getattr(given, field) == getattr(defaults, field), f"{name}={value}"


def test_a_missing_secret_stops_compose_with_a_message() -> None:
    env = read_env_file(ENV_EXAMPLE)
    for secret in ("POSTGRES_PASSWORD", "REDIS_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD"):
        without = {k: v for k, v in env.items() if k != secret}
        with pytest.raises(MissingVariable, match=f"{secret}: set {secret} in .env"):
            interpolate(raw(COMPOSE_FILE), without)
        with pytest.raises(MissingVariable):
            interpolate(raw(COMPOSE_FILE), {**env, secret: ""})


def test_every_stemdeck_command_is_a_real_entry_point(services: dict[str, Any]) -> None:
    commands = typer.main.get_command(cli_app).commands  # type: ignore[attr-defined]
    runner = CliRunner()
    used: list[list[str]] = []
    for name in STEMDECK_SERVICES:
        used.append(services[name]["command"])
        if "healthcheck" in services[name]:
            used.append(services[name]["healthcheck"]["test"][1:])  # after "CMD"
    for command in used:
        assert command[0] == "stemdeck", command
        assert command[1] in commands, f"{command} is not a `stemdeck` command"
        result = runner.invoke(cli_app, [command[1], "--help"])
        assert result.exit_code == 0, result.output
    assert [services[n]["command"][1] for n in ("migrate", "api", "worker", "reconciler")] == [
        "migrate",
        "api",
        "worker",
        "reconciler",
    ]


def _settings(environment: dict[str, str]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{
            k.removeprefix(ENV_PREFIX).lower(): v
            for k, v in environment.items()
            if k.startswith(ENV_PREFIX) and v != ""
        },
    )


def test_the_example_secrets_are_the_ones_start_up_refuses(env_example: dict[str, str]) -> None:
    change_block = ENV_EXAMPLE.read_text().split("# --- Change these first", 1)[1]
    change_block = change_block.split("# ---", 1)[0]
    examples = {v for k, v in read_env_file(ENV_EXAMPLE).items() if v.startswith("change-me-")}
    assert examples == set(EXAMPLE_SECRETS)
    for value in examples:
        (name,) = [k for k, v in env_example.items() if v == value]
        assert f"\n{name}={value}" in change_block
        assert EXAMPLE_SECRETS[value] == name


def test_a_copied_env_example_is_refused_until_its_secrets_change(
    compose: dict[str, Any], env_example: dict[str, str]
) -> None:
    """GIVEN `cp .env.example .env` unchanged THEN every Stemdeck service refuses to start,
    naming a secret to change; WHEN the first block is filled in THEN they start."""
    for name in sorted(STEMDECK_SERVICES):
        environment = service_environment(compose["services"][name], env_example)
        with pytest.raises(ValueError, match="still holds the example secret") as caught:
            _settings(environment)
        assert "openssl rand" in str(caught.value)
    filled = filled_in(env_example)
    services = interpolate(raw(COMPOSE_FILE), filled)["services"]
    for name in sorted(STEMDECK_SERVICES):
        settings = _settings(service_environment(services[name], filled))
        assert settings.auth == "accounts"
        assert settings.admin_email == env_example["STEMDECK_ADMIN_EMAIL"]
        assert settings.admin_password.get_secret_value() == filled["STEMDECK_ADMIN_PASSWORD"]


def test_every_stemdeck_variable_is_a_real_setting_with_a_valid_value(
    env_example: dict[str, str],
) -> None:
    env_example = filled_in(env_example)
    services = interpolate(raw(COMPOSE_FILE), env_example)["services"]
    for path in (COMPOSE_FILE, GPU_FILE):
        unknown = {n for n in variables(path) if n.startswith(ENV_PREFIX)} - SETTINGS
        assert not unknown, f"{path.name} uses {unknown}, which are not settings"
    for name, service in services.items():
        environment = service_environment(service, env_example)
        unknown = {k for k in environment if k.startswith(ENV_PREFIX)} - SETTINGS
        assert not unknown, f"{name} sets {unknown}, which are not settings"
        if name in STEMDECK_SERVICES:
            settings = _settings(environment)
            assert settings.auth == "accounts"
            assert settings.storage == "s3" and settings.s3_endpoint == "http://minio:9000"
            assert settings.database_url.startswith("postgresql+psycopg://stemdeck:")
            assert settings.redis_url == f"redis://:{env_example['REDIS_PASSWORD']}@redis:6379/0"
            assert settings.models_dir == Path("/models")
    assert service_environment(services["api"], env_example)["STEMDECK_HOST"] == "0.0.0.0"


def test_long_running_services_have_healthchecks_and_wait_for_health(
    services: dict[str, Any],
) -> None:
    assert set(services) == LONG_RUNNING | {"migrate"}
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
        assert services[name].get("restart") == "unless-stopped", name
    assert "healthcheck" not in services["migrate"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name in ("api", "worker", "reconciler"):
        assert services[name]["depends_on"] == {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
            "minio": {"condition": "service_healthy"},
        }
    assert services["frontend"]["depends_on"]["api"] == {"condition": "service_healthy"}
    for name, service in services.items():
        for dependency in (service.get("depends_on") or {}).values():
            assert dependency["condition"] in {
                "service_healthy",
                "service_completed_successfully",
            }, name


def test_redis_keeps_the_queue_through_a_crash_and_needs_a_password(
    services: dict[str, Any], env_example: dict[str, str]
) -> None:
    command = services["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2], strict=True))
    assert command[0] == "redis-server"
    assert options == {
        "--appendonly": "yes",
        "--appendfsync": "everysec",
        "--maxmemory-policy": "noeviction",
        "--requirepass": env_example["REDIS_PASSWORD"],
    }


def test_data_lives_in_named_volumes(compose: dict[str, Any]) -> None:
    declared = set(compose["volumes"])
    assert declared == {"postgres-data", "redis-data", "minio-data", "models"}
    mounted = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared, f"{name} mounts {source}, not a named volume"
            mounted.add(source)
    assert mounted == declared
    assert "models:/models" in compose["services"]["worker"]["volumes"]


def test_the_worker_scales_and_only_the_web_port_is_published(
    services: dict[str, Any],
) -> None:
    worker = services["worker"]
    for fixed in ("container_name", "hostname", "ports"):
        assert fixed not in worker, f"worker sets {fixed}: replicas would collide"
    assert "--name" not in worker["command"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert published == {"frontend": ["8080:8080"]}


def test_the_gpu_file_only_adds_cuda_and_the_device_to_the_worker(
    env_example: dict[str, str],
) -> None:
    gpu = interpolate(raw(GPU_FILE), env_example)
    assert set(gpu) == {"services"}
    assert set(gpu["services"]) == {"worker"}
    worker = gpu["services"]["worker"]
    assert worker["build"] == {"args": {"DEVICE": "cuda"}}
    assert worker["environment"] == {"STEMDECK_DEVICE": "cuda"}
    assert worker["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": "all", "capabilities": ["gpu"]}
    ]
    base = interpolate(raw(COMPOSE_FILE), env_example)
    both = merged(base, gpu)
    assert {k: v for k, v in both["services"].items() if k != "worker"} == {
        k: v for k, v in base["services"].items() if k != "worker"
    }
    gpu_worker, cpu_worker = both["services"]["worker"], base["services"]["worker"]
    assert gpu_worker["build"]["dockerfile"] == cpu_worker["build"]["dockerfile"]
    assert gpu_worker["command"] == cpu_worker["command"]
    assert (
        gpu_worker["environment"]["STEMDECK_REDIS_URL"]
        == (cpu_worker["environment"]["STEMDECK_REDIS_URL"])
    )


def _stages(dockerfile: Path) -> list[list[str]]:
    """Instructions (continuation lines joined) grouped by FROM."""
    text = re.sub(r"\\\n", " ", dockerfile.read_text())
    stages: list[list[str]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


@pytest.mark.parametrize("service", ["api", "worker", "frontend"])
def test_images_are_multi_stage_non_root_and_built_from_the_compose_paths(
    service: str, services: dict[str, Any]
) -> None:
    build = services[service]["build"]
    dockerfile = REPO / build["dockerfile"]
    assert build["context"] == "."
    assert dockerfile == REPO / "services" / service / "Dockerfile"
    stages = _stages(dockerfile)
    assert len(stages) >= 2, "build tools stay in a build stage"
    final = stages[-1]
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    if service == "frontend":
        assert final[0].startswith("FROM nginxinc/nginx-unprivileged:")  # runs as uid 101
    else:
        assert users and users[-1] not in {"root", "0"}
    for stage in stages:
        for line in stage:
            if line.startswith("COPY ") and "--from=" not in line:
                for source in line.split()[1:-1]:
                    assert (REPO / source).exists(), f"{dockerfile}: COPY {source} is missing"


def test_the_api_image_installs_core_and_api_only_and_so_no_torch() -> None:
    installs = [
        line
        for stage in _stages(REPO / "services/api/Dockerfile")
        for line in stage
        if "pip install" in line
    ]
    assert installs == [
        "RUN /opt/stemdeck/bin/pip install --no-cache-dir /src/services/core /src/services/api"
    ]
    # And what those two pull in, followed through the installed packages, has no torch.
    seen: set[str] = set()
    todo = ["stemdeck-core", "stemdeck-api"]
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        for requirement in distribution(name).requires or []:
            parsed = Requirement(requirement)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                todo.append(parsed.name)
    assert "torch" not in seen and "stemdeck-worker" not in seen
    assert {"fastapi", "minio", "sqlalchemy", "rq"} <= seen


def test_the_worker_image_chooses_its_torch_build_by_device() -> None:
    text = (REPO / "services/worker/Dockerfile").read_text()
    assert re.search(r"^ARG DEVICE=cpu$", text, re.MULTILINE)
    assert "https://download.pytorch.org/whl/cpu" in text
    assert "https://download.pytorch.org/whl/cu" in text
    assert "STEMDECK_DEVICE=$DEVICE" in text
    assert 'VOLUME ["/models"]' in text


def test_the_frontend_image_builds_with_node_and_serves_with_nginx() -> None:
    stages = _stages(REPO / "services/frontend/Dockerfile")
    assert stages[0][0].startswith("FROM node:")
    assert "RUN npm ci" in stages[0] and "RUN npm run build" in stages[0]
    assert "COPY --from=build /app/dist /usr/share/nginx/html" in stages[-1]
    # The image's entrypoint sources *.envsh and runs *.sh only when they are executable.
    assert os.access(REPO / "deploy/nginx/15-stemdeck-limits.envsh", os.X_OK)
    assert os.access(REPO / "services/worker/docker-entrypoint.sh", os.X_OK)


def test_the_readmes_r2_override_points_every_stemdeck_service_at_r2(
    env_example: dict[str, str],
) -> None:
    readme = (REPO / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "&r2" in b]
    block = block.replace("<account id>", "abc123").replace("<R2 token's access key id>", "id")
    override = yaml.safe_load(block.replace("<R2 token's secret>", "secret"))
    env_example = filled_in(env_example)
    both = merged(interpolate(raw(COMPOSE_FILE), env_example), override)
    for name in sorted(STEMDECK_SERVICES - {"migrate"}):
        settings = _settings(service_environment(both["services"][name], env_example))
        assert settings.s3_endpoint == "https://abc123.r2.cloudflarestorage.com"
        assert (settings.s3_region, settings.s3_access_key, settings.s3_public_url) == (
            "auto",
            "id",
            "",
        )
