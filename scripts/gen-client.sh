#!/usr/bin/env bash
# The web app's API types, generated from the service's OpenAPI schema.
#   scripts/gen-client.sh          write services/frontend/src/api/schema.d.ts
#   scripts/gen-client.sh --check  fail when the committed file is out of date
set -euo pipefail
cd "$(dirname "$0")/.."
frontend=services/frontend
target=$frontend/src/api/schema.d.ts
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"${VENV_BIN:-.venv/bin}/python" -m stemdeck.api.openapi_dump > "$scratch/openapi.json"
"$frontend/node_modules/.bin/openapi-typescript" "$scratch/openapi.json" -o "$scratch/schema.d.ts" >/dev/null
if [ "${1:-}" = "--check" ]; then
  if ! cmp -s "$scratch/schema.d.ts" "$target"; then
    echo "$target is out of date with the API; run: make gen-client" >&2
    exit 1
  fi
else
  cp "$scratch/schema.d.ts" "$target"
  echo "wrote $target"
fi
