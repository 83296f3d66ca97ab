/*
 * Harness implementation: fresh database per test case on the run's throwaway server, CLI
 * runner with captured output, temporary directories.  Everything talks to the real server.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pgphase/snapshot.h"

static char dbname[64];
static char *extra_dbs[16];
static int nextra_dbs;
static char conninfo[512];
static char *tmpdirs[64];
static int ntmpdirs;

/* The harness's own NOTICEs ("database ... does not exist, skipping") are not news. */
static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *connect_to(const char *db)
{
	char *ci = th_conninfo_for(db);
	PGconn *c = PQconnectdb(ci);

	free(ci);
	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "cannot connect to test server: %s",
		      PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

static void exec_on(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "query failed: %s\nSQL: %s", PQerrorMessage(c), sql);
	PQclear(r);
}

char *th_conninfo_for(const char *db)
{
	const char *host = getenv("PGHOST"), *port = getenv("PGPORT");
	char *ci;

	if (asprintf(&ci, "host=%s port=%s user=postgres dbname=%s", host ? host : "/tmp",
		     port ? port : "5432", db) < 0)
		abort();
	return ci;
}

void th_db_setup(void)
{
	static int counter;
	PGconn *c;
	char sql[128];

	snprintf(dbname, sizeof(dbname), "pgphase_t_%d_%d", (int)getpid(), ++counter);
	c = connect_to("postgres");
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0", dbname);
	exec_on(c, sql);
	PQfinish(c);
	snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=postgres dbname=%s",
		 getenv("PGHOST"), getenv("PGPORT"), dbname);
}

void th_db_teardown(void)
{
	PGconn *c;
	char sql[160];

	for (int i = 0; i < ntmpdirs; i++) {
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdirs[i]);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", tmpdirs[i]);
		free(tmpdirs[i]);
	}
	ntmpdirs = 0;
	if (!dbname[0])
		return;
	c = connect_to("postgres");
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", dbname);
	exec_on(c, sql);
	for (int i = 0; i < nextra_dbs; i++) {
		snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", extra_dbs[i]);
		exec_on(c, sql);
		free(extra_dbs[i]);
	}
	nextra_dbs = 0;
	PQfinish(c);
	dbname[0] = '\0';
}

TCase *th_db_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_set_tags(tc, "db");
	tcase_add_checked_fixture(tc, th_db_setup, th_db_teardown);
	tcase_set_timeout(tc, 300);
	return tc;
}

static void tmp_teardown(void)
{
	dbname[0] = '\0';
	th_db_teardown();
}

TCase *th_pure_tcase(const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, NULL, tmp_teardown);
	return tc;
}

const char *th_dbname(void)
{
	return dbname;
}

const char *th_conninfo(void)
{
	return conninfo;
}

PGconn *th_connect(void)
{
	return connect_to(dbname);
}

void th_exec(const char *sql)
{
	PGconn *c = th_connect();

	exec_on(c, sql);
	PQfinish(c);
}

char *th_value(const char *sql)
{
	PGconn *c = th_connect();
	PGresult *r = PQexec(c, sql);
	char *v = NULL;

	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "query failed: %s\nSQL: %s",
		      PQerrorMessage(c), sql);
	if (PQntuples(r) > 0)
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

long th_long(const char *sql)
{
	char *v = th_value(sql);
	long n;

	ck_assert_msg(v != NULL, "no row from: %s", sql);
	n = strtol(v, NULL, 10);
	free(v);
	return n;
}

char *th_tmpdir(void)
{
	char *d = strdup("/tmp/pgphase-tc.XXXXXX");

	ck_assert_ptr_nonnull(mkdtemp(d));
	if (ntmpdirs < 64)
		tmpdirs[ntmpdirs++] = strdup(d);
	return d;
}

void th_write(const char *dir, const char *name, const char *content)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	for (char *p = path + strlen(dir) + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	fputs(content, f);
	fclose(f);
}

static char *slurp_fd(int fd)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 2)
			buf = realloc(buf, cap *= 2);
	}
	buf[len] = '\0';
	return buf;
}

