#!/usr/bin/env bash
# Build the api and worker images with Podman and run them against services on
# this machine: migrate, the API, two worker containers, four jobs.
#
# For machines like the build machines, which have Podman but no Docker engine
# and cannot pull base images or reach PyTorch's wheel index:
#   - python:3.11-slim is stood in for by a Debian bookworm root filesystem made
#     with debootstrap (Python 3.11 from Debian, with its headers and the host's
#     CA bundle), tagged docker.io/library/python:3.11-slim;
#   - PyTorch's CPU index is stood in for by a local index holding the CPU
#     torch wheel pip finds here (TORCH_CPU_INDEX build argument).
# Postgres (a throwaway database), Redis (db 13) and an S3 server (moto) are the
# host's. The frontend image is not built: its node and nginx bases cannot be
# pulled here. Usage: sudo bash scripts/podman-smoke.sh   (takes 5-10 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=$REPO/.venv/bin/python
WORK=${STEMDECK_PODMAN_WORK:-/tmp/stemdeck-podman}
DB=stemdeck_podman_smoke
REDIS_URL=redis://127.0.0.1:6379/13
AUDIO=${STEMDECK_TEST_AUDIO_DIR:-$REPO/../shared/audio}
mkdir -p "$WORK"
podman() { command podman --runtime runc "$@"; }
LIMITS=(--ulimit nofile=1024:1024 --ulimit nproc=1024:1024)
free_port() { "$PY" -c "import socket;s=socket.socket();s.bind(('127.0.0.1',0));print(s.getsockname()[1])"; }

command -v podman >/dev/null && command -v debootstrap >/dev/null && command -v runc >/dev/null \
  || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null

if ! podman image exists docker.io/library/python:3.11-slim; then
  echo "--- base image (debootstrap)"
  rootfs=$WORK/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase \
    --include=python3,python3-venv,python3-dev,python-is-python3,ca-certificates \
    bookworm "$rootfs" http://deb.debian.org/debian >"$WORK/debootstrap.log"
  cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb
  tar -C "$rootfs" -c . | podman import - docker.io/library/python:3.11-slim >/dev/null
  rm -rf "$rootfs"
fi

echo "--- a local index with CPU torch"
index=$WORK/torch-index
rm -rf "$index" && mkdir -p "$index/files"
"$REPO/.venv/bin/pip" download -q torch==2.13.0 -d "$index/files"
"$PY" - "$index" <<'PY'
import pathlib, re, sys
root = pathlib.Path(sys.argv[1])
projects: dict[str, list[str]] = {}
for wheel in sorted((root / "files").glob("*.whl")):
    projects.setdefault(re.sub(r"[-_.]+", "-", wheel.name.split("-")[0]).lower(), []).append(wheel.name)
for name, files in projects.items():
    page = root / "simple" / name / "index.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("".join(f'<a href="../../files/{f}">{f}</a><br>' for f in files))
PY
index_port=$(free_port)
"$PY" -m http.server "$index_port" --bind 127.0.0.1 --directory "$index" >"$WORK/index.log" 2>&1 &
index_pid=$!
moto_port=$(free_port)
"$REPO/.venv/bin/moto_server" -H 127.0.0.1 -p "$moto_port" >"$WORK/moto.log" 2>&1 &
moto_pid=$!
cleanup() {
  podman rm -f stemdeck-smoke-api stemdeck-smoke-worker-1 stemdeck-smoke-worker-2 >/dev/null 2>&1 || true
  kill "$index_pid" "$moto_pid" 2>/dev/null || true
}
trap cleanup EXIT

echo "--- build"
podman build -q --pull=never "${LIMITS[@]}" -f services/api/Dockerfile -t localhost/stemdeck-api:latest .
podman build -q --pull=never --network host "${LIMITS[@]}" --build-arg DEVICE=cpu \
  --build-arg TORCH_CPU_INDEX="http://127.0.0.1:$index_port/simple" \
  -f services/worker/Dockerfile -t localhost/stemdeck-worker:cpu .
podman run --rm "${LIMITS[@]}" localhost/stemdeck-api:latest \
  python -c "import importlib.util as u, os; assert u.find_spec('torch') is None; assert os.getuid() != 0"
echo "api image: no torch, not root"

