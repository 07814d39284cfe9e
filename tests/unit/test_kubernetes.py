"""The Kubernetes manifests, read as kustomize would: every file named exists, every pod
runs a real `stemdeck` command with real settings, and KEDA watches the real RQ queue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from stemdeck.core.cli import app as cli_app
from stemdeck.core.queue import INGEST_QUEUE, SEPARATE_QUEUE
from stemdeck.core.settings import ENV_PREFIX, Settings
from tests.compose import filled_in, read_env_file
from tests.conftest import REPO

KUSTOMIZE = REPO / "deploy" / "kubernetes"
SETTINGS = {f"{ENV_PREFIX}{name.upper()}" for name in Settings.model_fields}


def documents(folder: Path) -> dict[tuple[str, str], dict[str, Any]]:
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for resource in kustomization["resources"]:
        path = folder / resource
        assert path.exists(), f"{folder.name}/kustomization.yaml names {resource}, which is missing"
        if path.is_dir():
            found.update(documents(path))
            continue
        for document in yaml.safe_load_all(path.read_text()):
            found[(document["kind"], document["metadata"]["name"])] = document
    for generator in kustomization.get("configMapGenerator", []) + kustomization.get(
        "secretGenerator", []
    ):
        for env_file in generator["envs"]:
            example = folder / f"{env_file}.example"
            assert example.is_file(), f"{example} should show what {env_file} holds"
            names = set(read_env_file(example))
            assert {n for n in names if n.startswith(ENV_PREFIX)} <= SETTINGS, example
    return found


def containers(document: dict[str, Any]) -> list[dict[str, Any]]:
    spec = document["spec"]["template"]["spec"]
    found: list[dict[str, Any]] = spec["containers"]
    return found


def test_every_pod_runs_a_real_stemdeck_command_with_real_settings() -> None:
    found = documents(KUSTOMIZE / "base")
    commands = typer.main.get_command(cli_app).commands  # type: ignore[attr-defined]
    expected = {
        ("Job", "stemdeck-migrate"): "migrate",
        ("Deployment", "stemdeck-api"): "api",
        ("Deployment", "stemdeck-worker"): "worker",
        ("Deployment", "stemdeck-reconciler"): "reconciler",
    }
    for key, command in expected.items():
        (container,) = containers(found[key])
        argv = container.get("command") or container["args"]
        assert argv[:2] == ["stemdeck", command] and argv[1] in commands, key
        for variable in container.get("env", []):
            assert variable["name"] in SETTINGS, (key, variable["name"])
    for name in ("worker", "reconciler"):
        (container,) = containers(found[("Deployment", f"stemdeck-{name}")])
        probe = container["livenessProbe"]["exec"]["command"]
        assert probe == ["stemdeck", "healthcheck", name]


def test_keda_scales_the_worker_on_the_rq_queue_length() -> None:
    found = documents(KUSTOMIZE / "base")
    scaled = found[("ScaledObject", "stemdeck-worker")]
    assert scaled["spec"]["scaleTargetRef"]["name"] == "stemdeck-worker"
    triggers = scaled["spec"]["triggers"]
    assert {t["type"] for t in triggers} == {"redis"}
    assert sorted(t["metadata"]["listName"] for t in triggers) == sorted(
        f"rq:queue:{name}" for name in (SEPARATE_QUEUE, INGEST_QUEUE)
    )
    secret_keys = read_env_file(KUSTOMIZE / "base" / "secrets.env.example")
    # kustomize renames generated secrets with a hash, and rewrites references to them
    # only in kinds it knows; a TriggerAuthentication keeps the plain name.
    kustomization = yaml.safe_load((KUSTOMIZE / "base" / "kustomization.yaml").read_text())
    assert kustomization["generatorOptions"]["disableNameSuffixHash"] is True
    assert "stemdeck-secrets" in {g["name"] for g in kustomization["secretGenerator"]}
    for trigger in triggers:
        auth = found[("TriggerAuthentication", trigger["authenticationRef"]["name"])]
        for reference in auth["spec"]["secretTargetRef"]:
            assert reference["name"] == "stemdeck-secrets" and reference["key"] in secret_keys


def test_the_gpu_variant_only_changes_the_worker() -> None:
    kustomization = yaml.safe_load((KUSTOMIZE / "gpu" / "kustomization.yaml").read_text())
    assert kustomization["resources"] == ["../base"]
    assert [image["name"] for image in kustomization["images"]] == ["stemdeck-worker"]
    assert kustomization["images"][0]["newTag"] == "cuda"
    patch = yaml.safe_load((KUSTOMIZE / "gpu" / "worker-gpu.yaml").read_text())
    assert (patch["kind"], patch["metadata"]["name"]) == ("Deployment", "stemdeck-worker")
    (container,) = patch["spec"]["template"]["spec"]["containers"]
    assert container["resources"]["limits"] == {"nvidia.com/gpu": 1}
    assert container["env"] == [{"name": "STEMDECK_DEVICE", "value": "cuda"}]


def _pod_settings(values: dict[str, str]) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        **{k.removeprefix(ENV_PREFIX).lower(): v for k, v in values.items() if v},
    )


def test_the_pods_run_accounts_and_refuse_the_example_secrets() -> None:
    """GIVEN stemdeck.env and secrets.env copied from their examples unchanged THEN the pods
    refuse to start, naming a secret; WHEN the secrets are filled in THEN they run accounts
    with the first admin from those files."""
    base = KUSTOMIZE / "base"
    example = {
        **read_env_file(base / "stemdeck.env.example"),
        **read_env_file(base / "secrets.env.example"),
    }
    stemdeck_only = {k: v for k, v in example.items() if k.startswith(ENV_PREFIX)}
    # The store's keys are left empty in the example (they come from the store's console).
    stemdeck_only.update(STEMDECK_S3_ACCESS_KEY="key", STEMDECK_S3_SECRET_KEY="store-secret")
    with pytest.raises(ValueError, match="still holds the example secret"):
        _pod_settings(stemdeck_only)
    settings = _pod_settings(filled_in(stemdeck_only))
    assert settings.auth == "accounts"
    assert settings.admin_email == example["STEMDECK_ADMIN_EMAIL"]
    assert "STEMDECK_ADMIN_PASSWORD" in read_env_file(base / "secrets.env.example")
    assert "STEMDECK_ADMIN_PASSWORD" not in read_env_file(base / "stemdeck.env.example")
