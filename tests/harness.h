/*
 * Test harness shared by every Check suite.
 *
 * tests/run.sh starts one throwaway PostgreSQL 15 for the whole run and exports PGHOST,
 * PGPORT, PGUSER (libpq's variables) plus PGPHASE_BIN (the built command).  Database test
 * cases use the th_db_setup/th_db_teardown checked fixture: each case gets a fresh database,
 * dropped afterwards.  Database test cases are tagged "db" (th_db_tcase) so pure suites run
 * without a server: CK_EXCLUDE_TAGS=db.
 */
#ifndef PGPHASE_TEST_HARNESS_H
#define PGPHASE_TEST_HARNESS_H

#include <stdbool.h>

#include <check.h>
#include <libpq-fe.h>

/* A test case tagged "db" with the fresh-database fixture and a generous timeout. */
TCase *th_db_tcase(const char *name);
/* A pure test case (no server). */
TCase *th_pure_tcase(const char *name);

void th_db_setup(void);
void th_db_teardown(void);

/* Name of the current test database, and a conninfo for it (static storage). */
const char *th_dbname(void);
const char *th_conninfo(void);
/* Conninfo for another database on the test server (malloc'd). */
char *th_conninfo_for(const char *dbname);

/* A new connection to the test database; aborts the test on failure. */
PGconn *th_connect(void);
/* Run SQL on a fresh connection; fail the test (with the server message) on error. */
void th_exec(const char *sql);
/* First column of the first row as a malloc'd string ("" for NULL, NULL for no row). */
char *th_value(const char *sql);
long th_long(const char *sql);

/* A fresh temporary directory (malloc'd path), removed at teardown of the db fixture. */
char *th_tmpdir(void);
/* Write content to dir/name (created with parents as needed). */
void th_write(const char *dir, const char *name, const char *content);

struct th_run {
	int status; /* exit status, or 128+signal */
	char *out;  /* captured stdout (malloc'd) */
	char *err;  /* captured stderr (malloc'd) */
};

/*
 * Run the pgphase binary with argv (NULL-terminated, without argv[0]) in cwd (NULL: current)
 * and an optional extra environment (NULL-terminated "K=V" list).  Captures output.
 */
void th_cli(struct th_run *r, const char *cwd, const char *const *env, const char *const *argv);
void th_run_release(struct th_run *r);

/* Convenience: run pgphase -d <test db> -m dir ARGS...; NULL-terminated varargs. */
void th_pgphase(struct th_run *r, const char *dir, ...) __attribute__((sentinel));

/* ck_assert helpers that print what ran and its output when they fail. */
#define th_assert_exit(r, code)                                                                \
	ck_assert_msg((r)->status == (code), "expected exit %d, got %d\nstdout:\n%s\nstderr:\n%s", \
		      (code), (r)->status, (r)->out, (r)->err)
#define th_assert_contains(hay, needle)                                                        \
	ck_assert_msg(strstr((hay), (needle)) != NULL, "expected to find \"%s\" in:\n%s", (needle), \
		      (hay))
#define th_assert_not_contains(hay, needle)                                                    \
	ck_assert_msg(strstr((hay), (needle)) == NULL, "did not expect \"%s\" in:\n%s", (needle), \
		      (hay))

/*
 * Equivalence helpers (the oracle is psql itself).  th_extra_db creates another database on
 * the test server, dropped at teardown, and returns its name (malloc'd).  th_psql_file runs
 * `psql -X -q -1 -v ON_ERROR_STOP=1 -f file` on dbname and returns its exit status (output
 * captured into *out when out is non-NULL, malloc'd).  th_snapshot returns dbname's schema
 * snapshot (pgphase_snapshot_take, the "pgphase" state schema excluded; malloc'd).
 * th_assert_same_schema fails the test with the snapshot diff when the two databases differ.
 */
char *th_extra_db(const char *suffix);
int th_psql_file(const char *dbname, const char *file, char **out);
char *th_snapshot(const char *dbname);
void th_assert_same_schema(const char *db_psql, const char *db_pgphase);

#endif
