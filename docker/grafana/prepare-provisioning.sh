#!/bin/sh
# Writes the provisioning that Grafana reads into DST: a copy of PROVISIONING_DIR (grafana/provisioning)
# with the alert thresholds of the environment (render-alerts.sh) and, only when
# BANKING_ALERT_WEBHOOK_URL is set, the webhook contact point and notification policy of
# NOTIFICATIONS_DIR/webhook.yaml (grafana/notifications). Grafana interpolates the URL itself, but its
# provisioning has no conditionals and a webhook without a URL stops Grafana from starting: this
# script is the switch. Unset, alerts stay with Grafana's default policy.
#   usage: prepare-provisioning.sh PROVISIONING_DIR NOTIFICATIONS_DIR DST
set -eu

usage="usage: prepare-provisioning.sh PROVISIONING_DIR NOTIFICATIONS_DIR DST"
src=${1:?$usage}
notifications=${2:?$usage}
dst=${3:?$usage}

rm -rf "$dst"
mkdir -p "$dst"
cp -R "$src"/. "$dst"/
for rules in "$src"/alerting/*.yaml; do
    [ -e "$rules" ] || continue
    sh "$(dirname "$0")/render-alerts.sh" "$rules" >"$dst/alerting/$(basename "$rules")"
done

url=${BANKING_ALERT_WEBHOOK_URL:-}
if [ -n "$url" ]; then
    case $url in
        http://?* | https://?*) ;;
        *)
            # Not echoed: a webhook URL often carries a token.
            echo "prepare-provisioning: BANKING_ALERT_WEBHOOK_URL must start with http:// or https://" >&2
            exit 1
            ;;
    esac
    mkdir -p "$dst/alerting"
    cp "$notifications/webhook.yaml" "$dst/alerting/banking-notifications.yaml"
fi
