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
if [ -n "${SANITIZE:-}" ]; then
	# sanitizer reports of every process (tests and the pgphase children) go to files;
	# any file at the end fails the run, whatever the exit codes were
	sandir=$(mktemp -d /tmp/pgphase-san.XXXXXX)
	export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:log_path=$sandir/asan"
	export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$sandir/ubsan"
	export LSAN_OPTIONS="suppressions=$here/lsan.supp:print_suppressions=0"
	export CK_TIMEOUT_MULTIPLIER=3
	rc=0
	"$testbin" || rc=$?
	if ls "$sandir"/* >/dev/null 2>&1; then
		echo "sanitizer reports:" >&2
		cat "$sandir"/* >&2
		rc=1
	fi
	rm -rf "$sandir"
	exit $rc
fi
"$testbin"
