# Shell functions shared by tests/realdirs/run.sh and rollback.sh (sourced; needs $here, the
# directory of these scripts, and $PGPHASE). Test tooling, not pgphase.

# dump DB: the schema as sorted lines, one fact per line (schema.sql: catalog queries, fast)
dump() {
	psql -X -At -v ON_ERROR_STOP=1 -d "$1" -f "$here/schema.sql" 2>&1
}

# psql_file DB FILE MODE LOG: the oracle, as the project's tool would run the file
psql_file() {
	if [ "$3" = autocommit ]; then
		psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" >>"$4" 2>&1
	elif ! psql -X -q -1 -v ON_ERROR_STOP=1 -d "$1" -f "$2" >>"$4" 2>&1; then
		# a file holding CREATE INDEX CONCURRENTLY (Prisma runs such a file outside a
		# transaction): the failed -1 run rolled back, so run it again statement by statement
		grep -q 'cannot run inside a transaction block' "$4" || return 1
		echo "(rerun without -1: the file cannot run inside a transaction block)" >>"$4"
		psql -X -q -v ON_ERROR_STOP=1 -d "$1" -f "$2" >>"$4" 2>&1
	fi
}

# run_pgphase SECS LOG ARGS...: pgphase with a watchdog (a hang must not stop the corpus)
run_pgphase() {
	local secs=$1 log=$2
	shift 2
	timeout -k 5 "$secs" "$PGPHASE" --no-color "$@" >"$log" 2>&1
}

# setup_sql KIND: the tool's own bookkeeping table, which some directories read or write
# (harbor does); empty for the other tools
setup_sql() {
	case "$1" in
	golang-migrate)
		echo 'CREATE TABLE schema_migrations (version bigint NOT NULL PRIMARY KEY,
			dirty boolean NOT NULL)' ;;
	esac
}
