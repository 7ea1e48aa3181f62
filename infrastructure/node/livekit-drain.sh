#!/bin/bash
# Scale-in: when the Auto Scaling group marks this node Terminated, stop livekit (SIGTERM drains its
# rooms, bounded by TimeoutStopSec), then let the group continue. Settings from /etc/livekit/drain.env.
set -uo pipefail
: "${AWS_REGION:?}" "${GROUP_NAME:?}" "${HOOK_NAME:?}"

imds() {
  local token
  token=$(curl -sf --max-time 2 -X PUT http://169.254.169.254/latest/api/token \
    -H 'X-aws-ec2-metadata-token-ttl-seconds: 60')
  curl -sf --max-time 2 -H "X-aws-ec2-metadata-token: ${token}" "http://169.254.169.254/latest/meta-data/$1"
}

# Bounded calls (a hung one would stop the watch); the id first.
instance_id=""
until [ -n "$instance_id" ]; do
  instance_id="$(imds instance-id)" || true
  [ -n "$instance_id" ] || sleep 2
done
until [ "$(imds autoscaling/target-lifecycle-state)" = "Terminated" ]; do sleep 5; done
systemctl stop livekit
aws autoscaling complete-lifecycle-action --region "$AWS_REGION" \
  --auto-scaling-group-name "$GROUP_NAME" --lifecycle-hook-name "$HOOK_NAME" \
  --instance-id "$instance_id" --lifecycle-action-result CONTINUE
