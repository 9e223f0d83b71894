#!/bin/sh
# Grafana's entrypoint in the compose stack: copies the provisioning folder (mounted read-only at
# /etc/grafana/banking-provisioning) to a writable place, writes the alert thresholds of the
# environment into the alert rules (render-alerts.sh), and starts Grafana as the image does.
set -eu

src=/etc/grafana/banking-provisioning
dst=/tmp/grafana-provisioning
rm -rf "$dst"
mkdir -p "$dst"
cp -R "$src"/. "$dst"/
for rules in "$src"/alerting/*.yaml; do
    [ -e "$rules" ] || continue
    sh "$(dirname "$0")/render-alerts.sh" "$rules" >"$dst/alerting/$(basename "$rules")"
done
export GF_PATHS_PROVISIONING="$dst"
exec /run.sh "$@"
