#!/bin/sh
# As the official image: each template's defined ${VAR}s (only those in the
# environment) are filled in; nginx's own $variables stay.
set -eu
defined=$(env | cut -d= -f1 | sed 's/^/${/; s/$/}/' | tr '\n' ' ')
for template in /etc/nginx/templates/*.template; do
  [ -f "$template" ] || continue
  out=/etc/nginx/conf.d/$(basename "$template" .template)
  envsubst "$defined" <"$template" >"$out"
  echo "$0: $template -> $out"
done
