#!/bin/sh
# Grafana's entrypoint in the compose stack: writes its provisioning to a writable place from the
# read-only mounts of grafana/provisioning and grafana/notifications (prepare-provisioning.sh: alert
# thresholds and the optional webhook from the environment), and starts Grafana as the image does.
set -eu

dst=/tmp/grafana-provisioning
sh "$(dirname "$0")/prepare-provisioning.sh" \
    /etc/grafana/banking-provisioning /etc/grafana/banking-notifications "$dst"
export GF_PATHS_PROVISIONING="$dst"
exec /run.sh "$@"
