"""Monitoring as deployed: Compose's `monitoring` profile, Prometheus's targets, Grafana's
provisioning, and the Kubernetes scrape annotations, PodMonitor and dashboard.

No Docker engine or cluster runs here, so the files are read as Compose, Prometheus,
Grafana and kustomize read them, and held to what the Stemdeck processes serve: the
metrics port they listen on, the service names DNS answers for every replica, and
the one dashboard file. That every metric the dashboard queries exists in a real
scrape of real processes is tests/integration/test_metrics.py's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.compose import COMPOSE_FILE, ENV_EXAMPLE, interpolate, raw, read_env_file
from tests.compose import service_environment as compose_environment
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "stemdeck.json"
PROMETHEUS_CONFIG = DEPLOY / "prometheus" / "prometheus.yml"
K8S_BASE = DEPLOY / "kubernetes" / "base"
K8S_MONITORING = DEPLOY / "kubernetes" / "monitoring"
SCRAPED = ("api", "worker", "reconciler")
MONITORING = {"prometheus", "grafana"}


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    found: dict[str, Any] = interpolate(raw(COMPOSE_FILE), read_env_file(ENV_EXAMPLE))["services"]
    return found


def metrics_port(services: dict[str, Any], name: str) -> int:
    environment = compose_environment(services[name], read_env_file(ENV_EXAMPLE))
    assert environment["STEMDECK_METRICS_HOST"] == "0.0.0.0", name  # Prometheus is elsewhere
    return int(environment["STEMDECK_METRICS_PORT"])


def test_the_monitoring_profile_holds_prometheus_and_grafana_pinned(
    services: dict[str, Any],
) -> None:
    profiled = {name for name, service in services.items() if service.get("profiles")}
    assert profiled == MONITORING
    for name in MONITORING:
        assert services[name]["profiles"] == ["monitoring"]
        image = services[name]["image"]
        assert re.fullmatch(r"[a-z/]+:v?\d+\.\d+\.\d+", image), f"{name}: pin {image} to a release"


def test_prometheus_scrapes_every_replica_of_each_process_on_its_metrics_port(
    services: dict[str, Any],
) -> None:
    config = yaml.safe_load(PROMETHEUS_CONFIG.read_text())
    targets = {}
    for job in config["scrape_configs"]:
        (discovery,) = job["dns_sd_configs"]  # every container of the service, by DNS
        (name,) = discovery["names"]
        assert discovery["type"] == "A"
        assert job.get("metrics_path", "/metrics") == "/metrics"
        targets[name] = discovery["port"]
    assert set(targets) == set(SCRAPED)
    for name in SCRAPED:
        assert targets[name] == metrics_port(services, name), name
        assert "ports" not in services[name], f"{name} publishes a port"
    mounted = {c["target"]: c["source"] for c in services["prometheus"]["configs"]}
    assert "--config.file=/etc/prometheus/prometheus.yml" in services["prometheus"]["command"]
    config_source = mounted["/etc/prometheus/prometheus.yml"]
    assert (
        raw(COMPOSE_FILE)["configs"][config_source]["file"] == "./deploy/prometheus/prometheus.yml"
    )


def test_no_service_publishes_a_metrics_port_and_grafana_only_on_loopback(
    services: dict[str, Any],
) -> None:
    internal = {metrics_port(services, name) for name in SCRAPED} | {9090}
    for name, service in services.items():
        for mapping in service.get("ports", []):
            container_port = int(str(mapping).rsplit(":", 1)[-1])
            assert container_port not in internal, f"{name} publishes {mapping}"
    assert services["grafana"]["ports"] == ["127.0.0.1:3000:3000"]
    assert "ports" not in services["prometheus"]


def _config_file(services: dict[str, Any], service: str, target: str) -> Path:
    sources = {c["target"]: c["source"] for c in services[service]["configs"]}
    assert target in sources, f"{service} does not mount {target}"
    return REPO / raw(COMPOSE_FILE)["configs"][sources[target]]["file"]


def test_grafana_provisions_prometheus_and_the_dashboard_file(services: dict[str, Any]) -> None:
    provisioning = "/etc/grafana/provisioning"
    source = _config_file(services, "grafana", f"{provisioning}/datasources/stemdeck.yml")
    (datasource,) = yaml.safe_load(source.read_text())["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"  # the service, on the stack's network
    provider_file = _config_file(services, "grafana", f"{provisioning}/dashboards/stemdeck.yml")
    (provider,) = yaml.safe_load(provider_file.read_text())["providers"]
    folder = provider["options"]["path"]
    dashboard = _config_file(services, "grafana", f"{folder}/stemdeck.json")
    assert dashboard == DASHBOARD
    assert services["grafana"]["depends_on"] == {"prometheus": {"condition": "service_healthy"}}


def test_the_dashboard_has_the_panels_the_issue_asks_for() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = {
        panel["title"]: " ".join(target["expr"] for target in panel["targets"])
        for panel in dashboard["panels"]
    }
    wanted = {
        "Queue depth": "stemdeck_queue_depth",
        "Throughput": "stemdeck_jobs_total",
        "Job time p95 per strategy": "stemdeck_job_seconds_bucket",
        "Real-time factor per model and device": "stemdeck_separation_realtime_factor",
        "Error rate": 'stemdeck_jobs_total{status="failed"}',
        "Workers": "stemdeck_workers",
    }
    for title, metric in wanted.items():
        assert metric in exprs.get(title, ""), f"no {title!r} panel querying {metric}"
    # Any Prometheus: the panels use the dashboard's datasource variable, not a fixed uid.
    for panel in dashboard["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]


def _pod_templates() -> dict[str, dict[str, Any]]:
    found = {}
    for name in SCRAPED:
        for document in yaml.safe_load_all((K8S_BASE / f"{name}.yaml").read_text()):
            if document["kind"] == "Deployment":
                found[name] = document["spec"]["template"]
    return found


def test_kubernetes_pods_serve_metrics_on_the_port_their_annotations_name() -> None:
    for name, template in _pod_templates().items():
        annotations = template["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        assert annotations["prometheus.io/path"] == "/metrics", name
        (container,) = template["spec"]["containers"]
        env = {variable["name"]: variable["value"] for variable in container["env"]}
        assert env["STEMDECK_METRICS_HOST"] == "0.0.0.0", name
        assert env["STEMDECK_METRICS_PORT"] == annotations["prometheus.io/port"], name
        ports = {port["name"]: port["containerPort"] for port in container["ports"]}
        assert ports["metrics"] == int(env["STEMDECK_METRICS_PORT"]), name


def test_the_podmonitor_and_network_policy_reach_only_the_metrics_port() -> None:
    kustomization = yaml.safe_load((K8S_MONITORING / "kustomization.yaml").read_text())
    documents = {
        document["kind"]: document
        for resource in kustomization["resources"]
        for document in yaml.safe_load_all((K8S_MONITORING / resource).read_text())
    }
    assert kustomization["namespace"] == "stemdeck"
    names = {f"stemdeck-{name}" for name in SCRAPED}
    monitor = documents["PodMonitor"]["spec"]
    (expression,) = monitor["selector"]["matchExpressions"]
    assert (expression["key"], set(expression["values"])) == ("app.kubernetes.io/name", names)
    assert monitor["podMetricsEndpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"}
    ]
    policy = documents["NetworkPolicy"]["spec"]
    assert set(policy["podSelector"]["matchExpressions"][0]["values"]) == names
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    port = int(_pod_templates()["api"]["metadata"]["annotations"]["prometheus.io/port"])
    assert rule["ports"] == [{"protocol": "TCP", "port": port}]
    (peer,) = rule["from"]
    assert set(peer) == {"namespaceSelector"}, "only Prometheus's namespace may scrape"


def test_the_kubernetes_dashboard_is_the_compose_one() -> None:
    kustomization = yaml.safe_load((K8S_MONITORING / "kustomization.yaml").read_text())
    (generator,) = kustomization["configMapGenerator"]
    assert generator["options"]["labels"] == {"grafana_dashboard": "1"}
    (entry,) = generator["files"]
    key, _, file = entry.partition("=")
    assert key == "stemdeck.json"
    copy = K8S_MONITORING / file
    assert copy.read_bytes() == DASHBOARD.read_bytes(), (
        f"{copy.relative_to(REPO)} differs from {DASHBOARD.relative_to(REPO)}, which is the "
        f"one to edit: cp {DASHBOARD.relative_to(REPO)} {copy.relative_to(REPO)}"
    )
