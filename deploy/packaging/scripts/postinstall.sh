#!/bin/sh
# logpipe postinstall (deb and rpm): make systemd see the new or updated units. The units
# are not enabled or started: edit /etc/logpipe/*.hcl first, then
#   systemctl enable --now logpipe-ship   (or logpipe-index)
# On upgrade, running units are restarted so that the new binary runs.
set -e

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
	# deb: "configure <old-version>"; rpm: $1 = 2 on upgrade.
	if [ "$1" = 2 ] || { [ "$1" = configure ] && [ -n "$2" ]; }; then
		for unit in logpipe-ship.service logpipe-index.service; do
			systemctl try-restart "$unit" || true
		done
	fi
fi
exit 0
