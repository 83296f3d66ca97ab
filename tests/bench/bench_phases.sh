#!/bin/sh
# Issue 4 benchmark, the zero-downtime proof: a steady reader/writer load (bench_load.c, 4
# connections: read by key, update, insert) on a 1,000,000-row table while one migration
# exercising the strategies is applied
#   (a) not at all (baseline load),
#   (b) by `pgphase migrate` (expand, backfill, contract),
#   (c) as written, by `psql -1` (the hazard baseline),
# each on a fresh copy of the same database.  The backfill pauses 10 ms between batches of
# 2,000 rows (backfill.sleep) so the app keeps its share of the machine.  Prints the longest time any app statement
# took and the app's p99 latency for each, and the goals:
#   longest app wait under pgphase <= lock_timeout + 100 ms,
#   app p99 under pgphase <= 2 x app p99 with no migration running.
# Not exercised: rename-table-via-view and add-required-column, whose contract needs the
# app switched to the new schema (this app keeps using the old one throughout).
set -eu
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
rows=${BENCH_ROWS:-1000000}
clients=${BENCH_CLIENTS:-4}
work=$(mktemp -d /tmp/pgphase-bench-phases.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -o "$work/bench_load" "$here/bench_load.c" $(pkg-config --cflags --libs libpq) -lpthread

mkdir "$work/m"
cat > "$work/m/001_every_strategy.sql" <<'SQL'
CREATE INDEX accounts_email_idx ON accounts (email);
DROP INDEX accounts_old_idx;
ALTER TABLE accounts ADD FOREIGN KEY (plan_id) REFERENCES plans (id);
ALTER TABLE accounts ADD CHECK (score >= 0);
ALTER TABLE accounts ALTER COLUMN email SET NOT NULL;
ALTER TABLE accounts ADD COLUMN token uuid DEFAULT gen_random_uuid();
ALTER TABLE accounts ADD CONSTRAINT accounts_name_key UNIQUE (name);
ALTER TABLE accounts RENAME COLUMN nick TO nickname;
ALTER TABLE accounts ALTER COLUMN score TYPE bigint;
UPDATE accounts SET email = lower(email) WHERE email <> lower(email);
SQL
cat > "$work/pgphase.cfg" <<'CFG'
lock_timeout = "1s";
backfill = { batch_size = 2000; sleep = "10ms"; };
CFG

createdb bench_base
psql -X -q -v ON_ERROR_STOP=1 -d bench_base <<SQL
CREATE TABLE plans (id int PRIMARY KEY);
INSERT INTO plans SELECT g FROM generate_series(0, 9) g;
CREATE TABLE accounts (id bigint PRIMARY KEY, email text, name text, nick text, score int,
                       plan_id int);
INSERT INTO accounts SELECT g, 'E' || g, 'n' || g, 'k' || g, g % 100, g % 10
  FROM generate_series(1, $rows) g;
CREATE INDEX accounts_old_idx ON accounts (plan_id);
VACUUM ANALYZE accounts;
SQL

# run_load DB SECONDS_BEFORE CMD...: start the load, wait, run CMD, wait 1 s, stop the load
run_load() {
	db=$1; shift
	rm -f "$work/stop"
	"$work/bench_load" "dbname=$db" "$clients" "$work/stop" > "$work/load.out" &
	pid=$!
	sleep 2
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	sleep 1
	touch "$work/stop"
	wait $pid
	echo "$(cat "$work/load.out") seconds=$(echo "$t1 - $t0" | bc -l)"
}
field() { echo "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }

createdb -T bench_base bench_none
createdb -T bench_base bench_pgphase
createdb -T bench_base bench_psql

none=$(run_load bench_none sleep 10)
pgp=$(run_load bench_pgphase "$bin" -q -c "$work/pgphase.cfg" -d dbname=bench_pgphase \
	-m "$work/m" migrate)
psql_=$(run_load bench_psql psql -X -q -v ON_ERROR_STOP=1 -1 -d bench_psql \
	-f "$work/m/001_every_strategy.sql")

for r in "$none" "$pgp"; do
	[ "$(field "$r" errors)" = 0 ] || { echo "the app saw errors: $r" >&2; exit 1; }
done
state=$(psql -X -At -d bench_pgphase -c "SELECT state FROM pgphase.migrations")
[ "$state" = complete ] || { echo "pgphase did not complete the migration ($state)" >&2; exit 1; }

printf 'table: %d rows, app: %d connections (read, update, insert by key)\n' "$rows" "$clients"
printf 'no migration:     %s\n' "$none"
printf 'pgphase migrate:  %s\n' "$pgp"
printf 'psql -1 as written: %s\n' "$psql_"
max_pg=$(field "$pgp" max_ms)
p99_pg=$(field "$pgp" p99_ms)
p99_none=$(field "$none" p99_ms)
max_psql=$(field "$psql_" max_ms)
printf 'longest app wait: pgphase %.0f ms (goal <= 1100 ms = lock_timeout + 100 ms), psql -1 %.0f ms; ratio pgphase/psql %.3f\n' \
	"$max_pg" "$max_psql" "$(echo "$max_pg / $max_psql" | bc -l)"
printf 'app p99: pgphase %.2f ms vs %.2f ms with no migration; ratio %.2f (goal <= 2.0)\n' \
	"$p99_pg" "$p99_none" "$(echo "$p99_pg / $p99_none" | bc -l)"
dropdb bench_none
dropdb bench_pgphase
dropdb bench_psql
dropdb bench_base