"$PY" - "$DB" <<'PY'
import sys
from sqlalchemy import create_engine, text
engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
with engine.connect() as connection:
    connection.execute(text(f'DROP DATABASE IF EXISTS "{sys.argv[1]}" WITH (FORCE)'))
    connection.execute(text(f'CREATE DATABASE "{sys.argv[1]}"'))
PY
"$PY" -c "from redis import Redis; Redis.from_url('$REDIS_URL').flushdb()"
api_port=$(free_port)
cat >"$WORK/smoke.env" <<ENV
STEMDECK_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/$DB
STEMDECK_REDIS_URL=$REDIS_URL
STEMDECK_STORAGE=s3
STEMDECK_S3_ENDPOINT=http://127.0.0.1:$moto_port
STEMDECK_S3_BUCKET=stemdeck-smoke
STEMDECK_S3_ACCESS_KEY=smoke
STEMDECK_S3_SECRET_KEY=smoke-secret
STEMDECK_HOST=127.0.0.1
STEMDECK_PORT=$api_port
ENV
RUN=(podman run "${LIMITS[@]}" --network host --env-file "$WORK/smoke.env")

echo "--- migrate, api, two workers"
"${RUN[@]}" --rm localhost/stemdeck-api:latest stemdeck migrate
"${RUN[@]}" -d --name stemdeck-smoke-api localhost/stemdeck-api:latest >/dev/null
for name in worker-1 worker-2; do
  "${RUN[@]}" -d --name "stemdeck-smoke-$name" --hostname "$name" localhost/stemdeck-worker:cpu >/dev/null
done
healthy() { podman exec "$1" stemdeck healthcheck "$2" >/dev/null 2>&1; }
for _ in $(seq 120); do
  healthy stemdeck-smoke-api api && healthy stemdeck-smoke-worker-1 worker \
    && healthy stemdeck-smoke-worker-2 worker && break
  sleep 1
done
healthy stemdeck-smoke-api api && healthy stemdeck-smoke-worker-1 worker \
  && healthy stemdeck-smoke-worker-2 worker || { echo "not healthy" >&2; exit 1; }
echo "api and both workers pass their healthchecks"

echo "--- four jobs"
"$PY" - "http://127.0.0.1:$api_port" "$REDIS_URL" "$AUDIO" <<'PY'
import sys, time
import httpx
from redis import Redis
from rq.job import Job
from rq.serializers import JSONSerializer
base, redis_url, audio = sys.argv[1], sys.argv[2], sys.argv[3]
songs = ["Music_Delta__80s_Rock", "The_Easton_Ellises__Falcon_69"] * 2
ids = []
with httpx.Client(base_url=base, timeout=60) as client:
    for song in songs:
        with open(f"{audio}/{song}/mixture.wav", "rb") as handle:
            answer = client.post("/api/jobs", files={"file": (f"{song}.wav", handle)},
                                 data={"strategy": "four-stems-dsp"})
        answer.raise_for_status()
        ids.append(answer.json()["id"])
    for job_id in ids:
        for _ in range(300):
            job = client.get(f"/api/jobs/{job_id}").json()
            if job["status"] in {"completed", "failed"}:
                break
            time.sleep(1)
        assert job["status"] == "completed", job
    stem = client.get(f"/api/jobs/{ids[0]}").json()["stems"][0]
    audio = client.get(stem["urls"]["flac"], follow_redirects=True)
    assert audio.status_code == 200 and len(audio.content) == stem["sizes"]["flac"]
connection = Redis.from_url(redis_url)
ran_on = sorted({Job.fetch(i, connection=connection, serializer=JSONSerializer).worker_name for i in ids})
print(f"4 jobs completed, on {ran_on}; a stem downloaded through its presigned URL")
assert len(ran_on) == 2
PY
podman images --format "{{.Repository}}:{{.Tag}} {{.Size}}" | grep stemdeck
"$PY" - "$DB" <<'PY'
import sys
from sqlalchemy import create_engine, text
engine = create_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres", isolation_level="AUTOCOMMIT")
with engine.connect() as connection:
    connection.execute(text(f'DROP DATABASE IF EXISTS "{sys.argv[1]}" WITH (FORCE)'))
PY
echo "podman smoke test passed"
