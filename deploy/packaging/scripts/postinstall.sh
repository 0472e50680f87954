#!/bin/sh
# logpipe postinstall (deb and rpm): make systemd see the new or updated units. The units
# are not enabled or started: edit /etc/logpipe/*.hcl first, then
#   systemctl enable --now logpipe-ship   (or logpipe-index)
# On upgrade, running units are restarted so that the new binary runs.
set -e

# The units' state directories (StateDirectory=logpipe/ship, logpipe/index), created now so
# that `sudo -u logpipe logpipe validate` and `logpipe test` find a usable data_dir before
# the first start. Existing directories are left as they are (the units chown them at start).
for dir in /var/lib/logpipe/ship /var/lib/logpipe/index; do
	if [ ! -d "$dir" ]; then
		[ -d /var/lib/logpipe ] || install -d -m 0755 /var/lib/logpipe
		install -d -o logpipe -g logpipe -m 0750 "$dir"
	fi
done

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
