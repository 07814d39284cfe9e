# Images for the rehearsal: a Debian base from debootstrap, the stand-ins for the
# official images (tagged with their names), then the project's own, built by
# `docker compose build` from the Compose file. Sourced by compose-rehearsal.sh.

BASE=localhost/stemdeck-rehearsal/debian:bookworm
# Official image (as the Compose file and Dockerfiles name it) -> stand-in folder.
# python first: node, minio and mc build on it.
STANDIN_IMAGES=(
  "docker.io/library/python:3.11-slim=python"
  "docker.io/library/postgres:16-alpine=postgres"
  "docker.io/library/redis:7.4-alpine=redis"
  "docker.io/nginxinc/nginx-unprivileged:1.30-alpine=nginx"
  "docker.io/library/node:24-alpine=node"
  "quay.io/minio/minio:RELEASE.2025-09-07T16-13-09Z=minio"
  "quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z=mc"
)

build() { podman build -q --pull=never "$@" >/dev/null; }

build_base_images() {
  note "stand-in images for the official ones"
  if [ -n "${STEMDECK_REHEARSAL_REBUILD:-}" ] || ! podman image exists "$BASE"; then
    local rootfs=$WORK/rootfs
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=ca-certificates bookworm "$rootfs" "$DEBIAN_MIRROR" \
      >"$WORK/debootstrap.log" 2>&1 || die "debootstrap failed ($WORK/debootstrap.log)"
    # The registries are reached through this machine's CA.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | podman import -q - "$BASE" >/dev/null
    rm -rf "$rootfs"
  fi
  local pair image folder context
  for pair in "${STANDIN_IMAGES[@]}"; do
    image=${pair%=*} folder=${pair#*=}
    if [ -z "${STEMDECK_REHEARSAL_REBUILD:-}" ] && podman image exists "$image"; then continue; fi
    context=$WORK/standin-$folder
    rm -rf "$context" && cp -r "$STANDINS/$folder" "$context"
    case $folder in minio | mc) cp "$REPO"/scripts/rehearsal/minio/{s3_standin.py,minio,mc} "$context/" ;; esac
    build -t "$image" "$context" || die "building the $folder stand-in failed"
    echo "  $image <- scripts/rehearsal/standins/$folder"
  done
  # Every image the stack pulls must be one of the stand-ins.
  local named
  for named in $(docker compose -f "$REPO/docker-compose.yml" --env-file "$REPO/.env.example" config --images 2>/dev/null) \
    $(grep -ho '^FROM [^ ]*' "$REPO"/services/*/Dockerfile | awk '{print $2}'); do
    case $named in stemdeck-*) continue ;; esac
    podman image exists "$named" || die "the stack names $named, which has no stand-in here"
  done
}

# PyTorch's CPU index, stood in for by the CPU wheel (and its dependencies) pip finds here.
serve_torch_index() {
  local index=$WORK/torch-index
  if [ ! -d "$index/simple/torch" ]; then
    rm -rf "$index" && mkdir -p "$index/files"
    "$REPO/.venv/bin/pip" download -q torch==2.13.0 -d "$index/files"
    "$PY" "$REPO/scripts/rehearsal/simple_index.py" "$index"
  fi
  local port
  port=$("$PY" -c "import socket;s=socket.socket();s.bind(('',0));print(s.getsockname()[1])")
  "$PY" -m http.server "$port" --directory "$index" >"$WORK/torch-index.log" 2>&1 &
  INDEX_PID=$!
  # Podman names the host in every container; the python stand-in trusts it for pip.
  TORCH_CPU_INDEX=http://host.containers.internal:$port/simple
}

# The checkout's files as a user would have them after `git clone`, plus what is
# not yet committed: Compose runs there, so the .env it writes is not the repo's.
prepare_project() {
  note "project: $PROJECT (cp .env.example .env, fresh secrets)"
  rm -rf "$PROJECT" && mkdir -p "$PROJECT"
  git -C "$REPO" ls-files -z --cached --others --exclude-standard | (cd "$REPO" && xargs -0 tar -c 2>/dev/null) \
    | tar -C "$PROJECT" -x
  cp "$PROJECT/.env.example" "$PROJECT/.env"
  # Every example secret (change-me-…) becomes a fresh random one, as .env.example says.
  local secret
  while grep -q '=change-me-' "$PROJECT/.env"; do
    secret=$(openssl rand -hex 16)
    sed -i "0,/=change-me-[a-z]*/s//=$secret/" "$PROJECT/.env"
  done
  WEB_PORT=$(awk -F= '$1 == "WEB_PORT" {print $2}' "$PROJECT/.env")
  ADMIN_EMAIL=$(awk -F= '$1 == "STEMDECK_ADMIN_EMAIL" {print $2}' "$PROJECT/.env")
  ADMIN_PASSWORD=$(awk -F= '$1 == "STEMDECK_ADMIN_PASSWORD" {print $2}' "$PROJECT/.env")
  ! ss -ltn "sport = :$WEB_PORT" | grep -q LISTEN || die "port $WEB_PORT is taken: stop what listens there"
}

build_project_images() {
  note "docker compose build"
  serve_torch_index
  local started=$SECONDS
  (cd "$PROJECT" && docker compose build --build-arg "TORCH_CPU_INDEX=$TORCH_CPU_INDEX") \
    >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log"; die "docker compose build failed ($WORK/build.log)"; }
  kill "$INDEX_PID" 2>/dev/null || true
  BUILD_S=$((SECONDS - started))
  proved "the api, worker and frontend images build from the Compose file in ${BUILD_S} s"
}
