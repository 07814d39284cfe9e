#!/bin/sh
# The minio-init one-shot of docker-compose.yml, run with MinIO's root keys (which
# no Stemdeck service gets): it makes the bucket, and the app's own user whose
# policy (app-policy.json beside this file) reaches that bucket's objects only.
# api, worker and reconciler sign with that user's keys. Safe to run again: each
# step keeps what is there, and a changed MINIO_APP_PASSWORD takes effect.
set -eu

POLICY_NAME=stemdeck-app
fail() {
  echo "minio-init: $*" >&2
  exit 1
}

# An example value is public (it is in .env.example): refuse it, naming the variable.
refuse_example() {
  if [ "$2" = "$3" ]; then
    fail "$1 still holds the example secret '$3' from .env.example, which anyone can read; change it to a long random string (openssl rand -hex 24)"
  fi
}
refuse_example MINIO_ROOT_PASSWORD "${MINIO_ROOT_PASSWORD:?set MINIO_ROOT_PASSWORD}" change-me-minio
refuse_example MINIO_APP_PASSWORD "${MINIO_APP_PASSWORD:?set MINIO_APP_PASSWORD}" change-me-minioapp
# MinIO takes secret keys of 8 to 40 characters; say which one, before mc's own words.
for name in MINIO_ROOT_PASSWORD MINIO_APP_PASSWORD; do
  eval "length=\${#$name}"
  if [ "$length" -lt 8 ] || [ "$length" -gt 40 ]; then
    fail "$name is $length characters long; MinIO takes 8 to 40: use openssl rand -hex 16"
  fi
done
[ "${MINIO_APP_USER:?set MINIO_APP_USER}" != "${MINIO_ROOT_USER:?set MINIO_ROOT_USER}" ] ||
  fail "MINIO_APP_USER must differ from MINIO_ROOT_USER: the app never gets the root keys"
bucket=${STEMDECK_S3_BUCKET:?set STEMDECK_S3_BUCKET}
case $bucket in
  *[!a-z0-9.-]* | ?? | ?) fail "STEMDECK_S3_BUCKET: '$bucket' is not a bucket name (3 or more of a-z, 0-9, '.', '-')" ;;
esac

# The policy with the bucket filled in, in plain sh (the mc image has no envsubst).
render_policy() {
  placeholder='${STEMDECK_S3_BUCKET}'
  while IFS= read -r line || [ -n "$line" ]; do
    while :; do
      case $line in
        *"$placeholder"*) line="${line%%"$placeholder"*}$bucket${line#*"$placeholder"}" ;;
        *) break ;;
      esac
    done
    printf '%s\n' "$line"
  done <"$1"
}
here=${0%/*} # beside this script; only sh builtins and mc are used
policy=${TMPDIR:-/tmp}/stemdeck-app-policy.json
render_policy "$here/app-policy.json" >"$policy"

mc alias set stemdeck "${MINIO_URL:-http://minio:9000}" "$MINIO_ROOT_USER" "$MINIO_ROOT_PASSWORD" >/dev/null
mc mb --ignore-existing "stemdeck/$bucket"
mc admin policy create stemdeck "$POLICY_NAME" "$policy"
mc admin user add stemdeck "$MINIO_APP_USER" "$MINIO_APP_PASSWORD"
# attach fails when the policy is attached already (a second `up`): check, then go on.
if ! mc admin policy attach stemdeck "$POLICY_NAME" --user "$MINIO_APP_USER"; then
  case $(mc admin user info stemdeck "$MINIO_APP_USER") in
    *"$POLICY_NAME"*) ;;
    *) fail "could not give $MINIO_APP_USER the $POLICY_NAME policy" ;;
  esac
fi
echo "minio-init: bucket $bucket ready; $MINIO_APP_USER may use its objects only"
