"""docker-compose.yml run as local processes: its commands, its environment, its order.

No Docker engine runs here, so GIVEN `cp .env.example .env` and the Compose
file as Compose reads it, WHEN each service starts as a local process with the
file's command and environment (service hostnames pointed at 127.0.0.1, paths
of volumes at temporary folders, a real Postgres made with the postgres
service's user, password and database, redis-server with the file's exact
options, and an S3-compatible server standing in for MinIO), in depends_on
order and each after its dependencies pass their healthchecks, THEN the
migration and the weights one-shot (offline) exit 0, api and two worker
replicas pass their own healthchecks under their own RQ names, and jobs sent
to the API (no nginx) complete on both workers with stems fetched through
presigned URLs. The stack runs
STEMDECK_AUTH=accounts, so the jobs are sent with an API token made as an
operator would make one: `stemdeck tokens create` in the api service.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from redis import Redis
from rq import Worker
from rq.job import Job as RqJob
from rq.serializers import JSONSerializer

from tests.compose import COMPOSE_FILE, ENV_EXAMPLE, filled_in, interpolate, raw, read_env_file
from tests.compose import service_environment as compose_environment
from tests.conftest import REPO, SONGS
from tests.integration.stack import free_port
from tests.s3server import running_s3_server

pytestmark = pytest.mark.slow
BIN = Path(sys.executable).parent
WORKERS = 2


def wait_until(check: Callable[[], bool], what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout_s} s")
        time.sleep(0.2)


def passes(command: list[str], env: dict[str, str], cwd: Path) -> bool:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True).returncode == 0


def postgres_bin(name: str) -> str:
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    assert found or shutil.which(name), f"{name} is missing: install Debian's postgresql"
    return str(found[-1]) if found else str(shutil.which(name))


@contextmanager
def own_postgres(environment: dict[str, str]) -> Iterator[int]:
    """A Postgres made as the postgres image makes one from POSTGRES_USER/_PASSWORD/_DB."""
    as_root = os.geteuid() == 0
    run_as = ["runuser", "-u", "postgres", "--"] if as_root else []
    data = Path(tempfile.mkdtemp(prefix="stemdeck-parity-pg-"))
    password = data / "pw"
    password.write_text(environment["POSTGRES_PASSWORD"])
    if as_root:
        account = pwd.getpwnam("postgres")
        for path in (data, password):
            os.chown(path, account.pw_uid, account.pw_gid)
    port = free_port()
    cluster = data / "cluster"
    try:
        user, database = environment["POSTGRES_USER"], environment["POSTGRES_DB"]
        initdb = [postgres_bin("initdb"), "-D", str(cluster), "-U", user]
        initdb += [f"--pwfile={password}", "--auth=scram-sha-256"]
        subprocess.run([*run_as, *initdb], check=True, capture_output=True)
        options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
        start = [postgres_bin("pg_ctl"), "-D", str(cluster), "-w", "-l", str(data / "log")]
        subprocess.run([*run_as, *start, "-o", options, "start"], check=True, capture_output=True)
        env = {**os.environ, "PGPASSWORD": environment["POSTGRES_PASSWORD"]}
        createdb = [postgres_bin("createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", user]
        subprocess.run([*createdb, database], check=True, capture_output=True, env=env)
        yield port
    finally:
        subprocess.run(
            [*run_as, postgres_bin("pg_ctl"), "-D", str(cluster), "-m", "fast", "stop"],
            capture_output=True,
        )
        shutil.rmtree(data, ignore_errors=True)


class Processes:
    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, command: list[str], env: dict[str, str], cwd: Path) -> Any:
        handle = (self.logs / f"{name}.log").open("wb")
        process = subprocess.Popen(command, env=env, cwd=cwd, stdout=handle, stderr=handle)
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in reversed(self.running):
            process.terminate()
        for process in self.running:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def local(command: list[str]) -> list[str]:
    """The image's `stemdeck` is this environment's."""
    return [str(BIN / command[0]), *command[1:]] if command[0] == "stemdeck" else command


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    workdir = tmp_path_factory.mktemp("parity")
    logs = workdir / "logs"
    logs.mkdir()
    # `cp .env.example .env`, in the folder the images run in (/app, with migrations/).
    app_dir = workdir / "app"
    app_dir.mkdir()
    # … with the first block changed, as .env.example asks (its example secrets stop start-up).
    filled = filled_in(read_env_file(ENV_EXAMPLE))
    (app_dir / ".env").write_text("".join(f"{k}={v}\n" for k, v in filled.items()))
    (app_dir / "migrations").symlink_to(REPO / "migrations")
    processes = Processes(logs)
    with ExitStack() as cleanup:
        cleanup.callback(processes.stop)
        s3 = cleanup.enter_context(running_s3_server(logs / "minio.log"))
        env_file = read_env_file(app_dir / ".env")
        # Browsers would reach the bucket through nginx; here, directly.
        compose = interpolate(raw(COMPOSE_FILE), {**env_file, "PUBLIC_URL": s3.endpoint})
        services = compose["services"]

        pg_env = compose_environment(services["postgres"], env_file)
        pg_port = cleanup.enter_context(own_postgres(pg_env))

        redis_port = free_port()
        redis_command = services["redis"]["command"]
        assert redis_command[0] == "redis-server"
        redis_data = workdir / "redis-data"
        redis_data.mkdir()
        redis_server = shutil.which("redis-server") or str(BIN / "redis-server")
        local_only = ["--port", str(redis_port), "--bind", "127.0.0.1", "--dir", str(redis_data)]
        processes.start(
            "redis", [redis_server, *redis_command[1:], *local_only], dict(os.environ), workdir
        )

        api_port = free_port()
        rewrites = {
            "postgres:5432": f"127.0.0.1:{pg_port}",
            "redis:6379": f"127.0.0.1:{redis_port}",
            "http://minio:9000": s3.endpoint,
        }
        paths = {"/data": str(workdir / "data"), "/models": str(workdir / "models-volume")}

        def environment(name: str) -> dict[str, str]:
            env = {k: v for k, v in os.environ.items() if not k.startswith("STEMDECK_")}
            for key, value in compose_environment(services[name], env_file).items():
                for old, new in rewrites.items():
                    value = value.replace(old, new)
                env[key] = paths.get(value, value)
            if env.get("STEMDECK_HOST") == "0.0.0.0":
                env["STEMDECK_HOST"] = "127.0.0.1"
            # Each container has its own address for the metrics port; here each process
            # gets its own port on loopback instead.
            if env.get("STEMDECK_METRICS_HOST") == "0.0.0.0":
                env["STEMDECK_METRICS_HOST"] = "127.0.0.1"
                env["STEMDECK_METRICS_PORT"] = str(free_port())
            if name == "api":
                env["STEMDECK_PORT"] = str(api_port)
            return env

        # Healthchecks of the images' own services, pointed at the local ports.
        pg_ready = [*services["postgres"]["healthcheck"]["test"][1:], "-h", "127.0.0.1"]
        pg_ready += ["-p", str(pg_port)]
        wait_until(lambda: passes(pg_ready, dict(os.environ), workdir), "postgres healthy")
        redis_check = services["redis"]["healthcheck"]["test"][1].replace(
            "redis-cli", f"{shutil.which('redis-cli') or BIN / 'redis-cli'} -p {redis_port}"
        )
        redis_env = {**os.environ, **compose_environment(services["redis"], env_file)}
        wait_until(lambda: passes(["sh", "-c", redis_check], redis_env, workdir), "redis healthy")

        migrate = subprocess.run(
            local(services["migrate"]["command"]),
            env=environment("migrate"),
            cwd=app_dir,
            capture_output=True,
            text=True,
        )
        assert migrate.returncode == 0, migrate.stderr
        # The weights one-shot, as on a machine without network: its downloads go to a
        # closed port on loopback (it must never fetch the real weights in a test).
        models = subprocess.run(
            local(services["models"]["command"]),
            env={**environment("models"), "STEMDECK_MODEL_MIRROR": "http://127.0.0.1:1"},
            cwd=app_dir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        metrics_ports: dict[str, int] = {}

        def start(name: str, service: str) -> None:
            env = environment(service)
            metrics_ports[name] = int(env["STEMDECK_METRICS_PORT"])
            processes.start(name, local(services[service]["command"]), env, app_dir)

        start("api", "api")
        for index in range(WORKERS):
            start(f"worker-{index}", "worker")
        start("reconciler", "reconciler")
        health = {
            name: local(services[name]["healthcheck"]["test"][1:])
            for name in ("api", "worker", "reconciler")
        }
        wait_until(lambda: passes(health["api"], environment("api"), app_dir), "api healthy", 60)
        wait_until(
            lambda: passes(health["reconciler"], environment("reconciler"), app_dir),
            "reconciler healthy",
            60,
        )
        redis_url = environment("worker")["STEMDECK_REDIS_URL"]
        connection = cleanup.enter_context(Redis.from_url(redis_url))
        wait_until(
            lambda: len(Worker.all(connection=connection)) == WORKERS, "both workers registered"
        )
        yield {
            "base_url": f"http://127.0.0.1:{api_port}",
            "token": operator_token(environment("api"), app_dir, env_file["STEMDECK_ADMIN_EMAIL"]),
            "redis": connection,
            "health": health,
            "environment": environment,
            "app_dir": app_dir,
            "migrate": migrate,
            "models": models,
            "models_volume": Path(paths["/models"]),
            "metrics_ports": metrics_ports,
            "logs": logs,
        }


def operator_token(env: dict[str, str], app_dir: Path, admin_email: str) -> str:
    """`docker compose exec api stemdeck tokens create "$STEMDECK_ADMIN_EMAIL" …`: the
    first admin's token, the only thing the command prints on stdout."""
    command = ["stemdeck", "tokens", "create", admin_email]
    command += ["--scope", "jobs:read", "--scope", "jobs:write", "--name", "parity"]
    made = subprocess.run(local(command), env=env, cwd=app_dir, capture_output=True, text=True)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_the_migration_ran_once_and_every_healthcheck_passes(stack: dict[str, Any]) -> None:
    assert "database is up to date" in stack["migrate"].stdout
    for name, command in stack["health"].items():
        result = subprocess.run(
            command, env=stack["environment"](name), cwd=stack["app_dir"], capture_output=True
        )
        assert result.returncode == 0, (name, result.stderr)


