#!/usr/bin/env bash
# Debian packages Stemdeck needs: Python's venv and a C toolchain with the Python headers
# (one dependency, diffq, is published only as source); ffmpeg decodes m4a/aac and video
# containers; Node.js and npm build the web app.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
python=${PYTHON:-python3}
missing=()
"$python" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
"$python" -c 'import os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' \
  2>/dev/null || missing+=(python3-dev)
command -v gcc >/dev/null && command -v g++ >/dev/null || missing+=(build-essential)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
# make bench only: wrk loads the API in bench/load.py.
if [ -n "${BENCH:-}" ]; then command -v wrk >/dev/null || missing+=(wrk); fi
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Vite, which builds the web app, needs Node.js 20.19+ (or 22.12+).
if ! node -e '
  const [major, minor] = process.versions.node.split(".").map(Number);
  process.exit(major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19) ? 0 : 1);
'; then
  echo "Node.js $(node --version) is too old to build the web app: install Node.js 20.19 or" \
    "22.12 or newer (Debian 12 and Ubuntu ship older ones: use NodeSource or nodejs.org)," \
    "then run make again." >&2
  exit 1
fi
