"""The Kubernetes manifests, read as kustomize would: every file named exists, every pod
runs a real `stemdeck` command with real settings, and KEDA watches the real RQ queue."""

from __future__ import annotations

import importlib.metadata
import ipaddress
import re
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
        ("Job", "stemdeck-models"): "models",
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
    # The base has renamed the worker's image by then: the overlay retags that name.
    base = yaml.safe_load((KUSTOMIZE / "base" / "kustomization.yaml").read_text())
    (worker_image,) = [i["newName"] for i in base["images"] if i["name"] == "stemdeck-worker"]
    assert [image["name"] for image in kustomization["images"]] == [worker_image]
    assert kustomization["images"][0]["newTag"].endswith("-cuda")
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


def test_only_the_models_job_writes_the_weights_volume() -> None:
    """GIVEN the base THEN the models volume is mounted read-only in every pod but the
    stemdeck-models Job, which runs `stemdeck models` (and so the one-shot that fetches
    weights); workers, which run yt-dlp and ffmpeg on strangers' input, do not download."""
    found = documents(KUSTOMIZE / "base")
    writers, readers = set(), set()
    for name, pod in pods(found).items():
        claims = {
            v["name"]
            for v in pod["spec"].get("volumes", [])
            if v.get("persistentVolumeClaim", {}).get("claimName") == "stemdeck-models"
        }
        for container in all_containers(pod):
            for mount in container.get("volumeMounts", []):
                if mount["name"] in claims:
                    (readers if mount.get("readOnly") is True else writers).add(name)
    assert writers == {"stemdeck-models"}
    assert readers == {"stemdeck-api", "stemdeck-worker"}
    (job,) = containers(found[("Job", "stemdeck-models")])
    assert job["args"] == ["stemdeck", "models", "--allow-missing"]
    config = read_env_file(KUSTOMIZE / "base" / "stemdeck.env.example")
    assert config["STEMDECK_MODEL_DOWNLOADS"] == "false"
    # The Job reaches the weights' hosts (public addresses) and nothing in the cluster.
    labels = pods(found)["stemdeck-models"]["metadata"]["labels"]
    rules = policies_of(found, labels, "egress")
    assert any(ports(rule) == {80, 443} for rule in rules)
    assert all(
        is_dns(peer) or public_only(peer["ipBlock"]) for rule in rules for peer in rule["to"]
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
    # Behind the Ingress, requests name the public host: the API must answer to it.
    # (The suite's own STEMDECK_ALLOWED_HOSTS set aside: the pods have none.)
    allowed = settings.model_copy(update={"allowed_hosts": ""}).host_allowlist
    assert allowed is not None and settings.public_url.split("://", 1)[1] in allowed
    assert settings.admin_email == example["STEMDECK_ADMIN_EMAIL"]
    assert "STEMDECK_ADMIN_PASSWORD" in read_env_file(base / "secrets.env.example")
    assert "STEMDECK_ADMIN_PASSWORD" not in read_env_file(base / "stemdeck.env.example")


WORKLOADS = {"Deployment", "Job"}


def pods(found: dict[tuple[str, str], dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each workload's pod template, by its app.kubernetes.io/name label."""
    templates: dict[str, dict[str, Any]] = {}
    for (kind, name), document in found.items():
        if kind in WORKLOADS:
            template = document["spec"]["template"]
            labels = template.get("metadata", {}).get("labels", {})
            assert labels.get("app.kubernetes.io/name") == name, f"{name}'s pods need its name"
            templates[name] = template
    return templates


def all_containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod["spec"]
    found: list[dict[str, Any]] = spec["containers"] + spec.get("initContainers", [])
    return found


def test_every_container_runs_unprivileged_on_a_read_only_root() -> None:
    """GIVEN every pod of the base THEN each container runs as a non-root user with a
    read-only root filesystem, no privilege escalation, no capabilities and the runtime's
    seccomp profile, and writes only to emptyDirs (and volumes) it mounts, /tmp among them."""
    templates = pods(documents(KUSTOMIZE / "base"))
    assert set(templates) == {
        "stemdeck-api",
        "stemdeck-worker",
        "stemdeck-reconciler",
        "stemdeck-frontend",
        "stemdeck-migrate",
        "stemdeck-models",
    }
    for name, pod in templates.items():
        spec = pod["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
        volumes = {volume["name"]: volume for volume in spec.get("volumes", [])}
        for container in all_containers(pod):
            where = f"{name}/{container['name']}"
            context = container["securityContext"]
            assert context == {
                "runAsNonRoot": True,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
                "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"},
            }, where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert set(mounts.values()) <= set(volumes), where
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: /tmp must be writable"
            for volume in volumes.values():
                if "emptyDir" in volume:
                    assert volume["emptyDir"].get("sizeLimit"), f"{where}: {volume['name']}"
    frontend = templates["stemdeck-frontend"]
    (nginx,) = all_containers(frontend)
    conf = {m["mountPath"]: m["name"] for m in nginx["volumeMounts"]}["/etc/nginx/conf.d"]
    # The nginx image's entrypoint writes the rendered template there at start.
    assert "emptyDir" in {v["name"]: v for v in frontend["spec"]["volumes"]}[conf]


def quantity(value: str | int) -> float:
    """A Kubernetes quantity (250m, 2, 512Mi, 4Gi) as a number."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    text = str(value)
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text.removesuffix(suffix)) * factor
    return float(text)


def test_every_container_has_resource_requests_and_limits() -> None:
    for name, pod in pods(documents(KUSTOMIZE / "base")).items():
        for container in all_containers(pod):
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                request = quantity(resources["requests"][resource])
                limit = quantity(resources["limits"][resource])
                assert 0 < request <= limit, (name, resource)


def test_images_are_pinned_to_this_release_never_latest() -> None:
    """Every image the manifests run is one kustomize retags, to a tag of this release."""
    version = importlib.metadata.version("stemdeck-core")
    base = yaml.safe_load((KUSTOMIZE / "base" / "kustomization.yaml").read_text())
    gpu = yaml.safe_load((KUSTOMIZE / "gpu" / "kustomization.yaml").read_text())
    tags = {image["name"]: image["newTag"] for image in base["images"] + gpu["images"]}
    for name, tag in tags.items():
        assert re.fullmatch(rf"{re.escape(version)}(-cpu|-cuda)?", str(tag)), (name, tag)
    for name, pod in pods(documents(KUSTOMIZE / "base")).items():
        for container in all_containers(pod):
            image = container["image"]
            assert image in tags and ":" not in image, f"{name} runs {image}, which is not pinned"


NOT_PUBLIC = [
    ipaddress.ip_network(block)
    for block in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
    )
]
POSTGRES_PORT, REDIS_PORT = 5432, 6379


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In", expression
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def policies_of(
    found: dict[tuple[str, str], dict[str, Any]], labels: dict[str, str], direction: str
) -> list[dict[str, Any]]:
    """The ingress or egress rules that apply to pods with ``labels``."""
    rules: list[dict[str, Any]] = []
    for (kind, _), policy in found.items():
        if kind != "NetworkPolicy":
            continue
        spec = policy["spec"]
        if direction.capitalize() in spec["policyTypes"] and selects(spec["podSelector"], labels):
            rules.extend(spec.get(direction, []))
    return rules


def ports(rule: dict[str, Any]) -> set[int]:
    return {port["port"] for port in rule["ports"]}


def public_only(block: dict[str, Any]) -> bool:
    """An ipBlock of the whole IPv4 internet less every private, shared and local range."""
    cut = [ipaddress.ip_network(network) for network in block.get("except", [])]
    whole = block["cidr"] == "0.0.0.0/0"
    return whole and all(any(net.subnet_of(c) for c in cut) for net in NOT_PUBLIC)  # type: ignore[arg-type]


def is_dns(peer: dict[str, Any]) -> bool:
    return peer == {
        "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
    }


def test_network_policies_deny_by_default_and_only_the_app_reaches_postgres_and_redis() -> None:
    """GIVEN the base's NetworkPolicies THEN everything is denied unless allowed; only
    api, worker and reconciler (and the migration, for Postgres) reach Postgres and Redis;
    workers reach nothing in the cluster but DNS, Postgres, Redis and the store, and
    nothing else at a private address; only the web port takes connections from outside,
    and the API only from it; the API reaches public http(s) addresses (webhooks)."""
    found = documents(KUSTOMIZE / "base")
    policies = {name: doc for (kind, name), doc in found.items() if kind == "NetworkPolicy"}
    deny = policies["stemdeck-default-deny"]["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    templates = pods(found)
    labels = {name: pod["metadata"]["labels"] for name, pod in templates.items()}
    for name, policy in policies.items():
        selector = policy["spec"]["podSelector"]
        assert any(selects(selector, pod_labels) for pod_labels in labels.values()), name

    reach: dict[int, set[str]] = {POSTGRES_PORT: set(), REDIS_PORT: set()}
    for name, pod_labels in labels.items():
        for rule in policies_of(found, pod_labels, "egress"):
            assert rule.get("to") and rule.get("ports"), f"{name} may reach anything: {rule}"
            for port in ports(rule) & set(reach):
                reach[port].add(name)
            for peer in rule["to"]:
                block = peer.get("ipBlock")
                if is_dns(peer):
                    assert ports(rule) == {53}, name
                elif block and ports(rule) & set(reach):
                    # The database and the queue: one address each, that port alone.
                    assert ipaddress.ip_network(block["cidr"]).num_addresses == 1, name
                    assert len(ports(rule)) == 1, name
                elif block:
                    assert public_only(block), f"{name} reaches private addresses: {block}"
                else:  # a pod in the cluster: only nginx reaches the API
                    assert (name, peer, ports(rule)) == (
                        "stemdeck-frontend",
                        {
                            "podSelector": {
                                "matchLabels": {"app.kubernetes.io/name": "stemdeck-api"}
                            }
                        },
                        {8000},
                    )
    assert reach[POSTGRES_PORT] == {
        "stemdeck-api",
        "stemdeck-worker",
        "stemdeck-reconciler",
        "stemdeck-migrate",
    }
    assert reach[REDIS_PORT] == {"stemdeck-api", "stemdeck-worker", "stemdeck-reconciler"}

    open_to: dict[str, list[dict[str, Any]]] = {
        name: policies_of(found, pod_labels, "ingress") for name, pod_labels in labels.items()
    }
    assert open_to["stemdeck-frontend"] == [{"ports": [{"protocol": "TCP", "port": 8080}]}]
    assert open_to["stemdeck-api"] == [
        {
            "from": [
                {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "stemdeck-frontend"}}}
            ],
            "ports": [{"protocol": "TCP", "port": 8000}],
        }
    ]
    assert not any(open_to[name] for name in set(labels) - {"stemdeck-frontend", "stemdeck-api"})

    # Webhooks: the API reaches http and https on public addresses (the rule's peers were
    # checked public above), as the worker does for URL downloads.
    public_web = [
        rule
        for rule in policies_of(found, labels["stemdeck-api"], "egress")
        if ports(rule) == {80, 443} and all("ipBlock" in peer for peer in rule["to"])
    ]
    assert public_web, "the API cannot send webhooks"