def test_the_weights_one_shot_succeeds_offline_naming_what_it_could_not_fetch(
    stack: dict[str, Any],
) -> None:
    """GIVEN no reachable download source THEN the models service still exits 0 (so the
    workers waiting for it start), having converted Spleeter's weights into the volume
    and named each model it could not fetch."""
    models = stack["models"]
    assert models.returncode == 0, models.stderr
    assert "ready    spleeter:2stems" in models.stdout
    assert "missing  demucs:htdemucs:" in models.stderr
    assert (stack["models_volume"] / "spleeter" / "2stems.safetensors").is_file()
    assert not list(stack["models_volume"].rglob("*.th"))


def test_each_worker_replica_registers_under_its_own_name(stack: dict[str, Any]) -> None:
    names = [worker.name for worker in Worker.all(connection=stack["redis"])]
    assert len(names) == len(set(names)) == WORKERS


def test_jobs_complete_spread_over_the_workers_with_presigned_stems(
    stack: dict[str, Any], shared_audio: Path
) -> None:
    job_ids = []
    with httpx.Client(base_url=stack["base_url"], timeout=60) as anonymous:
        refused = anonymous.post("/api/jobs", files={"file": ("a.wav", b"RIFF")})
    assert refused.status_code == 401, refused.text  # accounts mode: nobody is let in unasked
    auth = {"Authorization": f"Bearer {stack['token']}"}
    with httpx.Client(base_url=stack["base_url"], timeout=60, headers=auth) as client:
        for round_ in range(2):
            for song in SONGS:
                with (shared_audio / song / "mixture.wav").open("rb") as handle:
                    response = client.post(
                        "/api/jobs",
                        files={"file": (f"{song}-{round_}.wav", handle, "audio/wav")},
                        data={"strategy": "four-stems-dsp", "formats": "flac"},
                    )
                assert response.status_code == 202, response.text
                job_ids.append(response.json()["id"])
        finished = {}
        for job_id in job_ids:
            wait_until(
                lambda job_id=job_id: (
                    client.get(f"/api/jobs/{job_id}").json()["status"] in {"completed", "failed"}
                ),
                f"job {job_id} finished (logs in {stack['logs']})",
                300,
            )
            finished[job_id] = client.get(f"/api/jobs/{job_id}").json()
        for job in finished.values():
            assert job["status"] == "completed", job["error"]
            assert [s["name"] for s in job["stems"]] == ["vocals", "drums", "bass", "other"]
        stem = finished[job_ids[0]]["stems"][0]
        redirect = client.get(stem["download_urls"]["flac"], follow_redirects=False)
    assert redirect.status_code == 307
    audio = httpx.get(redirect.headers["location"])
    assert audio.status_code == 200
    assert audio.content[:4] == b"fLaC"
    assert len(audio.content) == stem["sizes"]["flac"]
    # Named after the upload (job_ids[0] is the first song's first round).
    assert audio.headers["content-disposition"] == (
        f'attachment; filename="{SONGS[0]}-0 - vocals.flac"'
    )
    assert audio.headers["cache-control"] == "private, max-age=31536000, immutable"
    ran_on = {
        RqJob.fetch(job_id, connection=stack["redis"], serializer=JSONSerializer).worker_name
        for job_id in job_ids
    }
    assert len(ran_on) == WORKERS, f"every job ran on {ran_on}"


def test_every_process_serves_its_own_metrics_and_the_workers_add_up(
    stack: dict[str, Any],
) -> None:
    """As the monitoring profile's Prometheus scrapes them (each container on the metrics
    port Compose sets): the api, each worker replica and the reconciler answer /metrics,
    and the replicas' completed jobs add up to those the API reports completed."""
    samples = {}
    for name, port in stack["metrics_ports"].items():
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        samples[name] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
    assert set(samples) == {"api", "reconciler", *(f"worker-{i}" for i in range(WORKERS))}
    assert ("stemdeck_workers", ()) in samples["reconciler"]
    assert samples["reconciler"][("stemdeck_workers", ())] == WORKERS
    completed = sum(
        value
        for name, found in samples.items()
        if name.startswith("worker-")
        for (metric, labels), value in found.items()
        if metric == "stemdeck_jobs_total" and ("status", "completed") in labels
    )
    auth = {"Authorization": f"Bearer {stack['token']}"}
    listed = httpx.get(f"{stack['base_url']}/api/jobs?limit=100", headers=auth, timeout=30)
    assert completed == sum(job["status"] == "completed" for job in listed.json()["data"])
