#!/bin/sh
# Issue 2 benchmark: apply 1,000 small migrations (CREATE TABLE + CREATE INDEX each) to an
# empty database with pgphase, and in the same run with psql applying the same files one
# after another (one psql -1 -f per file, what a shell-script runner does).
# Prints pgphase time / psql time (goal <= 1.0).
set -eu
bin=$1
n=${BENCH_MIGRATIONS:-1000}
work=$(mktemp -d /tmp/pgphase-bench-core.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/m"
i=1
while [ $i -le $n ]; do
	v=$(printf '%04d' $i)
	printf 'CREATE TABLE t%s (id bigint PRIMARY KEY, v text);\nCREATE INDEX t%s_v ON t%s (v);\n' \
		"$v" "$v" "$v" > "$work/m/${v}_t${v}.sql"
	i=$((i + 1))
done

now() { date +%s.%N; }

createdb bench_psql
createdb bench_pgphase

t0=$(now)
for f in "$work"/m/*.sql; do
	psql -X -q -v ON_ERROR_STOP=1 -1 -d bench_psql -f "$f" >/dev/null
done
t1=$(now)
"$bin" -q -d "dbname=bench_pgphase" -m "$work/m" migrate
t2=$(now)

psql_s=$(echo "$t1 - $t0" | bc -l)
pgp_s=$(echo "$t2 - $t1" | bc -l)
applied=$(psql -X -At -d bench_pgphase -c "SELECT count(*) FROM pgphase.migrations WHERE state = 'complete'")
tables=$(psql -X -At -d bench_psql -c "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")
[ "$applied" -eq "$n" ] || { echo "pgphase applied $applied of $n" >&2; exit 1; }
[ "$tables" -eq "$n" ] || { echo "psql created $tables of $n" >&2; exit 1; }
printf 'migrations: %d (each CREATE TABLE + CREATE INDEX)\n' "$n"
printf 'psql one file at a time: %.2f s\n' "$psql_s"
printf 'pgphase migrate:         %.2f s (state row + 4 events committed with each migration)\n' "$pgp_s"
printf 'ratio pgphase/psql:      %.3f (goal <= 1.0)\n' "$(echo "$pgp_s / $psql_s" | bc -l)"
dropdb bench_psql
dropdb bench_pgphase
