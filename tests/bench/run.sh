#!/bin/sh
# make bench: every tests/bench/bench_*.sh against one throwaway PostgreSQL 15.
# Each benchmark prints its figures as ratios against a baseline measured in the same run.
# Usage: tests/bench/run.sh BUILD/pgphase
set -eu
bin=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
here=$(cd "$(dirname "$0")" && pwd)
pgdir=$(mktemp -d /tmp/pgphase-bench.XXXXXX)
cleanup() { "$here/../pg.sh" stop "$pgdir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
"$here/../pg.sh" start "$pgdir"
. "$pgdir/env"
export PGPHASE_BIN="$bin"
status=0
for b in "$here"/bench_*.sh; do
	printf '\n== %s\n' "$(basename "$b" .sh)"
	sh "$b" "$bin" || status=1
done
exit $status
