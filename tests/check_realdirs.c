/*
 * Real migration directories (issue 14, item 0): small attributed excerpts of public
 * projects' migration directories in tests/fixtures/real/<project>/migrations, renamed into
 * pgphase's layout and otherwise unmodified (see each NOTICE).  Each directory is applied
 * by psql (th_psql_file: `psql -X -q -1 -v ON_ERROR_STOP=1 -f`, file by file, in version
 * order) to one database and by `pgphase migrate` to another; both must exit 0 and end in
 * the same schema (th_assert_same_schema: the snapshot module, column order left out).
 *
 * A case whose failure is a known bug being fixed elsewhere carries .known_bug = "reason":
 * its outcome is printed to stderr ("KNOWN BUG" with the exit status, pgphase's error and the
 * schema diff) instead of failing the suite; when such a case passes, "KNOWN BUG FIXED?" is
 * printed so the flag can be cleared.  Nothing is fetched at run time.
 *
 * Rollback (issue 15): for each directory with DOWN files, after the migrate above psql runs
 * the DOWNs newest first and `pgphase rollback` must get exactly as far and end in psql's
 * schema.  A migration whose DOWN psql cannot run (none, or it fails under psql too: the
 * project's own bug) is skipped by both sides: pgphase rolls back to it (--to), its state
 * row is deleted, and the chain goes on below it, compared at each stop.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "pgphase/migration.h"
#include "pgphase/snapshot.h"

/* A hang (one of the bugs the corpus found) must not stall the suite: pgphase runs under
 * timeout(1), killed after this many seconds. */
#define RD_TIMEOUT "120"

struct realdir {
	const char *name;      /* tests/fixtures/real/<name> */
	const char *known_bug; /* non-NULL: report, do not assert */
};

static const struct realdir realdirs[] = {
	{.name = "harbor"},
	{.name = "cratesio"},
	{.name = "hatchet"},
	{.name = "kratos"},
	{.name = "openmeter"},
	{.name = "langfuse"},
	{.name = "temporal"},
	{.name = "umami"},
};

#define NREALDIRS ((int)(sizeof(realdirs) / sizeof(realdirs[0])))

struct rd_out {
	int status;
	char *text; /* stdout and stderr together (malloc'd) */
};

