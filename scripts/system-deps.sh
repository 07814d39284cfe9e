#!/usr/bin/env bash
# Debian packages Stemdeck needs: ffmpeg decodes m4a/aac and video containers; Node.js
# and npm build the web app.
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
missing=()
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Vite, which builds the web app, needs Node.js 20 or newer.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "Node.js $(node --version) is too old to build the web app: install Node.js 20 or newer" \
    "(e.g. from your distribution's backports or nodejs.org), then run make again." >&2
  exit 1
fi
