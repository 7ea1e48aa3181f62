#!/bin/bash
# Boots one LiveKit SFU node (Amazon Linux 2023): starts the drain unit first, then ships the node's
# logs to the stack's log group (the CloudWatch agent), installs the pinned livekit-server (the
# stack's hardened build from S3 when LIVEKIT_ARCHIVE_S3 is set, else the upstream release) after
# checking its SHA-256, fills livekit.yaml's secrets from Secrets Manager, starts the SFU unit, and
# then the unit that protects the node from scale-in while it holds a room. The user data
# (infrastructure/constructs/livekit_fleet.py) writes this folder onto the node with the settings
# below in the environment, then runs this script.
#
# NODE_ROOT (empty on a node) prefixes every path written, so the tests can boot into a folder.
set -euo pipefail

: "${LIVEKIT_VERSION:?}" "${LIVEKIT_ARCH:?}" "${LIVEKIT_SHA256?}" "${AWS_REGION:?}"
: "${LIVEKIT_SECRET_ARN:?}" "${REDIS_SECRET_ARN:?}" "${DRAIN_SECONDS:?}" "${GROUP_NAME:?}" "${HOOK_NAME:?}"
: "${METRICS_PORT:?}" "${LOG_GROUP:?}"
ROOT="${NODE_ROOT:-}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RELEASES="${LIVEKIT_RELEASES:-https://github.com/livekit/livekit/releases/download}"

die() {
  echo "spaces-node: $*" >&2
  exit 1
}

install_livekit() {
  # Required: a node never runs a binary nobody vouched for.
  [[ "$LIVEKIT_SHA256" =~ ^[0-9a-f]{64}$ ]] ||
    die "LIVEKIT_SHA256 must be the SHA-256 (64 hex digits) of the ${LIVEKIT_VERSION} ${LIVEKIT_ARCH} server archive, got '${LIVEKIT_SHA256}'"
  local tarball work
  tarball="livekit_${LIVEKIT_VERSION#v}_linux_${LIVEKIT_ARCH}.tar.gz"
  work="$(mktemp -d)"
  if [[ -n "${LIVEKIT_ARCHIVE_S3:-}" ]]; then
    # The stack's own hardened build (scripts/build-livekit-archive.sh), an asset of the stack.
    aws s3 cp --only-show-errors --region "$AWS_REGION" "$LIVEKIT_ARCHIVE_S3" "${work}/${tarball}"
  else
    # A stalled download fails the boot in ~10 min, before the SfuUnhealthy alarm.
    curl -fsSL --connect-timeout 15 --speed-limit 10000 --speed-time 30 --max-time 300 \
      --retry 5 --retry-max-time 300 -o "${work}/${tarball}" "${RELEASES}/${LIVEKIT_VERSION}/${tarball}"
  fi
  if ! echo "${LIVEKIT_SHA256}  ${work}/${tarball}" | sha256sum --check --status -; then
    rm -rf "$work"
    die "${tarball} does not match LIVEKIT_SHA256; refusing to install it"
  fi
  # The archive's layout is not a contract: take the binary wherever it sits.
  tar -xzf "${work}/${tarball}" -C "$work" --wildcards --no-anchored --transform='s|.*/||' livekit-server
  install -D -m 0755 "${work}/livekit-server" "${ROOT}/usr/local/bin/livekit-server"
  rm -rf "$work"
}

tune_kernel() {
  # UDP buffers large enough for an SFU (the kernel default drops packets under load).
  install -D -m 0644 "${HERE}/90-livekit.conf" "${ROOT}/etc/sysctl.d/90-livekit.conf"
  sysctl --system >/dev/null
}

UNITS="${ROOT}/etc/systemd/system"

# A small unit of the node's own (livekit-<name>.sh run by livekit-<name>.service), with its
# settings in /etc/livekit/<name>.env: installed, enabled and started.
install_unit() {
  local name="$1" settings="$2"
  printf '%s\n' "$settings" >"${ROOT}/etc/livekit/${name}.env"
  install -D -m 0644 "${HERE}/livekit-${name}.service" "${UNITS}/livekit-${name}.service"
  install -D -m 0755 "${HERE}/livekit-${name}.sh" "${ROOT}/usr/local/bin/livekit-${name}"
  systemctl daemon-reload
  systemctl enable --now "livekit-${name}.service"
}

install_drain() {
  # First, before anything that can fail: a node whose boot fails (a download refused, a checksum
  # that does not match) is terminated by an operator, and its termination hook then waits
  # for this unit to complete it; without the unit it held the node for the hook's whole heartbeat.
  id livekit >/dev/null 2>&1 || useradd --system --no-create-home --shell /sbin/nologin livekit
  install -d -m 0750 "${ROOT}/etc/livekit"
  chgrp livekit "${ROOT}/etc/livekit"
  # What the drain unit needs to complete this node's lifecycle action.
  install_unit drain "$(printf 'AWS_REGION=%s\nGROUP_NAME=%s\nHOOK_NAME=%s' "$AWS_REGION" "$GROUP_NAME" "$HOOK_NAME")"
}

# The Amazon CloudWatch agent, as the distribution's package lays it out.
AGENT="${ROOT}/opt/aws/amazon-cloudwatch-agent"

ship_logs() {
  # Second: after the drain unit (the package download takes a while, and a termination hook
  # waits for that unit), before anything that can fail, so that cloud-init-output.log, this
  # boot's output, leaves the node with why the boot failed. Stops at the first step that fails
  # (the caller boots on); bounded, so that a repository that does not answer holds the SFU back
  # for 5 minutes at most.
  timeout 300 dnf install -y amazon-cloudwatch-agent logrotate || return
  # The agent reads files, not the journal: a unit copies the LiveKit units' journal into one,
  # which logrotate keeps small (logrotate-livekit.conf), checked every hour instead of every day.
  install -d -m 0750 "${ROOT}/var/log/livekit" || return
  install -D -m 0644 "${HERE}/logrotate-livekit.conf" "${ROOT}/etc/logrotate.d/livekit" || return
  install -d "${UNITS}/logrotate.timer.d" || return
  printf '[Timer]\nOnCalendar=\nOnCalendar=hourly\nAccuracySec=1m\n' >"${UNITS}/logrotate.timer.d/hourly.conf" || return
  install -D -m 0644 "${HERE}/livekit-journal.service" "${UNITS}/livekit-journal.service" || return
  systemctl daemon-reload || return
  systemctl enable --now logrotate.timer livekit-journal.service || return
  install -d "${AGENT}/etc" || return
  sed "s|__LOG_GROUP__|${LOG_GROUP}|g" "${HERE}/amazon-cloudwatch-agent.json" >"${AGENT}/etc/spaces-node.json" || return
  "${AGENT}/bin/amazon-cloudwatch-agent-ctl" -a fetch-config -m ec2 -s -c "file:${AGENT}/etc/spaces-node.json"
}

write_config() {
  python3 "${HERE}/fill_config.py" "${HERE}/livekit.template.yaml" "${ROOT}/etc/livekit/livekit.yaml"
  chgrp livekit "${ROOT}/etc/livekit/livekit.yaml"
}

start_livekit() {
  install -D -m 0644 "${HERE}/livekit.service" "${UNITS}/livekit.service"
  # SIGTERM drains (no new rooms, wait for the rooms to empty) for at most the group's drain time.
  install -d "${UNITS}/livekit.service.d"
  printf '[Service]\nTimeoutStopSec=%s\n' "$DRAIN_SECONDS" >"${UNITS}/livekit.service.d/drain.conf"
  systemctl daemon-reload
  systemctl enable --now livekit.service
}

start_protection() {
  # Last: it reads the room count from the running server.
  install_unit protect "$(printf 'AWS_REGION=%s\nGROUP_NAME=%s\nMETRICS_PORT=%s' "$AWS_REGION" "$GROUP_NAME" "$METRICS_PORT")"
}

install_drain
# A node whose logs cannot leave it still serves its rooms.
ship_logs || echo "spaces-node: this node's logs are not shipped to ${LOG_GROUP} (see above); booting on" >&2
install_livekit
tune_kernel
write_config
start_livekit
start_protection
