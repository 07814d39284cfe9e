#!/usr/bin/env bash
# `cp .env.example .env && docker compose up`, rehearsed for real before a release:
# the Compose file, Dockerfiles, nginx config and entrypoints run unchanged, as
# containers, with a browser at the web port. `make rehearse` (as root; 30-60 min).
#
# For machines like the build machines, which have Podman but no Docker engine and
# cannot pull from Docker Hub or quay.io, or reach PyTorch's wheel index:
#   - the engine is Podman (runc) behind its Docker-compatible socket, driven by the
#     real Docker CLI and Docker Compose v2 (Debian's docker-compose package);
#   - every official image the Compose file and Dockerfiles name is stood in for by
#     a local image built from Debian packages (scripts/rehearsal/standins, tagged
#     with the official name; what each one differs in is printed at the end);
#   - PyTorch's CPU index is a local index holding the CPU torch wheel pip finds here;
#   - Podman runs healthchecks from systemd timers, which a container-less build
#     machine lacks: a loop here runs each container's own healthcheck command
#     every 5 s, which is what the timers would do.
# Everything it makes (containers, volumes, networks, the Podman socket) it removes;
# the images stay, so a second run skips the builds (STEMDECK_REHEARSAL_REBUILD=1
# rebuilds them).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PY=$REPO/.venv/bin/python
WORK=${STEMDECK_REHEARSAL_WORK:-/tmp/stemdeck-rehearsal}
PROJECT=$WORK/project
STANDINS=$REPO/scripts/rehearsal/standins
AUDIO=${STEMDECK_TEST_AUDIO_DIR:-$REPO/../shared/audio}
PROVED=()
note() { echo "=== $*"; }
proved() { PROVED+=("$*"); echo "  ok: $*"; }
die() { echo "rehearsal: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (Podman builds and runs the stack's containers)"
[ -x "$PY" ] || die "run 'make install' first (the checks use the project's venv)"
mkdir -p "$WORK"

. "$REPO/scripts/rehearsal/engine.sh"
. "$REPO/scripts/rehearsal/images.sh"
. "$REPO/scripts/rehearsal/stack.sh"

start_engine
trap 'stop_stack; stop_engine' EXIT
build_base_images
prepare_project
build_project_images
run_stack
report
