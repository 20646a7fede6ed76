#!/bin/bash
# Entrypoint of the telegraf stand-in, written to behave as the official
# image's documents and does: flags alone mean "telegraf <flags>"; as root,
# give /usr/bin/telegraf the capabilities to ping and bind low ports, then
# run the command as the telegraf user (its uid and groups; the group id
# stays that of the container's user).
set -e
if [ "${1:0:1}" = '-' ]; then
	set -- telegraf "$@"
fi
if [ "$(id -u)" -ne 0 ]; then
	exec "$@"
fi
setcap cap_net_raw,cap_net_bind_service+ep /usr/bin/telegraf || echo "Failed to set additional capabilities on /usr/bin/telegraf"
exec setpriv --reuid telegraf --init-groups "$@"
