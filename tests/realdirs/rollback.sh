#!/bin/bash
# Corpus runner, rollback: a real directory's DOWN chain through `pgphase rollback` against psql.
#
#   tests/realdirs/rollback.sh [--only N] PROJECTDIR...
#
# PROJECTDIR as for run.sh (src/ and SOURCE, made by export.sh). For each one this script
#   1. renames src/ into pgphase's layout in PROJECTDIR/pgphase_rb/ with the DOWN parts kept
#      (layout.py --down: golang-migrate/diesel/popx down files, goose Down sections);
#   2. psql applies every UP in order to database A (M = how many it gets through);
#      `pgphase migrate` the first M on database B; when pgphase completes only m < M (a
#      forward failure, run.sh's business), both start again with the first m, so that the
#      rollback starts from M complete migrations on both sides;
#   3. psql runs the DOWNs on A newest first, until one fails or a migration has no DOWN;
#      the schema after each DOWN is kept (result_rb/psql/K.dump: the schema before K);
#   4. `pgphase rollback --to V` on B (V: the newest migration without a DOWN, else 0);
#      records how many migrations it rolled back, its error, and the diff of B's schema
#      against psql's at the same point (result_rb/rollback.diff).
# One line per project goes to result_rb/summary (and stderr):
#   NAME migrations=M psql_down=P pgphase_down=Q stop=(reason) schema=(same|differs N lines)
# A throwaway server is started (tests/pg.sh) and stopped on exit. Not run by `make check`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PGPHASE=${PGPHASE:-$repo/build/pgphase}
only=0
while [ $# -gt 0 ]; do
	case "$1" in
	--only) only=$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--only N] PROJECTDIR..." >&2; exit 2; }
. "$here/common.sh"

pgdir=$(mktemp -d /tmp/realdirs_pg.XXXXXX)
rmdir "$pgdir"
"$repo/tests/pg.sh" start "$pgdir" || exit 1
trap '"$repo/tests/pg.sh" stop "$pgdir"' EXIT
. "$pgdir/env"

# fresh_db DB: an empty database with the tool's bookkeeping table
fresh_db() {
	dropdb --if-exists --force "$1"
	createdb "$1"
	[ -z "$setup" ] || psql -X -q -d "$1" -c "$setup"
}

# ups DB N LOG: psql applies the first N UPs (all when N is 0); prints how many it applied
ups() {
	local k=0 file orig mode
	while IFS=$'\t' read -r file orig mode <&3; do
		[ "$2" -gt 0 ] && [ "$k" -ge "$2" ] && break
		echo "## $((k + 1)) $file" >>"$3"
		psql_file "$1" "$dir/$file" "$mode" "$3" || break
		k=$((k + 1))
	done 3<"$dir/files.tsv"
	echo "$k"
}

# migrate DB N: pgphase migrate the first N migrations (directory copied to $out/full);
# prints how many are complete
migrate() {
	rm -rf "$out/full"
	mkdir -p "$out/full"
	head -n "$2" "$dir/files.tsv" | while IFS=$'\t' read -r file orig mode; do
		cp "$dir/$file" "$out/full/"
		case "$file" in *.up.sql) cp "$dir/${file%.up.sql}.down.sql" "$out/full/" 2>/dev/null ;; esac
	done
	run_pgphase $((120 + $2)) "$out/migrate.log" migrate -d "dbname=$1" -m "$out/full"
	psql -X -At -d "$1" -c "SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'" \
		2>/dev/null || echo 0
}

# prepare: DOWN files pgphase refuses to read are set aside, noted in $notes:
# - a DOWN file with a syntax error stops every pgphase command at load (psql never meets
#   it going up): it is removed, so that migration has no DOWN (psql's chain stops there too);
# - an empty DOWN file is a no-op for the project's tool, a missing DOWN for pgphase (README,
#   error 27): it gets a no-op statement, so the chain can be measured past it
prepare() {
	local f bad
	for f in "$dir"/*.down.sql; do
		[ -e "$f" ] || continue
		python3 -c 'import sys; sys.path.insert(0, sys.argv[1]); import layout
sys.exit(0 if layout.has_sql(open(sys.argv[2], "rb").read()) else 1)' "$here" "$f" && continue
		printf -- '-- (rollback.sh: empty DOWN, a no-op for the project'"'"'s tool)\nSELECT 1;\n' >"$f"
		notes="$notes empty-DOWN:$(basename "$f")"
	done
	for _ in 1 2 3 4 5; do
		fresh_db "$b"
		run_pgphase 120 "$out/load.log" status -d "dbname=$b" -m "$dir"
		bad=$(sed -n 's/^error: \([^:]*\.down\.sql\):.*/\1/p' "$out/load.log" | head -n1)
		[ -n "$bad" ] && [ -f "$bad" ] || break
		rm -f "$bad"
		notes="$notes broken-DOWN-removed:$(basename "$bad")"
	done
}