static char *slurp_path(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return strdup("");
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

/* Run argv with stdout and stderr captured together. */
static void rd_spawn(struct rd_out *o, const char *const *argv)
{
	char path[] = "/tmp/pgphase-rd.XXXXXX";
	int fd = mkstemp(path), st;
	pid_t pid;

	ck_assert_int_ge(fd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(fd, 1);
		dup2(fd, 2);
		setenv("NO_COLOR", "1", 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	o->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	close(fd);
	o->text = slurp_path(path);
	unlink(path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The migration files psql runs, in version order (the fixtures use NNNN_ names, so name
 * order is version order; a pair contributes its .up.sql). */
static int up_files(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	int n = 0;

	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);

		if (len < 5 || strcmp(e->d_name + len - 4, ".sql") != 0)
			continue;
		if (len > 9 && strcmp(e->d_name + len - 9, ".down.sql") == 0)
			continue;
		v = realloc(v, sizeof(*v) * (size_t)(n + 1));
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(v, (size_t)n, sizeof(*v), cmp_str);
	*out = v;
	return n;
}

static char *fixture_dir(const char *name)
{
	const char *top = getenv("PGPHASE_TEST_TOP");
	char *dir;

	if (asprintf(&dir, "%s/tests/fixtures/real/%s/migrations", top ? top : ".", name) < 0)
		abort();
	return dir;
}

/* psql applies every file to db; returns 0 or the first failure's status (output in *log). */
static int psql_all(const char *db, const char *dir, char **log)
{
	char **files;
	int n = up_files(dir, &files), rc = 0;

	*log = NULL;
	for (int i = 0; i < n; i++) {
		char *path;

		if (rc == 0) {
			if (asprintf(&path, "%s/%s", dir, files[i]) < 0)
				abort();
			free(*log);
			rc = th_psql_file(db, path, log);
			free(path);
		}
		free(files[i]);
	}
	free(files);
	return rc;
}

/* At most max lines of s (the rest counted), for stderr. */
static void print_lines(const char *s, int max)
{
	int n = 0, more = 0;

	for (const char *p = s; *p; p++)
		if (*p == '\n' && ++n > max)
			more++;
	n = 0;
	for (const char *p = s; *p && n < max; p++) {
		fputc(*p, stderr);
		if (*p == '\n')
			n++;
	}
	if (more)
		fprintf(stderr, "... %d more lines\n", more);
}

/* The last max lines of s (pgphase's error comes last). */
static void print_tail(const char *s, int max)
{
	const char *p = s + strlen(s);
	int n = 0;

	while (p > s && n <= max)
		if (*--p == '\n')
			n++;
	if (n > max)
		p++;
	fputs(p, stderr);
	if (*s && s[strlen(s) - 1] != '\n')
		fputc('\n', stderr);
}

/* The run as the DOWN chain left it, for failure messages. */
struct rb_chain {
	int psql_down;   /* DOWNs psql ran */
	int pgphase_down; /* migrations pgphase rolled back */
	int skipped;     /* migrations both sides left (see the header) */
};

/*
 * The psql side of the chain: runs the DOWNs of set->items[*i - 1] and below, newest
 * first, on db until a migration psql cannot roll back; returns that version (0 when the
 * chain reached the bottom) and leaves *i on it.
 */
static int64_t psql_down_to(const char *db, const struct pgphase_migration_set *set, size_t *i,
			    struct rb_chain *c)
{
	for (; *i > 0; (*i)--) {
		const struct pgphase_migration *m = &set->items[*i - 1];
		char *log = NULL;
		int rc;

		/* no DOWN file: pgphase refuses it by design (an empty one undoes nothing) */
		if (!m->down_file)
			return m->version;
		rc = th_psql_file(db, m->down_file, &log);
		free(log);
		if (rc != 0)
			return m->version; /* the project's own DOWN fails under psql too */
		c->psql_down++;
	}
	return 0;
}

/*
 * After the forward run: the DOWN chain of rd (the fixture in dir, applied by psql to db_psql
 * and by pgphase to the test database) run by psql and by `pgphase rollback` (see the header).
 */
static void rollback_like_psql(const struct realdir *rd, const char *dir, const char *db_psql)
{
	const char *bin = getenv("PGPHASE_BIN");
	struct pgphase_migration_set set = { 0 };
	struct pgphase_template_vars vars = { 0 };
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct rb_chain c = { 0 };
	struct rd_out mig;
	bool downs = false;
	size_t i;

	ck_assert_msg(pgphase_migration_set_load(&set, dir, &vars, &err) == 0, "%s: %s", rd->name,
		      err.message);
	pgphase_error_release(&err);
	for (i = 0; i < set.n; i++)
		downs = downs || set.items[i].down_file;
	for (i = downs ? set.n : 0; i > 0;) {
		int64_t top = set.items[i - 1].version;
		int64_t stop = psql_down_to(db_psql, &set, &i, &c), left;
		char to[24];
		const char *argv[] = {"timeout", "-k", "5", RD_TIMEOUT, bin, "--no-color", "-d",
				      th_conninfo(), "-m", dir, "rollback", "--to", to, NULL};
		size_t len;

		snprintf(to, sizeof(to), "%lld", (long long)stop);
		rd_spawn(&mig, argv);
		left = th_long("SELECT coalesce(max(version), 0) FROM pgphase.migrations");
		c.pgphase_down += (int)(top - left);
		len = strlen(mig.text);
		ck_assert_msg(left == stop,
			      "%s: psql's DOWN chain goes to %lld, pgphase rollback --to %s stops at "
			      "%lld (exit %d; so far psql ran %d DOWNs, pgphase rolled back %d, "
			      "%d skipped):\n%s", rd->name, (long long)stop, to, (long long)left,
			      mig.status, c.psql_down, c.pgphase_down, c.skipped,
			      mig.text + (len > 1200 ? len - 1200 : 0));
		free(mig.text);
		th_assert_same_schema(db_psql, th_dbname());
		if (stop == 0)
			break;
		/* both sides leave this one: forget it, go on below */
		th_exec("DELETE FROM pgphase.backfill_progress WHERE version = "
			"(SELECT max(version) FROM pgphase.migrations)");
		th_exec("DELETE FROM pgphase.migrations WHERE version = "
			"(SELECT max(version) FROM pgphase.migrations)");
		c.skipped++;
		i--;
	}
	ck_assert_int_eq(c.pgphase_down, c.psql_down);
	if (downs)
		fprintf(stderr, "realdirs rollback %s: %zu migrations, psql and pgphase roll "
			"back %d, %d skipped\n", rd->name, set.n, c.psql_down, c.skipped);
	pgphase_migration_set_release(&set);
}

START_TEST(real_directory_same_schema_as_psql)
{
	const struct realdir *rd = &realdirs[_i];
	char *dir = fixture_dir(rd->name), *psql_log, *db_psql;
	const char *bin = getenv("PGPHASE_BIN");
	struct rd_out mig;
	int psql_rc;

	ck_assert_msg(bin != NULL, "PGPHASE_BIN is not set (run through tests/run.sh)");
	db_psql = th_extra_db("psql");
	psql_rc = psql_all(db_psql, dir, &psql_log);
	ck_assert_msg(psql_rc == 0, "%s: psql -1 itself fails (the fixture is wrong):\n%s",
		      rd->name, psql_log ? psql_log : "");

	const char *argv[] = {"timeout", "-k", "5", RD_TIMEOUT, bin, "--no-color", "-d",
			      th_conninfo(), "-m", dir, "migrate", NULL};
	rd_spawn(&mig, argv);
	if (rd->known_bug) {
		char *a = th_snapshot(db_psql), *b = th_snapshot(th_dbname());
		char *diff = pgphase_snapshot_diff(a, b);

		if (mig.status == 0 && !diff) {
			fprintf(stderr, "KNOWN BUG FIXED? realdirs %s: passes now (%s); clear the "
				"flag\n", rd->name, rd->known_bug);
		} else {
			fprintf(stderr, "KNOWN BUG realdirs %s: %s\npgphase migrate exit %d%s\n",
				rd->name, rd->known_bug, mig.status,
				mig.status == 124 ? " (hang, killed)" : "");
			if (mig.status)
				print_tail(mig.text, 8);
			fprintf(stderr, "schema diff (- psql only, + pgphase only):\n");
			print_lines(diff ? diff : "(none)\n", 40);
		}
		free(diff);
		free(a);
		free(b);
	} else {
		size_t len = strlen(mig.text);

		/* the end of the output (Check's message size is limited; the error comes last) */
		ck_assert_msg(mig.status == 0, "%s: pgphase migrate exit %d (psql -1 runs it):\n%s",
			      rd->name, mig.status, mig.text + (len > 1500 ? len - 1500 : 0));
		th_assert_same_schema(db_psql, th_dbname());
		rollback_like_psql(rd, dir, db_psql);
	}
	free(mig.text);
	free(psql_log);
	free(db_psql);
	free(dir);
}
END_TEST

Suite *realdirs_suite(void)
{
	Suite *s = suite_create("realdirs");
	TCase *tc = th_db_tcase("realdirs");

	tcase_add_loop_test(tc, real_directory_same_schema_as_psql, 0, NREALDIRS);
	suite_add_tcase(s, tc);
	return s;
}
