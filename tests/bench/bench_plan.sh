#!/bin/sh
# Planning speed (issue 15, item 6): `pgphase plan` must stay linear in the statements of a
# file.  The file is check_cli's huge_file_works shape (CREATE TABLE big + INSERTs of
# 400-character rows), generated at 5 MB and 50 MB.  Figures, each a ratio in this run:
#   pgphase plan (against an empty database) / pgphase lint of the same file   (goal <= 2)
#   pgphase plan --offline / pgphase lint
#   pgphase plan 50 MB / pgphase plan 5 MB                                   (linear: ~10)
#   pgphase migrate / psql -X -1 -f of the same file (wall clock; BENCH_PLAN_MIGRATE=0 skips)
# Plan and lint times are CPU time (user + system) of pgphase, best of three, the commands
# taking turns (tests/bench/cputime.py); the database's side of plan's catalog questions is
# not in them, so the plan is also timed by the wall clock.
# Usage: tests/bench/bench_plan.sh BUILD/pgphase
set -eu
bin=$1
work=$(mktemp -d /tmp/pgphase-bench-plan.XXXXXX)
trap 'rm -rf "$work"' EXIT

# gen MB FILE: the huge_file_works file of MB megabytes
gen() {
	awk -v mb="$1" 'BEGIN { print "CREATE TABLE big (id int, payload text);"; b = 0
		for (i = 0; b < mb * 1024 * 1024; i++) {
			s = sprintf("INSERT INTO big VALUES (%d, '\''%0400d'\'');", i, i)
			print s; b += length(s) + 1 } }' > "$2"
}

best() { python3 "$(dirname "$0")/cputime.py" 3 "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
now() { date +%s.%N; }
ms_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", (b - a) * 1000 }'; }

createdb bench_plan
plan5=
for mb in 5 50; do
	mkdir -p "$work/m$mb"
	gen "$mb" "$work/m$mb/001_huge.sql"
	db="dbname=bench_plan"
	# shellcheck disable=SC2046
	set -- $(best "$bin" -q -d "$db" -m "$work/m$mb" plan :: \
		"$bin" -q -m "$work/m$mb" plan --offline :: "$bin" -q lint "$work/m$mb")
	plan=$1 offline=$2 lint=$3
	t0=$(now)
	"$bin" -q -d "$db" -m "$work/m$mb" plan > /dev/null
	wall=$(ms_since "$t0")
	echo "${mb} MB ($(grep -c '' "$work/m$mb/001_huge.sql") statements): plan ${plan} ms" \
		"(wall ${wall} ms), plan --offline ${offline} ms, lint ${lint} ms:" \
		"plan / lint $(ratio "$plan" "$lint") (goal <= 2), offline / lint $(ratio "$offline" "$lint")"
	if [ -n "$plan5" ]; then
		echo "plan 50 MB / plan 5 MB: $(ratio "$plan" "$plan5") (linear: about 10)"
	fi
	plan5=$plan
	if [ "${BENCH_PLAN_MIGRATE:-1}" != 0 ]; then
		createdb "bench_plan_m$mb"
		createdb "bench_plan_p$mb"
		t0=$(now)
		"$bin" -q -d "dbname=bench_plan_m$mb" -m "$work/m$mb" migrate > /dev/null
		mig=$(ms_since "$t0")
		t0=$(now)
		psql -X -q -1 -v ON_ERROR_STOP=1 -d "bench_plan_p$mb" -f "$work/m$mb/001_huge.sql" \
			> /dev/null
		ps=$(ms_since "$t0")
		echo "${mb} MB: migrate ${mig} ms, psql -1 ${ps} ms (wall): ratio $(ratio "$mig" "$ps")"
		dropdb "bench_plan_m$mb"
		dropdb "bench_plan_p$mb"
	fi
done
dropdb bench_plan