void th_cli(struct th_run *r, const char *cwd, const char *const *env, const char *const *argv)
{
	const char *bin = getenv("PGPHASE_BIN");
	char outpath[] = "/tmp/pgphase-out.XXXXXX", errpath[] = "/tmp/pgphase-err.XXXXXX";
	int outfd = mkstemp(outpath), errfd = mkstemp(errpath), st;
	pid_t pid;

	ck_assert_msg(bin != NULL, "PGPHASE_BIN is not set (run through tests/run.sh)");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *args[64];
		int n = 0;

		if (getenv("PGPHASE_VALGRIND")) {
			/* make valgrind: memcheck every CLI run; exit 97 marks a memcheck error */
			static char supp[1200];

			snprintf(supp, sizeof(supp), "--suppressions=%s/tests/valgrind.supp",
				 getenv("PGPHASE_TEST_TOP") ? getenv("PGPHASE_TEST_TOP") : ".");
			args[n++] = "valgrind";
			args[n++] = "-q";
			args[n++] = "--error-exitcode=97";
			args[n++] = "--leak-check=full";
			args[n++] = "--errors-for-leak-kinds=definite";
			args[n++] = "--show-leak-kinds=definite";
			args[n++] = supp;
		}
		args[n++] = bin;
		for (int i = 0; argv[i] && n < 63; i++)
			args[n++] = argv[i];
		args[n] = NULL;
		dup2(outfd, 1);
		dup2(errfd, 2);
		if (cwd && chdir(cwd) < 0)
			_exit(127);
		for (int i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		setenv("NO_COLOR", "1", 1);
		execvp(args[0], (char *const *)args);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	lseek(outfd, 0, SEEK_SET);
	lseek(errfd, 0, SEEK_SET);
	r->out = slurp_fd(outfd);
	r->err = slurp_fd(errfd);
	ck_assert_msg(r->status != 97 || !getenv("PGPHASE_VALGRIND"), "memcheck errors:\n%s", r->err);
	close(outfd);
	close(errfd);
	unlink(outpath);
	unlink(errpath);
}

void th_run_release(struct th_run *r)
{
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

void th_pgphase(struct th_run *r, const char *dir, ...)
{
	const char *argv[64];
	va_list ap;
	int n = 0;
	const char *a;

	argv[n++] = "-d";
	argv[n++] = conninfo;
	if (dir) {
		argv[n++] = "-m";
		argv[n++] = dir;
	}
	va_start(ap, dir);
	while ((a = va_arg(ap, const char *)) && n < 62)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	th_cli(r, NULL, NULL, argv);
}

/* ---- equivalence helpers ------------------------------------------------------------- */

char *th_extra_db(const char *suffix)
{
	char name[64], sql[160];
	PGconn *c;
	int len;

	ck_assert_msg(dbname[0], "th_extra_db needs the db fixture");
	ck_assert_msg(nextra_dbs < 16, "too many extra databases");
	len = snprintf(name, sizeof(name), "%s_", dbname);
	/* the suffix is kept to [a-z0-9_] so the name needs no quoting */
	for (const char *p = suffix; *p && len < 63; p++)
		name[len++] = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_';
	name[len] = '\0';
	c = connect_to("postgres");
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0", name);
	exec_on(c, sql);
	PQfinish(c);
	extra_dbs[nextra_dbs++] = strdup(name);
	return strdup(name);
}

int th_psql_file(const char *db, const char *file, char **out)
{
	char outpath[] = "/tmp/pgphase-psql.XXXXXX";
	int fd = mkstemp(outpath), st;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* PGHOST and PGPORT come from the environment tests/run.sh exported */
		const char *argv[] = { "psql", "-X", "-q", "-1", "-v", "ON_ERROR_STOP=1", "-U",
				       "postgres", "-d", db, "-f", file, NULL };

		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	lseek(fd, 0, SEEK_SET);
	if (out)
		*out = slurp_fd(fd);
	close(fd);
	unlink(outpath);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

char *th_snapshot(const char *db)
{
	static const char *const exclude[] = { "pgphase", NULL };
	struct pgphase_snapshot_options opts = { .exclude_schemas = exclude };
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	PGconn *c = connect_to(db);
	char *text = pgphase_snapshot_take(c, &opts, &err);

	ck_assert_msg(text != NULL, "snapshot of %s failed: %s", db, err.message);
	PQfinish(c);
	return text;
}

void th_assert_same_schema(const char *db_psql, const char *db_pgphase)
{
	char *a = th_snapshot(db_psql), *b = th_snapshot(db_pgphase);
	char *diff = pgphase_snapshot_diff(a, b);

	free(a);
	free(b);
	ck_assert_msg(diff == NULL,
		      "schemas differ (- only after psql -1, + only after pgphase):\n%s", diff);
}
