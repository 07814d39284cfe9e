"""The Compose files, Dockerfiles and .env.example, checked for what Compose would do.

There is no Docker engine here, so GIVEN the files as Compose reads them
(merge keys, ${VAR} interpolation from a copied .env.example, the GPU override
merged on top), THEN each service runs a real `stemdeck` command with real
settings, waits for what it needs to be healthy, and the worker can scale.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from importlib.metadata import distribution
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml
from packaging.requirements import Requirement
from typer.testing import CliRunner

from stemdeck.core.cli import app as cli_app
from stemdeck.core.probe import DEMUXERS
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

MONITORING = {"prometheus", "grafana"}  # only with `--profile monitoring`
LONG_RUNNING = {"postgres", "redis", "minio", "api", "worker", "reconciler", "frontend"}
LONG_RUNNING |= MONITORING
ONE_SHOTS = {"migrate", "minio-init", "models"}
STEMDECK_SERVICES = {"migrate", "models", "api", "worker", "reconciler"}
SETTINGS = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}
MINIO_DIR = REPO / "deploy" / "minio"


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
    for secret in (
        "POSTGRES_PASSWORD",
        "REDIS_PASSWORD",
        "MINIO_ROOT_USER",
        "MINIO_ROOT_PASSWORD",
        "MINIO_APP_USER",
        "MINIO_APP_PASSWORD",
    ):
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
    # Offline, the weights one-shot reports what it could not fetch and still succeeds,
    # so the workers waiting for it start.
    assert services["models"]["command"] == ["stemdeck", "models", "--allow-missing"]
    assert "--allow-missing" in runner.invoke(cli_app, ["models", "--help"]).output


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
    assert set(services) == LONG_RUNNING | ONE_SHOTS
    for name in LONG_RUNNING:
        assert services[name]["healthcheck"]["test"], name
        assert services[name].get("restart") == "unless-stopped", name
    for name in ONE_SHOTS:
        assert "healthcheck" not in services[name]
        assert services[name]["restart"] == "no"
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["minio-init"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    for name in ("api", "worker", "reconciler"):
        expected = {
            "migrate": {"condition": "service_completed_successfully"},
            "redis": {"condition": "service_healthy"},
            "minio-init": {"condition": "service_completed_successfully"},
        }
        if name == "worker":  # it loads what the weights one-shot put in place
            expected["models"] = {"condition": "service_completed_successfully"}
        assert services[name]["depends_on"] == expected
    assert "depends_on" not in services["models"]
    assert services["frontend"]["depends_on"]["api"] == {"condition": "service_healthy"}
    for name, service in services.items():
        for dependency in (service.get("depends_on") or {}).values():
            assert dependency["condition"] in {
                "service_healthy",
                "service_completed_successfully",
            }, name


def test_postgres_is_healthy_only_once_it_answers_over_tcp(services: dict[str, Any]) -> None:
    # During first init the official image serves the Unix socket only; a socket check
    # passes then, and migrate (which connects over TCP) would start too early.
    test = services["postgres"]["healthcheck"]["test"]
    assert test[:2] == ["CMD", "pg_isready"]
    assert test[test.index("-h") + 1] == "127.0.0.1"


def test_each_image_is_built_by_one_service_only(
    services: dict[str, Any], env_example: dict[str, str]
) -> None:
    """Compose builds services in parallel: two builds of one tag race ("image already
    exists"). Every other service of that image names it and waits for the build."""
    builders: dict[str, list[str]] = {}
    for name, service in services.items():
        if "build" in service:
            builders.setdefault(service["image"], []).append(name)
    assert all(len(names) == 1 for names in builders.values()), builders
    for name, service in services.items():
        if service["image"].startswith("stemdeck-"):
            assert service["image"] in builders, f"{name}: nothing builds {service['image']}"
    gpu = interpolate(raw(GPU_FILE), env_example)["services"]
    assert [name for name, service in gpu.items() if "build" in service] == ["worker"]


def _pulled_images(services: dict[str, Any]) -> list[str]:
    dockerfiles = (REPO / "services").glob("*/Dockerfile")
    bases = [
        line.split()[1]
        for f in dockerfiles
        for line in re.findall(r"^FROM .*", f.read_text(), re.M)
    ]
    named = [s["image"] for s in services.values() if not s["image"].startswith("stemdeck-")]
    return named + bases


def test_every_image_pulled_is_pinned_to_a_maintained_release(
    compose: dict[str, Any],
) -> None:
    # The monitoring profile's images too.
    for image in _pulled_images(compose["services"]):
        name, _, tag = image.rpartition(":")
        assert name and tag and tag != "latest", f"{image}: pin a release tag"
        # Docker Hub dropped MinIO's images in September 2026.
        assert not name.startswith("minio/"), image
    frontend = (REPO / "services/frontend/Dockerfile").read_text()
    node = int(re.search(r"^FROM node:(\d+)", frontend, re.M)[1])  # type: ignore[index]
    nginx = re.search(r"nginx-unprivileged:1\.(\d+)", frontend)[1]  # type: ignore[index]
    assert node >= 22 and node % 2 == 0, "an LTS line of Node that is still maintained"
    assert int(nginx) >= 28 and int(nginx) % 2 == 0, "a stable line of nginx"


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
    assert declared == {
        "postgres-data",
        "redis-data",
        "minio-data",
        "models",
        "prometheus-data",
        "grafana-data",
    }
    mounted = set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source in declared, f"{name} mounts {source}, not a named volume"
            mounted.add(source)
    assert mounted == declared


def test_only_the_models_one_shot_writes_the_weights_volume(
    env_example: dict[str, str],
) -> None:
    """Workers run yt-dlp and ffmpeg on strangers' input: they mount the weights read-only,
    and so do not download (the API then promises no downloads either)."""
    filled = filled_in(env_example)
    compose = interpolate(raw(COMPOSE_FILE), filled)
    writers, readers = set(), set()
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source, target, *mode = volume.split(":")
            if source == "models":
                assert target == "/models", name
                (readers if mode == ["ro"] else writers).add(name)
    assert writers == {"models"}
    assert readers == {"api", "worker"}
    for name in ("api", "worker"):
        settings = _settings(service_environment(compose["services"][name], filled))
        assert settings.model_downloads is False, name


def test_the_worker_scales_and_only_the_web_port_is_published(
    services: dict[str, Any],
) -> None:
    worker = services["worker"]
    for fixed in ("container_name", "hostname", "ports"):
        assert fixed not in worker, f"worker sets {fixed}: replicas would collide"
    assert "--name" not in worker["command"]
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    # Grafana only on the host's loopback; metrics ports nowhere.
    assert published == {"frontend": ["8080:8080"], "grafana": ["127.0.0.1:3000:3000"]}


def test_the_gpu_file_only_adds_cuda_and_the_device_to_the_worker(
    env_example: dict[str, str],
) -> None:
    gpu = interpolate(raw(GPU_FILE), env_example)
    assert set(gpu) == {"services"}
    assert set(gpu["services"]) == {"worker", "models"}
    # The weights one-shot runs the worker's image; only the worker service builds it.
    assert gpu["services"]["models"] == {"image": gpu["services"]["worker"]["image"]}
    worker = gpu["services"]["worker"]
    assert worker["build"] == {
        "args": {"DEVICE": "cuda", "TORCH_CUDA_INDEX": env_example["TORCH_CUDA_INDEX"]}
    }
    # torch 2.13 has no cu128 build: the index is one it is published for.
    assert re.fullmatch(
        r"https://download\.pytorch\.org/whl/cu1(26|30|32)", env_example["TORCH_CUDA_INDEX"]
    )
    assert worker["environment"] == {"STEMDECK_DEVICE": "cuda"}
    # One GPU per worker, not every GPU to every replica.
    assert worker["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "device_ids": [env_example["GPU_DEVICE"]], "capabilities": ["gpu"]}
    ]
    base = interpolate(raw(COMPOSE_FILE), env_example)
    both = merged(base, gpu)
    assert {k: v for k, v in both["services"].items() if k not in {"worker", "models"}} == {
        k: v for k, v in base["services"].items() if k not in {"worker", "models"}
    }
    assert both["services"]["models"]["command"] == base["services"]["models"]["command"]
    assert "deploy" not in both["services"]["models"]
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


def test_the_api_image_installs_core_api_and_the_remote_client_and_so_no_torch() -> None:
    installs = [
        line
        for stage in _stages(REPO / "services/api/Dockerfile")
        for line in stage
        if "pip install" in line
    ]
    assert installs == [
        "RUN /opt/stemdeck/bin/pip install --no-cache-dir /src/services/core /src/services/api"
        " /src/services/remote"
    ]
    # And what those two pull in, followed through the installed packages, has no torch.
    seen: set[str] = set()
    todo = ["stemdeck-core", "stemdeck-api", "stemdeck-remote"]
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


@pytest.mark.parametrize("service", ["api", "worker"])
def test_ffmpeg_is_the_shared_small_build_not_debians_package(service: str) -> None:
    # Debian's ffmpeg package is ~700 MB of libraries; both images build the same small
    # one from deploy/ffmpeg/build.sh and keep only its two binaries.
    stages = _stages(REPO / "services" / service / "Dockerfile")
    lines = [line for stage in stages for line in stage]
    assert not [line for line in lines if re.search(r"apt-get install[^&]*\bffmpeg\b", line)]
    ffmpeg_stage = next(stage for stage in stages if stage[0].endswith(" AS ffmpeg"))
    assert "COPY deploy/ffmpeg/build.sh /usr/local/src/build-ffmpeg.sh" in ffmpeg_stage
    assert "RUN bash /usr/local/src/build-ffmpeg.sh /opt/ffmpeg" in ffmpeg_stage
    assert (
        "COPY --from=ffmpeg /opt/ffmpeg/bin/ffmpeg /opt/ffmpeg/bin/ffprobe /usr/local/bin/"
        in stages[-1]
    )


def test_the_small_ffmpeg_reads_every_container_the_sniffer_names() -> None:
    script = (REPO / "deploy/ffmpeg/build.sh").read_text()
    enabled = re.search(r"^demuxers=(\S+)$", script, re.MULTILINE)
    assert enabled is not None
    assert set(enabled.group(1).split(",")) == set(DEMUXERS.values())
    assert "--disable-everything --disable-autodetect --disable-network" in script
    assert "--enable-protocol=file,pipe" in script


def test_the_frontend_image_builds_with_node_and_serves_with_nginx() -> None:
    stages = _stages(REPO / "services/frontend/Dockerfile")
    assert stages[0][0].startswith("FROM node:")
    assert "RUN npm ci" in stages[0] and "RUN npm run build" in stages[0]
    assert "COPY --from=build /app/dist /usr/share/nginx/html" in stages[-1]
    # The image's entrypoint sources *.envsh and runs *.sh only when they are executable.
    assert os.access(REPO / "deploy/nginx/15-stemdeck-limits.envsh", os.X_OK)


def test_nginx_finds_services_with_the_containers_own_resolver() -> None:
    """Docker's embedded DNS is 127.0.0.11, Podman's the network's gateway: the entrypoint
    reads the container's resolv.conf, unless NGINX_RESOLVER is set (Kubernetes)."""
    script = REPO / "deploy/nginx/15-stemdeck-limits.envsh"
    show = f'. "{script}"; echo "$NGINX_RESOLVER"'
    found = subprocess.run(["sh", "-c", show], env={}, capture_output=True, text=True)
    nameservers = [
        line.split()[1]
        for line in Path("/etc/resolv.conf").read_text().splitlines()
        if line.startswith("nameserver") and ":" not in line.split()[1]
    ]
    assert found.stdout.strip() == nameservers[0]
    kept = subprocess.run(
        ["sh", "-c", show], env={"NGINX_RESOLVER": "10.96.0.10"}, capture_output=True, text=True
    )
    assert kept.stdout.strip() == "10.96.0.10"


def test_the_readmes_r2_override_points_every_stemdeck_service_at_r2(
    env_example: dict[str, str],
) -> None:
    readme = (REPO / "README.md").read_text()
    (block,) = [b for b in re.findall(r"```yaml\n(.*?)```", readme, re.DOTALL) if "&r2" in b]
    block = block.replace("<account id>", "abc123").replace("<R2 token's access key id>", "id")
    override = yaml.safe_load(block.replace("<R2 token's secret>", "secret"))
    env_example = filled_in(env_example)
    both = merged(interpolate(raw(COMPOSE_FILE), env_example), override)
    for name in sorted(STEMDECK_SERVICES - {"migrate", "models"}):
        settings = _settings(service_environment(both["services"][name], env_example))
        assert settings.s3_endpoint == "https://abc123.r2.cloudflarestorage.com"
        assert (settings.s3_region, settings.s3_access_key, settings.s3_public_url) == (
            "auto",
            "id",
            "",
        )


def test_stemdeck_services_sign_as_the_app_user_and_never_see_minios_root_keys(
    env_example: dict[str, str],
) -> None:
    """GIVEN a filled-in .env (which env_file hands whole to the Stemdeck services) THEN
    api, worker, reconciler and migrate reach MinIO as MINIO_APP_USER, and MinIO's root
    keys reach only MinIO and its one-shot."""
    filled = filled_in(env_example)
    services = interpolate(raw(COMPOSE_FILE), filled)["services"]
    root_password = filled["MINIO_ROOT_PASSWORD"]
    for name in sorted(STEMDECK_SERVICES):
        environment = service_environment(services[name], filled)
        assert environment.get("MINIO_ROOT_USER", "") == "", name
        assert environment.get("MINIO_ROOT_PASSWORD", "") == "", name
        assert not [v for v in environment.values() if root_password in v], name
        settings = _settings(environment)
        assert settings.s3_access_key == filled["MINIO_APP_USER"] != filled["MINIO_ROOT_USER"]
        assert settings.s3_secret_key.get_secret_value() == filled["MINIO_APP_PASSWORD"]
    holders = {
        name
        for name, service in services.items()
        if root_password in service_environment(service, filled).values()
    }
    assert holders == {"minio", "minio-init"}


def test_the_app_users_example_password_stops_every_stemdeck_service(
    env_example: dict[str, str],
) -> None:
    """GIVEN every secret changed but MINIO_APP_PASSWORD THEN each Stemdeck service refuses
    to start, naming the setting and the Compose variable it comes from."""
    left = {**filled_in(env_example), "MINIO_APP_PASSWORD": env_example["MINIO_APP_PASSWORD"]}
    services = interpolate(raw(COMPOSE_FILE), left)["services"]
    for name in sorted(STEMDECK_SERVICES):
        with pytest.raises(ValueError, match="still holds the example secret") as caught:
            _settings(service_environment(services[name], left))
        assert "STEMDECK_S3_SECRET_KEY" in str(caught.value)
        assert "MINIO_APP_PASSWORD" in str(caught.value)


# MinIO's `mc` cannot be installed here (no registry carries MinIO's binaries), so the
# one-shot's real script runs under sh with this stand-in on PATH, which records each
# call, keeps the policy file it is given, and answers `policy attach` and `user info`
# as mc does for a user that already holds the policy (MC_ATTACHED). PATH holds only
# it: the script needs nothing from the mc image but sh and mc.
STAND_IN_MC = """#!/bin/sh
printf '%s\\n' "$*" >>"$MC_CALLS"
case "$1 $2 $3" in
  "admin policy create") /bin/cp "$6" "$MC_CALLS.policy.json" ;;
  "admin policy attach")
    if [ -n "${MC_ATTACHED:-}" ]; then echo "policy change already in effect" >&2; exit 1; fi ;;
  "admin user info") printf 'AccessKey: %s\\nPolicyName: %s\\n' "$4" "${MC_ATTACHED:-}" ;;
esac
"""


def run_minio_init(
    tmp_path: Path, env: dict[str, str], **extra: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """docker-compose.yml's minio-init, as its container runs it: its entrypoint's script
    (mounted beside the policy) with the service's environment."""
    service = interpolate(raw(COMPOSE_FILE), env)["services"]["minio-init"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "mc").write_text(STAND_IN_MC)
    (bin_dir / "mc").chmod(0o755)
    calls = tmp_path / "mc-calls"
    calls.unlink(missing_ok=True)
    environment = {
        **service_environment(service, env),
        "PATH": str(bin_dir),
        "TMPDIR": str(tmp_path),
        "MC_CALLS": str(calls),
        **extra,
    }
    done = subprocess.run(
        ["/bin/sh", str(MINIO_DIR / "init.sh")], env=environment, capture_output=True, text=True
    )
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_minio_init_runs_the_shipped_script_and_policy_with_the_root_keys(
    compose: dict[str, Any],
) -> None:
    init = compose["services"]["minio-init"]
    assert re.fullmatch(r"quay\.io/minio/mc:RELEASE\.[0-9TZ-]+", init["image"]), init["image"]
    assert init["entrypoint"] == ["sh", "/stemdeck/init.sh"]
    mounted = {c["target"]: compose["configs"][c["source"]]["file"] for c in init["configs"]}
    assert mounted == {
        "/stemdeck/init.sh": "./deploy/minio/init.sh",
        "/stemdeck/app-policy.json": "./deploy/minio/app-policy.json",
    }
    assert init["environment"]["MINIO_URL"] == "http://minio:9000"


def test_minio_init_makes_the_bucket_and_an_app_user_limited_to_its_objects(
    tmp_path: Path, env_example: dict[str, str]
) -> None:
    """GIVEN a filled-in .env WHEN minio-init runs THEN it signs in with the root keys,
    makes the bucket, and gives MINIO_APP_USER a policy that names that bucket only,
    with the object actions storage/s3.py uses and listing of that bucket alone."""
    filled = {**filled_in(env_example), "STEMDECK_S3_BUCKET": "my.stems-2"}
    done, calls = run_minio_init(tmp_path, filled)
    assert done.returncode == 0, done.stderr
    root, app = filled["MINIO_ROOT_USER"], filled["MINIO_APP_USER"]
    policy_file = calls[2].split()[-1]
    assert calls == [
        f"alias set stemdeck http://minio:9000 {root} {filled['MINIO_ROOT_PASSWORD']}",
        "mb --ignore-existing stemdeck/my.stems-2",
        f"admin policy create stemdeck stemdeck-app {policy_file}",
        f"admin user add stemdeck {app} {filled['MINIO_APP_PASSWORD']}",
        f"admin policy attach stemdeck stemdeck-app --user {app}",
    ]
    policy = json.loads((tmp_path / "mc-calls.policy.json").read_text())
    granted: dict[str, set[str]] = {}
    for statement in policy["Statement"]:
        assert set(statement) == {"Sid", "Effect", "Action", "Resource"}, statement
        assert statement["Effect"] == "Allow"
        for resource in statement["Resource"]:
            granted.setdefault(resource, set()).update(statement["Action"])
    assert granted == {
        "arn:aws:s3:::my.stems-2/*": {
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
            "s3:AbortMultipartUpload",
        },
        "arn:aws:s3:::my.stems-2": {"s3:ListBucket"},
    }


def test_minio_init_can_run_again_on_a_user_that_holds_the_policy(
    tmp_path: Path, env_example: dict[str, str]
) -> None:
    filled = filled_in(env_example)
    again, calls = run_minio_init(tmp_path, filled, MC_ATTACHED="stemdeck-app")
    assert again.returncode == 0, again.stderr
    assert calls[-1] == f"admin user info stemdeck {filled['MINIO_APP_USER']}"
    other, _ = run_minio_init(tmp_path, filled, MC_ATTACHED="readwrite")
    assert other.returncode != 0
    assert "could not give" in other.stderr


def test_minio_init_refuses_example_passwords_and_the_root_user_as_the_app(
    tmp_path: Path, env_example: dict[str, str]
) -> None:
    """GIVEN a MinIO password left at its .env.example value (no Stemdeck service sees the
    root one, so minio-init is what refuses it), the app user set to the root user, or a
    bucket name that is not one THEN minio-init exits non-zero naming the variable, before
    it calls mc, and api, worker and reconciler (which wait for it) never start."""
    filled = filled_in(env_example)
    minio_examples = {v: k for v, k in EXAMPLE_SECRETS.items() if k.startswith("MINIO_")}
    assert set(minio_examples.values()) == {"MINIO_ROOT_PASSWORD", "MINIO_APP_PASSWORD"}
    cases = [({variable: example}, variable) for example, variable in minio_examples.items()]
    cases.append(({"MINIO_APP_USER": filled["MINIO_ROOT_USER"]}, "MINIO_APP_USER"))
    cases.append(({"STEMDECK_S3_BUCKET": 'x"],"Resource":["*'}, "STEMDECK_S3_BUCKET"))
    cases.append(({"STEMDECK_S3_BUCKET": "Stems"}, "STEMDECK_S3_BUCKET"))
    # MinIO refuses secret keys outside 8-40 characters; openssl rand -hex 24 makes 48.
    for variable in ("MINIO_ROOT_PASSWORD", "MINIO_APP_PASSWORD"):
        cases.append(({variable: "a1" * 24}, variable))
        cases.append(({variable: "short"}, variable))
    for change, named in cases:
        done, calls = run_minio_init(tmp_path, {**filled, **change})
        assert done.returncode != 0, change
        assert f"minio-init: {named}" in done.stderr, done.stderr
        assert calls == [], change
    done, _ = run_minio_init(tmp_path, {**filled, "MINIO_ROOT_PASSWORD": "change-me-minio"})
    assert "openssl rand" in done.stderr
