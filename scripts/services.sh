#!/usr/bin/env bash
# Make sure the Postgres and Redis the tests use are running on 127.0.0.1,
# installing them from Debian's packages on a fresh machine.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
apt_install() {
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# The compose parity and fault tests make Postgres clusters of their own (initdb) and
# the nginx test runs nginx, so both are needed even where a Postgres already listens.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || apt_install postgresql
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || apt_install nginx-light
# s3rver (npm): the S3 server the presigned-URL expiry test needs.
command -v npm >/dev/null || apt_install nodejs npm
s3rver=tests/s3rver
if [ ! -f "$s3rver/node_modules/.package-lock.json" ] \
    || [ "$s3rver/package-lock.json" -nt "$s3rver/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$s3rver" --no-audit --no-fund --silent
fi

if ! port_open 5432; then
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  # Tests connect over TCP without a password, as the postgres superuser and, where they
  # check what a server answers an unknown role, as roles that do not exist (Debian's
  # default asks those for a password first): trust on 127.0.0.1, as on the CI machines.
  hba=/etc/postgresql/$version/main/pg_hba.conf
  if ! grep -q "stemdeck-tests-all" "$hba"; then
    as_root sed -i '/# stemdeck-tests$/d' "$hba"
    as_root sed -i '1i host all all 127.0.0.1/32 trust # stemdeck-tests-all' "$hba"
  fi
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
  for _ in $(seq 50); do port_open 5432 && break; sleep 0.2; done
fi

if ! port_open 6379; then
  command -v redis-server >/dev/null || apt_install redis-server
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/stemdeck-tests.log
  for _ in $(seq 50); do port_open 6379 && break; sleep 0.2; done
fi

port_open 5432 || { echo "Postgres is not reachable on 127.0.0.1:5432" >&2; exit 1; }
port_open 6379 || { echo "Redis is not reachable on 127.0.0.1:6379" >&2; exit 1; }
