#!/bin/bash
# Corpus runner: real migration directories through `pgphase migrate` against `psql -1`.
#
#   tests/realdirs/run.sh [--no-isolate] [--keep-full] [--only N] PROJECTDIR...
#
# Each PROJECTDIR (outside the repository, made by export.sh) holds src/ (the project's files
# as they are) and SOURCE (url, commit, path, kind, license). For each one this script
#   1. renames src/ into pgphase's layout in PROJECTDIR/pgphase/ (layout.py; contents kept);
#   2. "full": applies every file in order with `psql -X -1 -v ON_ERROR_STOP=1 -f` to database
#      A (files the tool runs outside a transaction go without -1) and runs
#      `pgphase migrate` on the whole directory against database B; records how many
#      migrations pgphase applied, its first failure, and the schema diff of A and B;
#   3. "isolate" (unless --no-isolate): for every migration k, copies psql's database as it
#      was before k, runs `pgphase plan --format json` and `pgphase migrate` on migration k
#      alone, and diffs the result against psql's database after k. This finds every failing
#      migration, not only the first, and counts the statements pgphase made safer.
# --keep-full reuses a finished full run's results and redoes only the isolated runs;
# --only N takes the first N migrations.
# Results go to PROJECTDIR/result/; tests/realdirs/report.py writes the report from them.
# A throwaway server is started (tests/pg.sh) and stopped on exit. Not run by `make check`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PGPHASE=${PGPHASE:-$repo/build/pgphase}
isolate=1
only=0
keep_full=0
# watchdog of an isolated run: one migration on an empty schema takes a second or two; a hang
# (issue 14 item 1) is killed after this long (TERM, then KILL 5 s later)
iso_timeout=${ISO_TIMEOUT:-20}
while [ $# -gt 0 ]; do
	case "$1" in
	--no-isolate) isolate=0; shift ;;
	--only) only=$2; shift 2 ;;
	--keep-full) keep_full=1; shift ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--no-isolate] [--only N] PROJECTDIR..." >&2; exit 2; }

pgdir=$(mktemp -d /tmp/realdirs_pg.XXXXXX)
rmdir "$pgdir"
"$repo/tests/pg.sh" start "$pgdir" || exit 1
trap '"$repo/tests/pg.sh" stop "$pgdir"' EXIT
. "$pgdir/env"

. "$here/common.sh"

