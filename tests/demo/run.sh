#!/bin/sh
# make demo: a throwaway PostgreSQL 15, pgphase on tests/demo/migrations, then stop.
# Usage: tests/demo/run.sh BUILD/pgphase
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
pgdir=$(mktemp -d /tmp/pgphase-demo.XXXXXX)
work=$(mktemp -d /tmp/pgphase-demo-work.XXXXXX)
cleanup() {
	[ -n "${receiver_pid:-}" ] && kill "$receiver_pid" 2>/dev/null || true
	"$here/../pg.sh" stop "$pgdir"
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/../pg.sh" start "$pgdir"
. "$pgdir/env"
createdb demo
export DATABASE_URL="host=$PGHOST port=$PGPORT user=postgres dbname=demo"
cp -r "$here/migrations" "$work/migrations"
cd "$work"

# Optional webhook receiver (tests/demo/webhook.sh), when the webhooks feature is present.
if [ -x "$here/webhook.sh" ]; then
	. "$here/webhook.sh"
fi

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step pgphase init;                       "$bin" init
step pgphase status;                     "$bin" status
step pgphase migrate --dry-run;          "$bin" migrate --dry-run
step pgphase migrate;                    "$bin" migrate
step pgphase status;                     "$bin" status
step pgphase rollback --steps 2;         "$bin" rollback --steps 2
step pgphase migrate;                    "$bin" migrate
step pgphase history --limit 12;         "$bin" history --limit 12
step "psql -d demo -c '\\d orders'";     psql -X -q -d demo -c '\d orders'
if command -v demo_webhook_report >/dev/null 2>&1; then
	demo_webhook_report
fi
printf '\ndemo finished: server stopped, temporary files removed\n'
