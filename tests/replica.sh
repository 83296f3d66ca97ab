#!/bin/sh
# A streaming replica of the throwaway test server (tests/pg.sh), for replica-lag tests.
#
#   tests/replica.sh start DIR   pg_basebackup -R from $PGHOST/$PGPORT into DIR, start it on a
#                                free port (socket in DIR); prints the port on stdout
#   tests/replica.sh stop DIR    pg_ctl stop -m immediate and remove DIR
#
# The primary (tests/pg.sh) allows replication from the socket and 127.0.0.1.  As root the
# replica runs as the `postgres` OS user, like the primary.
set -eu

. "$(dirname "$0")/pg_common.sh"
cmd=$1
dir=$2

case "$cmd" in
start)
	private_dir "$dir"
	port=$(free_port)
	as_pg "$PGBIN/pg_basebackup" -h "$PGHOST" -p "$PGPORT" -U "${PGUSER:-postgres}" \
		-D "$dir/data" -R -X stream -c fast >"$dir/basebackup.log" 2>&1 || {
		cat "$dir/basebackup.log" >&2
		exit 1
	}
	cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
hot_standby = on
wal_receiver_status_interval = 1s
hot_standby_feedback = off
CONF
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
		cat "$dir/server.log" >&2
		exit 1
	}
	echo "$port"
	;;
stop)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
	;;
*)
	echo "usage: $0 start|stop DIR" >&2
	exit 2
	;;
esac
