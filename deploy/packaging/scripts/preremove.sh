#!/bin/sh
# logpipe preremove (deb and rpm): on removal (not upgrade), stop and disable the units.
# Stopping drains: offsets of what was delivered are committed.
set -e

# deb: "remove"; rpm: $1 = 0 on erase (1 on upgrade).
if [ "$1" = remove ] || [ "$1" = 0 ]; then
	if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
		for unit in logpipe-ship.service logpipe-index.service; do
			systemctl disable --now "$unit" >/dev/null 2>&1 || true
		done
	fi
fi
exit 0
