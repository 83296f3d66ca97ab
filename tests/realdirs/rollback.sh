#!/bin/bash
# Corpus runner, rollback: a real directory's DOWN chain through `pgphase rollback` against psql.
#
#   tests/realdirs/rollback.sh [--only N] [--from K] [--tag T] PROJECTDIR...
#
# PROJECTDIR as for run.sh (src/ and SOURCE, made by export.sh). For each one this script
#   1. renames src/ into pgphase's layout in PROJECTDIR/pgphase_rb/ with the DOWN parts kept
#      (layout.py --down: golang-migrate/diesel/popx down files, goose Down sections); a DOWN
#      file with a syntax error is removed (it stops pgphase at load; result_rb/set_aside);
#   2. psql applies every UP in order to database A (M = how many it gets through);
#      `pgphase migrate` the first M on database B (with --from K: B is a copy of A after K,
#      and pgphase migrates K+1..M); when pgphase completes fewer (a forward failure,
#      run.sh's business) both sides start again with what it completed;
#   3. psql runs the DOWNs on A newest first; the schema after each is kept
#      (result_rb/psql/K.dump: the schema once migration K is dealt with). A migration
#      without a DOWN, or whose DOWN fails under psql as well (the project's own bug), is a
#      skip: psql leaves it, pgphase rolls back to it (--to) and its state row is deleted;
#   4. `pgphase rollback --to S` on B for each stretch between skips, until pgphase stops
#      where psql did not; B's schema is diffed against psql's at the same point
#      (result_rb/rollback.diff).
# --tag T writes to result_rb_T and pgphase_rb_T (two binaries side by side: PGPHASE=...).
# One line per project goes to result_rb/summary (and stderr): DOWNs run back by psql and
# by pgphase along the straight chain (to the first skip) and through the skips, where
# pgphase stopped on its own, and whether the schemas are the same there.
# A throwaway server is started (tests/pg.sh) and stopped on exit. Not run by `make check`.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
PGPHASE=${PGPHASE:-$repo/build/pgphase}
only=0
from=0
tag=
while [ $# -gt 0 ]; do
	case "$1" in
	--only) only=$2; shift 2 ;;
	--from) from=$2; shift 2 ;;
	--tag) tag=_$2; shift 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: $0 [--only N] [--from K] [--tag T] PROJECTDIR..." >&2; exit 2; }
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

# ups DB FROM TO LOG: psql applies UPs FROM+1 .. TO (all when TO is 0); prints the number
# of the last one it applied
ups() {
	local k=0 file orig mode
	while IFS=$'\t' read -r file orig mode <&3; do
		[ "$3" -gt 0 ] && [ "$k" -ge "$3" ] && break
		k=$((k + 1))
		[ "$k" -gt "$2" ] || continue
		echo "## $k $file" >>"$4"
		psql_file "$1" "$dir/$file" "$mode" "$4" || { k=$((k - 1)); break; }
	done 3<"$dir/files.tsv"
	echo "$k"
}

# start N: A gets UPs 1..N by psql; B is A's copy after FROM, pgphase migrates FROM+1..N;
# prints the number of the last migration pgphase completed
start() {
	fresh_db "$a"
	dropdb --if-exists --force "$b"
	: >"$out/psql_up.log"
	[ "$from" = 0 ] || ups "$a" 0 "$from" "$out/psql_up.log" >/dev/null
	createdb -T "$a" "$b"
	ups "$a" "$from" "$1" "$out/psql_up.log" >"$out/psql_applied"
	migrate "$b" "$(cat "$out/psql_applied")"
}

# migrate DB N: pgphase migrate the first N migrations (directory copied to $out/full);
# prints how many are complete
migrate() {
	rm -rf "$out/full"
	mkdir -p "$out/full"
	head -n "$2" "$dir/files.tsv" | tail -n +$((from + 1)) |
		while IFS=$'\t' read -r file orig mode; do
		cp "$dir/$file" "$out/full/"
		case "$file" in *.up.sql) cp "$dir/${file%.up.sql}.down.sql" "$out/full/" 2>/dev/null ;; esac
	done
	run_pgphase $((120 + $2)) "$out/migrate.log" migrate -d "dbname=$1" -m "$out/full"
	echo $((from + $(psql -X -At -d "$1" -c \
		"SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'" 2>/dev/null || echo 0)))
}

# prepare: a DOWN file with a syntax error stops every pgphase command at load (psql never
# meets it going up): it is removed (noted in $notes), so that migration has no DOWN
prepare() {
	local bad
	for bad in $("$PGPHASE" --no-color lint "$dir" 2>&1 |
		sed -n 's/^\(.*\.down\.sql\):[0-9:]*: error: .*\[syntax-error\]$/\1/p' | sort -u); do
		rm -f "$bad"
		notes="$notes broken-DOWN-removed:$(basename "$bad")"
	done
}

