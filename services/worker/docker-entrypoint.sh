#!/bin/sh
# Fetch the default strategy's weights into the models volume on first start
# (where the network allows), then run the command. A fetch that fails is only
# reported: jobs then fetch on first use, or are refused naming the files.
set -eu
if [ "${1:-}" = "stemdeck" ] && [ "${2:-}" = "worker" ] \
    && [ "${STEMDECK_MODEL_DOWNLOADS:-true}" = "true" ] && [ -n "${STEMDECK_DEFAULT_STRATEGY:-}" ]; then
  stemdeck models --strategy "$STEMDECK_DEFAULT_STRATEGY" \
    || echo "stemdeck: could not fetch the weights of $STEMDECK_DEFAULT_STRATEGY now; continuing" >&2
fi
exec "$@"
