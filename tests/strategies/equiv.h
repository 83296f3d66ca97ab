/*
 * psql as the oracle, for the quoting, waits and strategy-audit suites (tests/check_quoting.c,
 * tests/check_waits.c, tests/check_strategies_audit.c): the same migrations applied by
 * `psql -X -1 -v ON_ERROR_STOP=1 -f FILE` (file by file) on another database and by
 * `pgphase migrate` on the test database must end in the same schema, compared here through
 * `pg_dump --schema-only` (the state schema excluded) until the snapshot module
 * (th_assert_same_schema) is merged.  Also: pgphase run in the background with a deadline, so a
 * hang fails the test instead of stalling the run, and signalled while it waits.
 */
#ifndef PGPHASE_TEST_STRATEGY_EQUIV_H
#define PGPHASE_TEST_STRATEGY_EQUIV_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "strategies/support.h"

/* Another database on the test server ("<test db>_<suffix>"), dropped at teardown. */
static inline void eq_sql_on(const char *dbname, const char *sql)
{
	char *ci = th_conninfo_for(dbname);
	PGconn *c = PQconnectdb(ci);
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	free(ci);
}

static inline char *eq_extra_db(const char *suffix)
{
	char *name = NULL, *drop = NULL, *create = NULL;

	if (asprintf(&name, "%s_%s", th_dbname(), suffix) < 0 ||
	    asprintf(&drop, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name) < 0 ||
	    asprintf(&create, "CREATE DATABASE \"%s\"", name) < 0)
		ck_abort_msg("out of memory");
	eq_sql_on("postgres", drop);
	eq_sql_on("postgres", create);
	free(drop);
	free(create);
	return name;
}

static inline void eq_drop_db(const char *name)
{
	char *sql = NULL;

	if (asprintf(&sql, "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name) < 0)
		ck_abort();
	eq_sql_on("postgres", sql);
	free(sql);
}

/* Run a shell command, its output (stdout and stderr) in *out (malloc'd); exit status back. */
static inline int eq_shell(const char *cmd, char **out)
{
	FILE *p = popen(cmd, "r");
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int st;

	ck_assert_ptr_nonnull(p);
	for (;;) {
		size_t n = fread(buf + len, 1, cap - len - 1, p);

		len += n;
		if (n == 0)
			break;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	st = pclose(p);
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* psql -X -q -1 -v ON_ERROR_STOP=1 -f dir/m/<file> on dbname; exit status. */
static inline int eq_psql(const char *dbname, const char *dir, const char *file, char **out)
{
	char *ci = th_conninfo_for(dbname), *cmd = NULL;
	int st;

	if (asprintf(&cmd, "psql -X -q -1 -v ON_ERROR_STOP=1 -d '%s' -f '%s/m/%s' 2>&1", ci, dir,
		     file) < 0)
		ck_abort();
	st = eq_shell(cmd, out);
	free(cmd);
	free(ci);
	return st;
}

/* The schema of dbname as pg_dump --schema-only prints it, without the state schema. */
static inline char *eq_dump(const char *dbname)
{
	char *ci = th_conninfo_for(dbname), *cmd = NULL, *out;

	if (asprintf(&cmd, "pg_dump --schema-only -N pgphase -d '%s' 2>&1 | grep -v '^.\\(un\\)\\{0,1\\}restrict '", ci) < 0)
		ck_abort();
	ck_assert_int_eq(eq_shell(cmd, &out), 0);
	free(cmd);
	free(ci);
	return out;
}

/* Fail with a diff when the two databases' schemas differ. */
static inline void eq_assert_same_schema(const char *db_psql, const char *db_pgphase)
{
	char *a = eq_dump(db_psql), *b = eq_dump(db_pgphase), *dir, *diff = NULL, *cmd = NULL;

	if (strcmp(a, b) == 0) {
		free(a);
		free(b);
		return;
	}
	dir = th_tmpdir();
	th_write(dir, "psql.sql", a);
	th_write(dir, "pgphase.sql", b);
	if (asprintf(&cmd, "diff -u '%s/psql.sql' '%s/pgphase.sql'", dir, dir) < 0)
		ck_abort();
	eq_shell(cmd, &diff);
	ck_abort_msg("schema after pgphase migrate differs from psql -1:\n%s", diff);
}

/*
 * pgphase ARGS in the background (stderr kept), waited for at most deadline_ms: a run still
 * going then is SIGKILLed and the test fails naming it.  Returns the exit status; *err gets
 * its stderr (malloc'd) when err is not NULL.
 */
static inline int eq_pgphase_deadline(const char *dir, const char *const *args, double deadline_ms,
				      char **err)
{
	char *errfile = NULL, *text = NULL, *cmd = NULL;
	double start = fx_now_ms();
	pid_t pid;
	int st;

	if (asprintf(&errfile, "%s/stderr.txt", dir) < 0)
		ck_abort();
	pid = fx_spawn(dir, args, errfile);
	for (;;) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		if (fx_now_ms() - start > deadline_ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			if (asprintf(&cmd, "tail -c 3000 '%s'", errfile) < 0)
				ck_abort();
			eq_shell(cmd, &text);
			ck_abort_msg("pgphase %s did not end within %.0f ms (hangs); stderr:\n%s", args[0],
				     deadline_ms, text);
		}
		usleep(2000);
	}
	if (asprintf(&cmd, "cat '%s'", errfile) < 0)
		ck_abort();
	eq_shell(cmd, &text);
	free(cmd);
	free(errfile);
	if (err)
		*err = text;
	else
		free(text);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * The oracle check: dir/m holds 001_create.sql, 002_change.sql (and more when given); data
 * (may be NULL) runs on both databases after 001.  psql applies each file in one transaction;
 * `pgphase plan` must name each of strategies (NULL-terminated, may be NULL); pgphase
 * migrates (within 60 s) and must exit 0 like psql with the same schema.  Returns pgphase's
 * stderr (malloc'd).
 */
static inline char *eq_migrate_like_psql(const char *dir, const char *const *files, size_t n,
					 const char *data, const char *const *strategies)
{
	char *db = eq_extra_db("psql"), *out = NULL, *err = NULL;
	const char *first[] = { "migrate", "--to", "1", NULL };
	const char *all[] = { "migrate", NULL };
	int st;

	ck_assert_msg(eq_psql(db, dir, files[0], &out) == 0, "psql: %s", out);
	free(out);
	ck_assert_int_eq(eq_pgphase_deadline(dir, first, 60000, NULL), 0);
	if (data) {
		th_exec(data);
		eq_sql_on(db, data);
	}
	for (size_t i = 0; strategies && strategies[i]; i++) {
		struct th_run r;

		fx_pgphase(&r, dir, "plan");
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, strategies[i]);
		th_run_release(&r);
	}
	for (size_t i = 1; i < n; i++) {
		ck_assert_msg(eq_psql(db, dir, files[i], &out) == 0, "psql on %s: %s", files[i], out);
		free(out);
	}
	st = eq_pgphase_deadline(dir, all, 60000, &err);
	ck_assert_msg(st == 0, "pgphase migrate exited %d, psql -1 succeeded:\n%s", st, err);
	eq_assert_same_schema(db, th_dbname());
	eq_drop_db(db);
	free(db);
	return err;
}

#endif
