#!/bin/sh
# logpipe postremove (deb and rpm): make systemd forget the removed units. The logpipe user,
# /etc/logpipe (deb: until purge) and the state in /var/lib/logpipe (registry, dead-letter
# queue) are kept: removing them would make a reinstall read and ship everything again.
set -e

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
	systemctl daemon-reload || true
fi
exit 0
