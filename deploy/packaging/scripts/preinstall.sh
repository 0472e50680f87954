#!/bin/sh
# logpipe preinstall (deb and rpm): create the logpipe system group and user, idempotently.
# The units run as logpipe:logpipe; /etc/logpipe is readable by the group.
set -e

if ! getent group logpipe >/dev/null 2>&1; then
	groupadd --system logpipe
fi
if ! getent passwd logpipe >/dev/null 2>&1; then
	nologin=/usr/sbin/nologin
	[ -x "$nologin" ] || nologin=/sbin/nologin
	useradd --system --gid logpipe --home-dir /var/lib/logpipe --no-create-home \
		--shell "$nologin" --comment "logpipe log shipper" logpipe
fi
exit 0
