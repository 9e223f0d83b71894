#!/bin/sh
# Prints an alert rule file with each threshold line marked `# env NAME` set to $NAME, when NAME is
# set and non-empty; other lines unchanged. Grafana interpolates environment variables in
# provisioning files, but not inside an alert query's model (so that $__timeFilter survives),
# which is where a threshold lives: this is how the compose stack makes thresholds configurable.
#   usage: render-alerts.sh grafana/provisioning/alerting/banking.yaml > rendered.yaml
set -eu

file=${1:?usage: render-alerts.sh ALERT_RULES_FILE}
script=""
for name in $(sed -n 's/^[[:space:]]*- [0-9.][0-9.]*[[:space:]]*# env \([A-Z_][A-Z0-9_]*\)$/\1/p' "$file"); do
    eval "value=\${$name:-}"
    [ -n "$value" ] || continue
    case $value in
        *[!0-9.]* | .* | *. | *.*.*)
            echo "render-alerts: $name must be a non-negative number like 0.1 or 300, got '$value'" >&2
            exit 1
            ;;
    esac
    script="$script
s/^\([[:space:]]*- \)[0-9.][0-9.]*\([[:space:]]*# env $name\)\$/\1$value\2/"
done
sed "$script" "$file"
