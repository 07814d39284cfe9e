#!/bin/sh
# The official nginx image's entrypoint contract, for the command nginx.
set -eu
if [ "${1:-}" = nginx ]; then
  for script in /docker-entrypoint.d/*; do
    case $script in
      *.envsh) echo "$0: sourcing $script"; . "$script" ;;
      *.sh) echo "$0: running $script"; "$script" ;;
    esac
  done
fi
exec "$@"
