# The container engine for the rehearsal: Podman behind a Docker-compatible socket,
# the Docker CLI, and Docker Compose v2 as its CLI plugin. Sourced by
# scripts/compose-rehearsal.sh (WORK, REPO set there).

DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Docker Compose v2 from Debian 13's package: Debian 12 ships only Compose v1.
COMPOSE_SUITE=trixie
export DOCKER_HOST=unix://$WORK/podman.sock
export DOCKER_CONFIG=$WORK/docker-config
export CONTAINERS_CONF=$WORK/containers.conf
# The engine's own builder (Podman's Buildah through the socket): BuildKit would run in a container of its own image.
export DOCKER_BUILDKIT=0

install_tools() {
  local missing=()
  command -v podman >/dev/null || missing+=(podman)
  command -v runc >/dev/null || missing+=(runc)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v docker >/dev/null || missing+=(docker-cli)
  command -v chromium >/dev/null || missing+=(chromium)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  if [ ! -x "$DOCKER_CONFIG/cli-plugins/docker-compose" ]; then
    local index deb
    index=$(curl -fsS "$DEBIAN_MIRROR/dists/$COMPOSE_SUITE/main/binary-amd64/Packages.xz" | xz -dc)
    deb=$(awk '/^Package: docker-compose$/ { p = 1 } p && /^Filename:/ { print $2; exit }' <<<"$index")
    [ -n "$deb" ] || die "no docker-compose package in Debian $COMPOSE_SUITE"
    curl -fsS -o "$WORK/docker-compose.deb" "$DEBIAN_MIRROR/$deb"
    rm -rf "$WORK/docker-compose-deb" && dpkg-deb -x "$WORK/docker-compose.deb" "$WORK/docker-compose-deb"
    mkdir -p "$DOCKER_CONFIG/cli-plugins"
    cp "$WORK/docker-compose-deb/usr/libexec/docker/cli-plugins/docker-compose" "$DOCKER_CONFIG/cli-plugins/"
  fi
}

start_engine() {
  # runc (crun fails on this cgroup setup) and the limits these machines allow.
  cat >"$CONTAINERS_CONF" <<'CONF'
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
runtime = "runc"
CONF
  install_tools
  note "engine: Podman $(podman --version | awk '{print $3}') behind the Docker socket"
  # podman reads registry logins from DOCKER_CONFIG too: an empty one.
  [ -f "$DOCKER_CONFIG/config.json" ] || { mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"; }
  rm -f "$WORK/podman.sock"
  podman system service --time=0 "$DOCKER_HOST" >"$WORK/podman-service.log" 2>&1 &
  ENGINE_PID=$!
  for _ in $(seq 50); do docker version >/dev/null 2>&1 && break; sleep 0.2; done
  docker version >/dev/null 2>&1 || die "the Podman socket did not answer ($WORK/podman-service.log)"
  echo "  $(docker compose version)"
  health_ticker &
  TICKER_PID=$!
}

# What Podman's systemd timers would do: each running container's healthcheck, every 5 s.
health_ticker() {
  while sleep 5; do
    for id in $(podman ps -q --filter health=starting --filter health=healthy --filter health=unhealthy 2>/dev/null); do
      podman healthcheck run "$id" >/dev/null 2>&1 &
    done
    wait
  done
}

stop_engine() {
  kill "${TICKER_PID:-}" "${ENGINE_PID:-}" 2>/dev/null || true
  rm -f "$WORK/podman.sock"
}
