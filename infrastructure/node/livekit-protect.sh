#!/bin/bash
# Scale-in protection: while this node holds a room, the Auto Scaling group must not pick it to
# scale in. The group's CPU target is an average, so one node busy with a big Space and two idle
# ones read as underused, and the group's termination policy could take the busy node; its drain
# would then end every room longer than the drain time. Every PROTECT_INTERVAL_SECONDS this reads
# the node's own room count from livekit-server's Prometheus metrics and, when it changes between
# none and some, sets the instance's protection. Settings from /etc/livekit/protect.env.
set -uo pipefail
: "${AWS_REGION:?}" "${GROUP_NAME:?}" "${METRICS_PORT:?}"
INTERVAL="${PROTECT_INTERVAL_SECONDS:-15}"
# The instance metadata service; the tests point it at a stand-in.
IMDS="${IMDS_URL:-http://169.254.169.254}"

imds() {
  local token
  token=$(curl -sf --max-time 2 -X PUT "${IMDS}/latest/api/token" \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60') &&
    curl -sf --max-time 2 -H "X-aws-ec2-metadata-token: ${token}" "${IMDS}/latest/meta-data/$1"
}

# Rooms this node holds (`livekit_room_total`, one line per node id); nothing if livekit-server does
# not answer or no longer exports the gauge, so that a booting or stopping server changes nothing.
rooms() {
  curl -sf --max-time 5 "http://127.0.0.1:${METRICS_PORT}/metrics" |
    awk '$1 ~ /^livekit_room_total($|\{)/ { n += $NF; seen = 1 } END { if (seen) print n + 0 }'
}

instance=""
current=""
while true; do
  [ -n "$instance" ] || instance=$(imds instance-id) || instance=""
  # Only an InService instance can change its protection; a terminating one is draining already.
  if [ -n "$instance" ] && [ "$(imds autoscaling/target-lifecycle-state)" = "InService" ]; then
    count=$(rooms)
    if [ -n "$count" ]; then
      if awk -v n="$count" 'BEGIN { exit !(n > 0) }'; then want=protected; else want=unprotected; fi
      if [ "$want" != "$current" ]; then
        flag=--no-protected-from-scale-in
        [ "$want" = protected ] && flag=--protected-from-scale-in
        if aws autoscaling set-instance-protection --region "$AWS_REGION" \
          --auto-scaling-group-name "$GROUP_NAME" --instance-ids "$instance" "$flag"; then
          echo "livekit-protect: ${want} from scale-in (${count} rooms)"
          current="$want"
        fi
      fi
    fi
  fi
  sleep "$INTERVAL"
done
