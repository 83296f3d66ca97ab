/*
 * Helpers for the strategy and phase suites (tests/check_strategies.c, tests/check_phases.c):
 * a migrations directory with a config file, a catalog fingerprint to compare end states,
 * resetting the test database, and running pgphase in the background to SIGKILL it when a
 * condition in the database becomes true (crash injection between and during steps).
 * static inline: each suite uses a different subset.
 */
#ifndef PGPHASE_TEST_STRATEGY_SUPPORT_H
#define PGPHASE_TEST_STRATEGY_SUPPORT_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

/* Everything a run leaves in schema public, one line per fact, sorted. */
#define FX_FINGERPRINT_SQL                                                                     \
	"SELECT string_agg(x, E'\\n' ORDER BY x) FROM ("                                        \
	" SELECT 'col ' || c.relname || '.' || a.attname || ' ' ||"                            \
	"        format_type(a.atttypid, a.atttypmod) || ' ' || a.attnotnull || ' ' ||"        \
	"        coalesce(pg_get_expr(d.adbin, d.adrelid), '')"                                  \
	"   FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"                         \
	"   LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"           \
	"  WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped" \
	" UNION ALL SELECT 'rel ' || relname || ' ' || relkind::text FROM pg_class"                  \
	"  WHERE relnamespace = 'public'::regnamespace"                                        \
	" UNION ALL SELECT 'idx ' || pg_get_indexdef(indexrelid) || ' ' || indisvalid"         \
	"   FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"                           \
	"  WHERE c.relnamespace = 'public'::regnamespace"                                      \
	" UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) || ' ' ||"    \
	"        convalidated FROM pg_constraint WHERE connamespace = 'public'::regnamespace"  \
	" UNION ALL SELECT 'trg ' || tgname FROM pg_trigger WHERE NOT tgisinternal"            \
	" UNION ALL SELECT 'fn ' || proname FROM pg_proc"                                      \
	"  WHERE pronamespace = 'public'::regnamespace"                                        \
	" UNION ALL SELECT 'state ' || version || ' ' || state || ' ' ||"                      \
	"        coalesce(current_phase, '-') FROM pgphase.migrations) s(x)"

static inline char *fx_fingerprint(void)
{
	return th_value(FX_FINGERPRINT_SQL);
}

/* Back to an empty database (public schema and pgphase state dropped). */
static inline void fx_reset(void)
{
	th_exec("SET client_min_messages = warning; DROP SCHEMA public CASCADE; CREATE SCHEMA public; "
		"DROP SCHEMA IF EXISTS pgphase CASCADE");
}

/* A migrations directory dir/m with 001 and 002, and dir/pgphase.cfg (small backfill
 * batches with a pause, so a run takes long enough to be killed inside the backfill). */
static inline char *fx_dir(const char *create, const char *change, const char *cfg)
{
	char *dir = th_tmpdir();

	th_write(dir, "m/001_create.sql", create);
	if (change)
		th_write(dir, "m/002_change.sql", change);
	th_write(dir, "pgphase.cfg", cfg ? cfg
					 : "lock_timeout = \"1s\";\n"
					   "backfill = { batch_size = 100; sleep = \"3ms\"; };\n");
	return dir;
}

/* pgphase -d <db> -c dir/pgphase.cfg -m dir/m ARGS... (NULL-terminated), captured. */
static inline void fx_pgphase_argv(struct th_run *r, const char *dir, const char *const *args)
{
	char cfg[4096], m[4096];
	const char *argv[40];
	int n = 0;

	snprintf(cfg, sizeof(cfg), "%s/pgphase.cfg", dir);
	snprintf(m, sizeof(m), "%s/m", dir);
	argv[n++] = "-d";
	argv[n++] = th_conninfo();
	argv[n++] = "-c";
	argv[n++] = cfg;
	argv[n++] = "-m";
	argv[n++] = m;
	for (int i = 0; args[i] && n < 38; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	th_cli(r, NULL, NULL, argv);
}

#define fx_pgphase(r, dir, ...)                                                                \
	do {                                                                                   \
		const char *fx_args_[] = { __VA_ARGS__, NULL };                                \
		fx_pgphase_argv((r), (dir), fx_args_);                                         \
	} while (0)

/* Start pgphase in the background (stderr to errfile, or discarded); returns its pid. */
static inline pid_t fx_spawn(const char *dir, const char *const *args, const char *errfile)
{
	const char *bin = getenv("PGPHASE_BIN");
	char cfg[4096], m[4096];
	pid_t pid;

	snprintf(cfg, sizeof(cfg), "%s/pgphase.cfg", dir);
	snprintf(m, sizeof(m), "%s/m", dir);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *argv[40];
		int n = 0, null = open("/dev/null", O_WRONLY);
		int errfd = errfile ? open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644) : null;

		argv[n++] = bin;
		argv[n++] = "-d";
		argv[n++] = th_conninfo();
		argv[n++] = "-c";
		argv[n++] = cfg;
		argv[n++] = "-m";
		argv[n++] = m;
		for (int i = 0; args[i] && n < 38; i++)
			argv[n++] = args[i];
		argv[n] = NULL;
		dup2(null, 1);
		dup2(errfd, 2);
		execv(bin, (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Does cond (a query) return a row?  Errors (e.g. no state schema yet) count as no. */
static inline bool fx_cond(PGconn *c, const char *cond)
{
	PGresult *r = PQexec(c, cond);
	bool yes = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0;

	PQclear(r);
	return yes;
}

/*
 * Wait for pid; SIGKILL it as soon as cond holds.  Returns true when it was killed, false
 * when it exited first (*status set).
 */
static inline bool fx_kill_when(pid_t pid, const char *cond, int *status)
{
	PGconn *c = th_connect();
	bool killed = false;

	for (;;) {
		int st;
		pid_t w = waitpid(pid, &st, WNOHANG);

		if (w == pid) {
			*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			break;
		}
		if (fx_cond(c, cond)) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			*status = 128 + SIGKILL;
			killed = true;
			break;
		}
		usleep(500);
	}
	PQfinish(c);
	return killed;
}

/*
 * Run a private copy of the pgphase binary for the rest of this test: others rebuild the
 * shared build/ directory while suites run, and exec of a binary the linker is writing fails.
 */
static inline void fx_private_binary(void)
{
	const char *bin = getenv("PGPHASE_BIN");
	char *dir = th_tmpdir(), cmd[8400], path[4200];

	if (!bin)
		return;
	snprintf(path, sizeof(path), "%s/pgphase", dir);
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", bin, path);
	ck_assert_msg(system(cmd) == 0, "cannot copy %s", bin);
	setenv("PGPHASE_BIN", path, 1);
	free(dir);
}

/* Monotonic milliseconds. */
static inline double fx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#endif
