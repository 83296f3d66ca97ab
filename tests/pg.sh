#!/bin/sh
# Throwaway PostgreSQL 15 cluster for tests, demo and benchmarks.
#
#   tests/pg.sh start DIR   initdb + pg_ctl start in DIR (private port and socket directory),
#                           writes DIR/env with PGHOST/PGPORT/PGUSER/PGDATABASE to source
#   tests/pg.sh stop DIR    pg_ctl stop -m immediate and remove DIR
#
# When run as root the server runs as the `postgres` OS user (PostgreSQL refuses root).
# Local socket connections are trusted; TCP on 127.0.0.1 needs a password (scram-sha-256)
# so tests can exercise wrong-password handling.
set -eu

. "$(dirname "$0")/pg_common.sh"
cmd=$1
dir=$2

case "$cmd" in
start)
	private_dir "$dir"
	port=$(free_port)
	as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=trust \
		--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		exit 1
	}
	cat >>"$dir/data/postgresql.conf" <<CONF
port = $port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 300
shared_buffers = 256MB
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
log_min_messages = warning
CONF
	cat >>"$dir/data/pg_hba.conf" <<HBA
local replication all trust
host replication all 127.0.0.1/32 trust
HBA
	as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
		cat "$dir/server.log" >&2
		exit 1
	}
	cat >"$dir/env" <<ENV
export PGHOST='$dir'
export PGPORT='$port'
export PGUSER=postgres
export PGDATABASE=postgres
export PGPHASE_TEST_PGDIR='$dir'
ENV
	echo "postgres: started on port $port (socket $dir)" >&2
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