for proj in "$@"; do
	proj=$(cd "$proj" && pwd)
	name=$(basename "$proj")
	kind=$(sed -n 's/^kind=//p' "$proj/SOURCE")
	out=$proj/result_rb$tag
	dir=$proj/pgphase_rb$tag
	rm -rf "$dir" "$out"
	mkdir -p "$out/psql"
	python3 "$here/layout.py" --down "$kind" "$proj/src" "$dir" >"$out/layout.txt" || continue
	[ "$only" -gt 0 ] && { head -n "$only" "$dir/files.tsv" >"$out/f"; mv "$out/f" "$dir/files.tsv"; }
	setup=$(setup_sql "$kind")
	a=rb_${name//[^a-z0-9]/_}_a
	b=rb_${name//[^a-z0-9]/_}_b
	notes=
	prepare
	m=$(start 0)
	n=$(cat "$out/psql_applied")
	note=
	# pgphase's forward run (run.sh's business) may stop early, and earlier with fewer files
	# (planning looks ahead): start again with what it completes until it completes all
	for _ in 1 2 3 4 5; do
		[ "$m" -lt "$n" ] || break
		note=" (pgphase migrate completes $m of psql's $n: both start from $m)"
		[ -f "$out/migrate.first.log" ] || cp "$out/migrate.log" "$out/migrate.first.log"
		n=$m
		m=$(start "$n")
	done
	if [ -n "$notes" ]; then
		echo "$notes" | tr ' ' '\n' | sed '/^$/d' >"$out/set_aside"
		note="$note; set aside (result_rb/set_aside): $(wc -l <"$out/set_aside") broken DOWN"
	fi
	[ "$from" = 0 ] || note=" (B is psql's copy after $from, pgphase migrates the rest)$note"
	echo "== $name: $m migrations ($kind)$note" >&2
	# psql: DOWNs newest first; K.dump is the schema once migration K is dealt with (its DOWN
	# ran, or it was skipped). A migration without a DOWN, or whose DOWN fails under psql
	# too (the project's own bug), is skipped by both sides (skips): psql leaves it, pgphase
	# rolls back to it (--to K) and its state row is then deleted, so the chain goes on.
	dump "$a" >"$out/psql/$((m + 1)).dump"
	psql_down=0
	psql_first=
	skips=
	: >"$out/psql_down.log"
	for k in $(seq "$m" -1 $((from + 1))); do
		line=$(sed -n "${k}p" "$dir/files.tsv")
		file=${line%%$'\t'*}
		mode=${line##*$'\t'}
		down=
		case "$file" in *.up.sql) down=$dir/${file%.up.sql}.down.sql ;; esac
		[ -z "$down" ] || [ -f "$down" ] || down=
		if [ -z "$down" ]; then
			skips="$skips $k"
			psql_first=${psql_first:-"$k has no DOWN"}
		else
			echo "## $k $down" >>"$out/psql_down.log"
			if psql_file "$a" "$down" "$mode" "$out/psql_down.log"; then
				psql_down=$((psql_down + 1))
			else
				skips="$skips $k"
				psql_first=${psql_first:-"$k DOWN fails"}
			fi
		fi
		dump "$a" >"$out/psql/$k.dump"
	done
	# pgphase: one rollback per stretch between skips
	pg_down=0
	pg_down_first=
	pg_first=
	stop=
	: >"$out/rollback.log"
	top=$m
	for s in $skips $from; do
		# --to 0 at the bottom: B's state holds no migration before FROM+1
		to=$s
		[ "$s" != "$from" ] || to=0
		run_pgphase $((120 + m)) "$out/rollback.part" rollback --to "$to" -d "dbname=$b" \
			-m "$out/full"
		cat "$out/rollback.part" >>"$out/rollback.log"
		left=$(psql -X -At -d "$b" -c "SELECT coalesce(max(version), 0) FROM pgphase.migrations" \
			2>/dev/null || echo "$top")
		[ "$left" != 0 ] || left=$from
		pg_down=$((pg_down + top - left))
		if [ "$left" != "$s" ]; then
			stop=$left
			pg_first="$left: $(grep -m1 '^error:' "$out/rollback.part" | cut -c1-300)"
			break
		fi
		[ "$s" = "$from" ] && break
		psql -X -q -d "$b" -c "DELETE FROM pgphase.backfill_progress WHERE version = $s" \
			-c "DELETE FROM pgphase.migrations WHERE version = $s"
		pg_down_first=${pg_down_first:-$pg_down}
		top=$((s - 1))
	done
	pg_down_first=${pg_down_first:-$pg_down}
	dump "$b" >"$out/b.dump"
	diff "$out/psql/$((${stop:-$from} + 1)).dump" "$out/b.dump" >"$out/rollback.diff"
	if [ -s "$out/rollback.diff" ]; then
		schema="differs $(grep -c '^[<>]' "$out/rollback.diff") lines"
	else
		schema=same
	fi
	# straight chain (first stop) and through the skips
	first=${psql_first%% *}
	printf '%s migrations=%s straight: psql_down=%s pgphase_down=%s (psql stops at %s);' \
		"$name" "$m" "$((m - ${first:-$from}))" "$pg_down_first" "${psql_first:-nothing}" \
		| tee "$out/summary" >&2
	printf ' through %s skips: psql_down=%s pgphase_down=%s%s schema=(%s)%s\n' \
		"$(echo $skips | wc -w)" "$psql_down" "$pg_down" \
		"${stop:+ pgphase stops at $stop}" "$schema" "$note" | tee -a "$out/summary" >&2
	[ -z "$pg_first" ] || echo "  pgphase: $pg_first" | tee -a "$out/summary" >&2
	dropdb --force "$a"
	dropdb --force "$b"
done
