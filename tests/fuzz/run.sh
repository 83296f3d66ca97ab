#!/bin/sh
# make fuzz: run every libFuzzer harness for FUZZ_SECONDS (default 60) on its seed corpus.
# A crash fails the run; its input is left in tests/fuzz/crashes/ — fix the bug and move the
# input into tests/fuzz/regressions/<harness>/ so tests/check_fuzz_regressions.c replays it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bindir=$1
secs=${FUZZ_SECONDS:-60}
export LSAN_OPTIONS="suppressions=$here/../lsan.supp:print_suppressions=0"
mkdir -p "$here/crashes"
status=0
for h in "$bindir"/fuzz_*; do
	name=$(basename "$h")
	corpus="$here/corpus/${name#fuzz_}"
	work=$(mktemp -d /tmp/pgphase-fuzz.XXXXXX)
	cp -r "$corpus"/. "$work/" 2>/dev/null || true
	# the linter's own fixtures are its best seeds: use them in place of copies
	[ "$name" = fuzz_lint ] && cp "$here"/../lint/*.sql "$work/" 2>/dev/null || true
	echo "== $name for ${secs}s"
	if ! "$h" -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$here/crashes/$name-" -print_final_stats=1 "$work" \
		>"$work.log" 2>&1; then
		tail -40 "$work.log"
		status=1
	else
		grep -E "stat::number_of_executed_units|cov:" "$work.log" | tail -2
	fi
	rm -rf "$work" "$work.log"
done
exit $status