for proj in "$@"; do
	proj=$(cd "$proj" && pwd)
	name=$(basename "$proj")
	kind=$(sed -n 's/^kind=//p' "$proj/SOURCE")
	out=$proj/result
	reuse=0
	if [ "$keep_full" = 1 ] && [ -f "$out/migrate.rc" ]; then
		reuse=1
		rm -rf "$proj/pgphase" "$out/iso"
	else
		rm -rf "$proj/pgphase" "$out"
	fi
	mkdir -p "$out"
	python3 "$here/layout.py" "$kind" "$proj/src" "$proj/pgphase" >"$out/layout.txt" || continue
	dir=$proj/pgphase
	if [ "$only" -gt 0 ]; then
		head -n "$only" "$dir/files.tsv" >"$dir/files.tsv.new"
		mv "$dir/files.tsv.new" "$dir/files.tsv"
		ls "$dir" | grep -E '^[0-9]{4}_' | while read -r f; do
			[ "${f%%_*}" -le "$only" ] || rm -f "$dir/$f"
		done
	fi
	n=$(wc -l <"$dir/files.tsv")
	echo "== $name: $n migrations ($kind)" >&2
	a=rd_${name//[^a-z0-9]/_}_a
	b=rd_${name//[^a-z0-9]/_}_b
	dropdb --if-exists "$a"; dropdb --if-exists "$b"
	createdb "$a"; createdb "$b"
	setup=$(setup_sql "$kind")
	if [ -n "$setup" ]; then
		psql -X -q -d "$a" -c "$setup"
		psql -X -q -d "$b" -c "$setup"
	fi

	if [ "$reuse" = 1 ]; then
		psql_ok=$(cat "$out/psql_applied")
		dropdb "$b"
	else
		# full run: psql on A, pgphase on B
		k=0
		psql_ok=0
		: >"$out/psql.log"
		while IFS=$'\t' read -r file orig mode <&3; do
			k=$((k + 1))
			echo "## $k $file" >>"$out/psql.log"
			if ! psql_file "$a" "$dir/$file" "$mode" "$out/psql.log"; then
				echo "$k	$file	$orig" >"$out/psql_failed"
				break
			fi
			psql_ok=$k
		done 3<"$dir/files.tsv"
		echo "$psql_ok" >"$out/psql_applied"
		# pgphase runs what psql could run (a directory psql cannot run has no oracle past that)
		full=$out/full
		mkdir -p "$full"
		head -n "$psql_ok" "$dir/files.tsv" | while IFS=$'\t' read -r file orig mode; do
			cp "$dir/$file" "$full/"
			case "$file" in *.up.sql) cp "$dir/${file%.up.sql}.down.sql" "$full/" ;; esac
		done
		start=$(date +%s.%N)
		run_pgphase $((120 + psql_ok)) "$out/migrate.log" migrate -d "dbname=$b" -m "$full"
		echo $? >"$out/migrate.rc"
		echo "$start $(date +%s.%N)" >"$out/migrate.time"
		psql -X -At -d "$b" -c "SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'" \
			>"$out/pgphase_applied" 2>/dev/null || echo 0 >"$out/pgphase_applied"
		dump "$a" >"$out/a.dump"
		dump "$b" >"$out/b.dump"
		diff "$out/a.dump" "$out/b.dump" >"$out/full.diff"
		dropdb "$b"

	fi
	[ "$isolate" = 1 ] || { dropdb "$a"; continue; }
	# isolate: every migration alone on psql's state before it. Database C follows A: pgphase
	# runs migration k on C (its state schema dropped first, so k is its only migration),
	# psql runs k on A; when pgphase failed or the schemas differ, C is copied from A again
	# (copies only then: copying a database is the slow part). Data written by earlier
	# migrations through pgphase stays in C; only the schema is compared.
	dropdb "$a"; createdb "$a"
	[ -z "$setup" ] || psql -X -q -d "$a" -c "$setup"
	c=${a}_i
	dropdb --if-exists "$c"
	createdb -T "$a" "$c"
	iso=$out/iso
	mkdir -p "$iso"
	k=0
	while IFS=$'\t' read -r file orig mode <&3; do
		k=$((k + 1))
		[ "$k" -le "$psql_ok" ] || break
		one=$iso/$k/m
		mkdir -p "$one"
		cp "$dir/$file" "$one/"
		case "$file" in *.up.sql) cp "$dir/${file%.up.sql}.down.sql" "$one/" ;; esac
		psql -X -q -d "$c" -c 'DROP SCHEMA IF EXISTS pgphase CASCADE' >/dev/null 2>&1
		run_pgphase "$iso_timeout" "$iso/$k/plan.json" plan --format json -d "dbname=$c" -m "$one"
		echo $? >"$iso/$k/plan.rc"
		run_pgphase "$iso_timeout" "$iso/$k/migrate.log" migrate -d "dbname=$c" -m "$one"
		mrc=$?
		echo $mrc >"$iso/$k/migrate.rc"
		psql_file "$a" "$dir/$file" "$mode" "$iso/$k/psql.log" </dev/null
		resync=1
		if [ "$mrc" = 0 ]; then
			dump "$a" >"$iso/$k/a.dump"
			dump "$c" >"$iso/$k/b.dump"
			diff "$iso/$k/a.dump" "$iso/$k/b.dump" >"$iso/$k/diff" && resync=0
			rm -f "$iso/$k/a.dump" "$iso/$k/b.dump"
		fi
		if [ "$resync" = 1 ]; then
			dropdb --force "$c"
			createdb -T "$a" "$c"
		fi
		printf '%s\t%s\t%s\n' "$file" "$orig" "$mode" >"$iso/$k/file"
	done 3<"$dir/files.tsv"
	dropdb --force "$c"
	dropdb "$a"
done
