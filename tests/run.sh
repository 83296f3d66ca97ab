#!/bin/sh
# Run the Check test binary against a throwaway PostgreSQL 15 started for this run and always
# stopped (trap), even when a test crashes the runner.  Usage: tests/run.sh BUILD/check_pgphase
set -eu
testbin=$1
here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
pgdir=$(mktemp -d /tmp/pgphase-test.XXXXXX)

cleanup() { "$here/pg.sh" stop "$pgdir"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

"$here/pg.sh" start "$pgdir"
. "$pgdir/env"
export PGPHASE_BIN="${PGPHASE_BIN:-$top/$(dirname "$testbin")/pgphase}"
export PGPHASE_TEST_TOP="$top"
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-120}"
"$testbin"