for proj in "$@"; do
	proj=$(cd "$proj" && pwd)
	name=$(basename "$proj")
	kind=$(sed -n 's/^kind=//p' "$proj/SOURCE")
	out=$proj/result_rb
	dir=$proj/pgphase_rb
	rm -rf "$dir" "$out"
	mkdir -p "$out/psql"
	python3 "$here/layout.py" --down "$kind" "$proj/src" "$dir" >"$out/layout.txt" || continue
	[ "$only" -gt 0 ] && { head -n "$only" "$dir/files.tsv" >"$out/f"; mv "$out/f" "$dir/files.tsv"; }
	setup=$(setup_sql "$kind")
	a=rb_${name//[^a-z0-9]/_}_a
	b=rb_${name//[^a-z0-9]/_}_b
	notes=
	prepare
	fresh_db "$a"
	fresh_db "$b"
	n=$(ups "$a" 0 "$out/psql_up.log")
	m=$(migrate "$b" "$n")
	note=
	# pgphase's forward run (run.sh's business) may stop early, and earlier with fewer files
	# (planning looks ahead): start again with what it completes until it completes all
	for _ in 1 2 3 4 5; do
		[ "$m" -lt "$n" ] || break
		note=" (pgphase migrate completes $m of psql's $n: both start from $m)"
		n=$m
		fresh_db "$a"
		fresh_db "$b"
		: >"$out/psql_up.log"
		ups "$a" "$n" "$out/psql_up.log" >/dev/null
		m=$(migrate "$b" "$n")
	done
	[ -z "$notes" ] || note="$note; set aside:$notes"
	echo "== $name: $m migrations ($kind)$note" >&2
	dump "$a" >"$out/psql/$((m + 1)).dump"
	# psql: DOWNs newest first; K.dump is the schema after DOWN K (before migration K)
	to=0
	psql_down=0
	psql_stop="reached 0"
	: >"$out/psql_down.log"
	for k in $(seq "$m" -1 1); do
		line=$(sed -n "${k}p" "$dir/files.tsv")
		file=${line%%$'\t'*}
		mode=${line##*$'\t'}
		case "$file" in
		*.up.sql) down=$dir/${file%.up.sql}.down.sql ;;
		*) down= ;;
		esac
		[ -z "$down" ] || [ -f "$down" ] || down=
		if [ -z "$down" ]; then
			to=$k
			[ "$psql_stop" = "reached 0" ] && psql_stop="$k $file has no DOWN"
			break
		fi
		[ "$psql_stop" = "reached 0" ] || continue
		echo "## $k $down" >>"$out/psql_down.log"
		if ! psql_file "$a" "$down" "$mode" "$out/psql_down.log"; then
			psql_stop="$k DOWN fails"
			# keep looking for the newest migration without a DOWN (pgphase's --to)
			continue
		fi
		psql_down=$((psql_down + 1))
		dump "$a" >"$out/psql/$k.dump"
	done
	run_pgphase $((120 + m)) "$out/rollback.log" rollback --to "$to" -d "dbname=$b" -m "$out/full"
	echo $? >"$out/rollback.rc"
	left=$(psql -X -At -d "$b" -c "SELECT count(*) FROM pgphase.migrations" 2>/dev/null || echo "$m")
	pg_down=$((m - left))
	dump "$b" >"$out/b.dump"
	diff "$out/psql/$((left + 1)).dump" "$out/b.dump" >"$out/rollback.diff"
	if [ -s "$out/rollback.diff" ]; then
		schema="differs $(grep -c '^[<>]' "$out/rollback.diff") lines"
	else
		schema=same
	fi
	pg_stop=$(grep -m1 -E 'error|failed' "$out/rollback.log" | cut -c1-300)
	printf '%s migrations=%s psql_down=%s pgphase_down=%s psql_stop=(%s) schema=(%s)%s\n' \
		"$name" "$m" "$psql_down" "$pg_down" "$psql_stop" "$schema" "$note" |
		tee "$out/summary" >&2
	[ -z "$pg_stop" ] || echo "  pgphase: $pg_stop" | tee -a "$out/summary" >&2
	dropdb --force "$a"
	dropdb --force "$b"
done
