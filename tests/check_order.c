/*
 * Order is preserved where it matters (issue 14, item 4).  Every case runs the same files
 * through psql -1 (the oracle) and through pgphase — `migrate`, and the staged
 * `expand`, `backfill`, `contract` — into fresh databases and asserts the same schema (and,
 * where a data change is involved, the same data).  The planner's side is asserted too: a
 * statement kept in place says why, and where no conflict exists the safe plan is kept
 * (batched data change in backfill, drops in contract).  Also: strict refuses what would run
 * as written, phase-marker conflicts are exit 2, and a 20,000-statement file plans in
 * linear time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <check.h>
#include <libpq-fe.h>

#include "harness.h"
#include "pgphase/migration.h"
#include "pgphase/plan.h"

/* ---- helpers ---- */

/* The first value of a one-row query on dbname (malloc'd). */
static char *value(const char *dbname, const char *sql)
{
	char *ci = th_conninfo_for(dbname);
	PGconn *c = PQconnectdb(ci);
	PGresult *r;
	char *v;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect %s: %s", dbname, PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1, "%s: %s", sql,
		      PQerrorMessage(c));
	v = strdup(PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	free(ci);
	return v;
}

enum how { MIGRATE, STAGED };

/*
 * Files name[i] / sql[i] (NULL-terminated) applied by psql -1 one by one, and by pgphase
 * (migrate, or expand + backfill + contract); same schema, and the same answer to check (a
 * one-value query, may be NULL).  Returns nothing: fails the test.
 */
static void equivalent(const char *const *name, const char *const *sql, enum how how,
		       const char *check)
{
	static int seq;
	char sp[32], sg[32], *dir = th_tmpdir(), *db_psql, *db_pg;
	char *ci;
	/* twice: a staged run stops before a migration that needs an earlier one's contract */
	static const char *const staged[] = { "expand", "backfill", "contract",
					      "expand", "backfill", "contract", NULL };
	static const char *const once[] = { "migrate", NULL };
	struct th_run r;

	snprintf(sp, sizeof(sp), "psql%d", seq);
	snprintf(sg, sizeof(sg), "pgp%d", seq++);
	db_psql = th_extra_db(sp);
	db_pg = th_extra_db(sg);
	ci = th_conninfo_for(db_pg);
	for (size_t i = 0; name[i]; i++) {
		char *path, *out = NULL;

		th_write(dir, name[i], sql[i]);
		path = malloc(strlen(dir) + strlen(name[i]) + 2);
		sprintf(path, "%s/%s", dir, name[i]);
		ck_assert_msg(th_psql_file(db_psql, path, &out) == 0, "psql -1 %s failed:\n%s",
			      name[i], out ? out : "");
		free(out);
		free(path);
	}
	for (const char *const *cmd = how == STAGED ? staged : once; *cmd; cmd++) {
		const char *argv[] = { "-d", ci, "-m", dir, *cmd, NULL };

		th_cli(&r, NULL, NULL, argv);
		th_assert_exit(&r, 0);
		th_run_release(&r);
	}
	th_assert_same_schema(db_psql, db_pg);
	if (check) {
		char *a = value(db_psql, check), *b = value(db_pg, check);

		ck_assert_msg(strcmp(a, b) == 0, "%s: psql gives %s, pgphase %s", check, a, b);
		free(a);
		free(b);
	}
	free(ci);
	free(db_pg);
	free(db_psql);
	free(dir);
}

/* One change file after the base file. */
static void equivalent2(const char *base, const char *change, enum how how, const char *check)
{
	const char *names[] = { "001_base.sql", "002_change.sql", NULL };
	const char *sqls[] = { base, change, NULL };

	equivalent(names, sqls, how, check);
}

struct planned {
	struct pgphase_migration_set set;
	struct pgphase_plan plan;
	struct pgphase_error err;
	int rc;
};

/* Plan 002_change.sql offline (001_base.sql before it). */
static void plan_change(struct planned *p, const char *base, const char *change, bool strict)
{
	char *dir = th_tmpdir();
	struct pgphase_template_vars vars = { "public" };
	struct pgphase_plan_options opts = { 15, NULL, NULL, NULL };

	memset(p, 0, sizeof(*p));
	pgphase_error_init(&p->err);
	th_write(dir, "001_base.sql", base);
	th_write(dir, "002_change.sql", change);
	ck_assert(pgphase_migration_set_load(&p->set, dir, &vars, &p->err) == 0);
	ck_assert(pgphase_migration_set_parse(&p->set, &p->err) == 0);
	opts.set = &p->set;
	opts.strict = strict;
	p->rc = pgphase_plan_migration(&p->plan, pgphase_migration_find(&p->set, 2), &opts,
				       &p->err);
	free(dir);
}

static void planned_release(struct planned *p)
{
	if (p->rc == 0)
		pgphase_plan_release(&p->plan);
	pgphase_migration_set_release(&p->set);
	pgphase_error_release(&p->err);
}

/* The last step planned for the statement at line: its phase, strategy and reason. */
static const struct pgphase_step *step_at(const struct planned *p, int line)
{
	const struct pgphase_step *found = NULL;

	for (size_t i = 0; i < p->plan.n; i++)
		if (p->plan.steps[i].line == line)
			found = &p->plan.steps[i];
	ck_assert_msg(found, "no step for line %d", line);
	return found;
}

static void expect_step(const char *base, const char *change, int line, enum pgphase_phase phase,
			const char *strategy, const char *reason_part)
{
	struct planned p;
	const struct pgphase_step *st;

	plan_change(&p, base, change, false);
	ck_assert_msg(p.rc == 0, "%s", p.err.message);
	st = step_at(&p, line);
	ck_assert_msg(st->phase == phase && strcmp(st->strategy, strategy) == 0,
		      "line %d of:\n%s\nexpected %s %s, got %s %s (%s)", line, change,
		      pgphase_phase_name(phase), strategy, pgphase_phase_name(st->phase),
		      st->strategy, st->reason ? st->reason : "no reason");
	if (reason_part) {
		ck_assert_msg(st->reason, "line %d: no reason", line);
		th_assert_contains(st->reason, reason_part);
	} else {
		ck_assert_msg(!st->reason, "line %d: unexpected reason %s", line, st->reason);
	}
	planned_release(&p);
}

/* ---- fixtures ---- */

#define BASE                                                                                   \
	"CREATE SCHEMA \"App Data\";\n"                                                        \
	"CREATE TABLE \"App Data\".\"Users\" (id int PRIMARY KEY, email text, b int NOT NULL, "  \
	"c text NOT NULL DEFAULT 'x');\n"                                                      \
	"INSERT INTO \"App Data\".\"Users\" SELECT g, 'u' || (g % 7), g, 'c' FROM "            \
	"generate_series(1, 50) g;\n"                                                          \
	"CREATE INDEX users_b ON \"App Data\".\"Users\" (b);\n"                            \
	"CREATE TABLE t (id int PRIMARY KEY, old int, a int, b int);\n"                        \
	"INSERT INTO t SELECT g, g, NULL, g FROM generate_series(1, 30) g;\n"                  \
	"CREATE TABLE nokey (a int, b text);\n"                                                \
	"INSERT INTO nokey SELECT g, NULL FROM generate_series(1, 5) g;\n"                     \
	"CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS "                          \
	"$$ BEGIN NEW.b := NEW.b + 1000; RETURN NEW; END $$;\n"                                \
	"CREATE TRIGGER g BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION bump();\n"          \
	"ALTER TABLE t ADD CONSTRAINT pos CHECK (b > 0);\n"                                \
	"CREATE VIEW v AS SELECT id FROM t;\n"                                                 \
	"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1';\n"                        \
	"ALTER TABLE t ENABLE ROW LEVEL SECURITY;\n"                                           \
	"CREATE POLICY p ON t USING (true);\n"

#define U "\"App Data\".\"Users\""

/* ---- drop, then recreate the same name ---- */

static const char *const recreate[] = {
	/* index, with a new definition */
	"DROP INDEX \"App Data\".users_b;\n"
	"CREATE INDEX users_b ON " U " (b, id);\n",
	/* trigger */
	"DROP TRIGGER IF EXISTS g ON t;\n"
	"CREATE TRIGGER g BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION bump();\n",
	/* constraint */
	"ALTER TABLE t DROP CONSTRAINT pos;\n"
	"ALTER TABLE t ADD CONSTRAINT pos CHECK (b > -1);\n",
	/* view */
	"DROP VIEW v;\n"
	"CREATE VIEW v AS SELECT id, b FROM t;\n",
	/* function */
	"DROP FUNCTION f();\n"
	"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 2';\n",
	/* policy */
	"DROP POLICY p ON t;\n"
	"CREATE POLICY p ON t USING (b > 0);\n",
	/* column */
	"ALTER TABLE t DROP COLUMN a;\n"
	"ALTER TABLE t ADD COLUMN a text;\n",
	/* the table, renamed away first */
	"ALTER TABLE " U " RENAME TO \"Users_bkp\";\n"
	"CREATE TABLE " U " (id bigint PRIMARY KEY, email text);\n",
};
#define N_RECREATE (sizeof(recreate) / sizeof(*recreate))

START_TEST(test_recreate_migrate)
{
	equivalent2(BASE, recreate[_i], MIGRATE, NULL);
}
END_TEST

START_TEST(test_recreate_staged)
{
	equivalent2(BASE, recreate[_i], STAGED, NULL);
}
END_TEST

START_TEST(test_recreate_plan)
{
	/* the first statement is kept in place (expand, as written) and says why */
	expect_step(BASE, recreate[_i], 1, PGPHASE_PHASE_EXPAND, "as-written", "kept in place");
}
END_TEST

/* Across two files: 002 drops the index, 003 creates one of the same name. */
START_TEST(test_recreate_two_files)
{
	const char *names[] = { "001_base.sql", "002_drop.sql", "003_create.sql", NULL };
	const char *sqls[] = { BASE, "DROP INDEX \"App Data\".users_b;\n",
			       "CREATE INDEX users_b ON " U " (email);\n", NULL };

	equivalent(names, sqls, STAGED, NULL);
	equivalent(names, sqls, MIGRATE, NULL);
}
END_TEST

/* ---- dedup, then a unique index or constraint ---- */

START_TEST(test_dedup_then_unique)
{
	const char *change =
		"DELETE FROM " U " a USING " U " b WHERE a.email = b.email AND a.id > b.id;\n"
		"CREATE UNIQUE INDEX users_email ON " U " (email);\n";
	const char *change2 =
		"DELETE FROM " U " a USING " U " b WHERE a.email = b.email AND a.id > b.id;\n"
		"ALTER TABLE " U " ADD CONSTRAINT email_uq UNIQUE (email);\n";

	equivalent2(BASE, change, MIGRATE, "SELECT count(*) FROM " U);
	equivalent2(BASE, change, STAGED, "SELECT count(*) FROM " U);
	equivalent2(BASE, change2, STAGED, "SELECT count(*) FROM " U);
	expect_step(BASE, change, 1, PGPHASE_PHASE_EXPAND, "as-written", "the rows of \"Users\"");
}
END_TEST

/* ---- pairs: what must keep its order, and what keeps its safe plan ---- */

struct pair {
	const char *change;
	int line;                 /* the statement whose placement is asserted */
	enum pgphase_phase phase; /* its last step */
	const char *strategy;
	const char *reason;       /* part of its reason, NULL: none (made safe) */
	const char *check;        /* data compared between psql and pgphase, or NULL */
};

static const struct pair pairs[] = {
	/* the common column swap keeps its safe plan */
	{ "ALTER TABLE t ADD COLUMN new int;\nUPDATE t SET new = old;\n"
	  "ALTER TABLE t ALTER COLUMN new SET NOT NULL;\nALTER TABLE t DROP COLUMN old;\n",
	  2, PGPHASE_PHASE_BACKFILL, "data-change-to-backfill", NULL, "SELECT sum(new) FROM t" },
	{ "ALTER TABLE t ADD COLUMN new int;\nUPDATE t SET new = old;\n"
	  "ALTER TABLE t ALTER COLUMN new SET NOT NULL;\nALTER TABLE t DROP COLUMN old;\n",
	  4, PGPHASE_PHASE_CONTRACT, "defer-destructive-to-contract", NULL, NULL },
	/* a NOT VALID check added in expand does not conflict with the earlier UPDATE */
	{ "UPDATE t SET a = 1 WHERE a IS NULL;\nALTER TABLE t ADD CONSTRAINT a_pos CHECK (a > 0);\n",
	  1, PGPHASE_PHASE_BACKFILL, "data-change-to-backfill", NULL, "SELECT sum(a) FROM t" },
	/* an index on the changed column does not either */
	{ "UPDATE t SET a = id WHERE a IS NULL;\nCREATE INDEX t_a ON t (a);\n",
	  1, PGPHASE_PHASE_BACKFILL, "data-change-to-backfill", NULL, "SELECT sum(a) FROM t" },
	/* drops of different names do not conflict */
	{ "DROP INDEX \"App Data\".users_b;\nCREATE INDEX users_c ON " U " (c);\n",
	  1, PGPHASE_PHASE_CONTRACT, "drop-index-concurrently", NULL, NULL },
	/* a non-idempotent UPDATE is batched: each key range runs once */
	{ "UPDATE t SET old = old * 2 + 1;\n",
	  1, PGPHASE_PHASE_BACKFILL, "data-change-to-backfill", NULL, "SELECT sum(old) FROM t" },
	/* an INSERT ... SELECT without ON CONFLICT too */
	{ "CREATE TABLE copy (id int PRIMARY KEY, b int);\n"
	  "INSERT INTO copy SELECT id, b FROM t WHERE id % 2 = 0;\n",
	  2, PGPHASE_PHASE_BACKFILL, "data-change-to-backfill", NULL,
	  "SELECT count(*) || ':' || sum(b) FROM copy" },
	/* DROP COLUMN c, then INSERT into the table */
	{ "ALTER TABLE " U " DROP COLUMN b;\nINSERT INTO " U " (id, email) VALUES (100, 'n');\n",
	  1, PGPHASE_PHASE_EXPAND, "as-written", "the columns and defaults of \"Users\"",
	  "SELECT count(*) FROM " U },
	/* DML, then an INSERT ... VALUES on the same table */
	{ "UPDATE t SET b = b + 1 WHERE id > 10;\nINSERT INTO t (id, old, b) VALUES (100, 1, 1);\n",
	  1, PGPHASE_PHASE_EXPAND, "as-written", "the rows of \"t\"", "SELECT sum(b) FROM t" },
	/* DML, then CREATE TRIGGER on that table */
	{ "UPDATE t SET old = 0 WHERE old > 20;\n"
	  "CREATE TRIGGER g2 BEFORE UPDATE ON t FOR EACH ROW EXECUTE FUNCTION bump();\n",
	  1, PGPHASE_PHASE_EXPAND, "as-written", "the rows of \"t\"", "SELECT sum(b) FROM t" },
	/* DROP TRIGGER, then DML that it would have changed */
	{ "DROP TRIGGER g ON t;\nUPDATE t SET old = 0 WHERE id < 5;\n",
	  1, PGPHASE_PHASE_EXPAND, "as-written", "the rows of \"t\"", "SELECT sum(b) FROM t" },
	/* a type change, then a trigger on the column */
	{ "ALTER TABLE t ALTER COLUMN old TYPE text;\n"
	  "CREATE TRIGGER g3 BEFORE UPDATE OF old ON t FOR EACH ROW EXECUTE FUNCTION bump();\n",
	  1, PGPHASE_PHASE_EXPAND, "as-written", "kept in place: line 2", NULL },
	/* no key: run as written */
	{ "UPDATE nokey SET b = 'x' WHERE b IS NULL;\n",
	  1, PGPHASE_PHASE_EXPAND, "as-written", "cannot find the table's key",
	  "SELECT count(*) FROM nokey WHERE b = 'x'" },
	/* a temporary table read by a data change: only the migration's session has it */
	{ "CREATE TEMP TABLE tmp AS SELECT id, id * 10 AS x FROM t;\n"
	  "UPDATE t SET old = tmp.x FROM tmp WHERE tmp.id = t.id;\n",
	  2, PGPHASE_PHASE_EXPAND, "as-written", "temporary table of the migration",
	  "SELECT sum(old) FROM t" },
	/* WITH ... RETURNING cannot be batched */
	{ "WITH x AS (SELECT 1) UPDATE t SET old = 5 WHERE id = 3 RETURNING id;\n",
	  1, PGPHASE_PHASE_EXPAND, "as-written", "WITH or RETURNING", "SELECT sum(old) FROM t" },
};
#define N_PAIRS (sizeof(pairs) / sizeof(*pairs))

START_TEST(test_pair_plan)
{
	const struct pair *c = &pairs[_i];

	expect_step(BASE, c->change, c->line, c->phase, c->strategy, c->reason);
}
END_TEST

START_TEST(test_pair_migrate)
{
	equivalent2(BASE, pairs[_i].change, MIGRATE, pairs[_i].check);
}
END_TEST

START_TEST(test_pair_staged)
{
	equivalent2(BASE, pairs[_i].change, STAGED, pairs[_i].check);
}
END_TEST

/* ---- strict, markers, scale ---- */

START_TEST(test_strict_refuses)
{
	struct planned p;
	char *dir = th_tmpdir();
	struct th_run r;

	plan_change(&p, BASE, recreate[0], true);
	ck_assert_int_eq(p.rc, -1);
	ck_assert_int_eq(p.err.code, 2);
	th_assert_contains(p.err.message, "002_change.sql:1:1: ");
	th_assert_contains(p.err.message, "kept in place");
	planned_release(&p);
	plan_change(&p, BASE, "UPDATE nokey SET b = 'x';\n", true);
	ck_assert_int_eq(p.rc, -1);
	th_assert_contains(p.err.message, "002_change.sql:1:1: ");
	th_assert_contains(p.err.message, "cannot find the table's key");
	planned_release(&p);
	/* the same through the command line: --strict, and strict = true in the config */
	th_write(dir, "m/001_base.sql", BASE);
	th_write(dir, "m/002_change.sql", "UPDATE nokey SET b = 'x';\n");
	th_write(dir, "strict.cfg", "strict = true;\n");
	{
		char *m = malloc(strlen(dir) + 3), *cfg = malloc(strlen(dir) + 12);

		sprintf(m, "%s/m", dir);
		sprintf(cfg, "%s/strict.cfg", dir);
		th_pgphase(&r, m, "plan", "--offline", "--strict", NULL);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "002_change.sql:1:1:");
		th_run_release(&r);
		th_pgphase(&r, m, "-c", cfg, "migrate", NULL);
		th_assert_exit(&r, 2);
		th_assert_contains(r.err, "cannot find the table's key");
		th_run_release(&r);
		th_pgphase(&r, m, "plan", "--offline", NULL);
		th_assert_exit(&r, 0);
		th_assert_contains(r.out, "not batched: cannot run UPDATE on \"nokey\" in batches");
		th_run_release(&r);
		free(cfg);
		free(m);
	}
	free(dir);
}
END_TEST

START_TEST(test_marker_conflict)
{
	struct planned p;

	plan_change(&p, BASE, "-- CONTRACT\nDROP INDEX \"App Data\".users_b;\n-- EXPAND\n"
			      "CREATE INDEX users_b ON " U " (email);\n", false);
	ck_assert_int_eq(p.rc, -1);
	ck_assert_int_eq(p.err.code, 2);
	th_assert_contains(p.err.message, "002_change.sql:2:1: statement runs in contract but "
					  "line 4");
	planned_release(&p);
}
END_TEST

START_TEST(test_plan_json_reason)
{
	struct planned p;
	char *json;

	plan_change(&p, BASE, recreate[0], false);
	ck_assert_int_eq(p.rc, 0);
	json = pgphase_plan_json(&p.plan, NULL);
	th_assert_contains(json, "\"reason\":\"kept in place: line 2, later, runs first (in expand) "
				 "and touches the name \\\"users_b\\\"\"");
	th_assert_contains(json, "\"reason\":null");
	free(json);
	planned_release(&p);
}
END_TEST

/* 20,000 statements — drops moved to contract, creations of other names, columns, drops of
 * constraints a later UPDATE must not see — plan in linear time (an all-pairs check, or a
 * fixpoint pass per statement, would take minutes).  Backfills are few: rendering their
 * batch statements costs milliseconds each and is not what this measures. */
START_TEST(test_scale)
{
	enum { N = 5000 };
	size_t cap = (size_t)N * 240, len = 0;
	char *sql = malloc(cap);
	struct planned p;
	struct timespec a, b;
	double secs;
	size_t pinned = 0;

	for (int i = 0; i < N; i++) {
		len += (size_t)snprintf(sql + len, cap - len,
					"DROP INDEX IF EXISTS old_%d;\nCREATE INDEX new_%d ON t (b);\n"
					"ALTER TABLE t ADD COLUMN c%d int;\n"
					"ALTER TABLE t DROP CONSTRAINT IF EXISTS k%d;\n", i, i, i, i);
		if (i % 500 == 0)
			len += (size_t)snprintf(sql + len, cap - len,
						"UPDATE t SET a = %d WHERE id = %d;\n", i, i);
	}
	clock_gettime(CLOCK_MONOTONIC, &a);
	plan_change(&p, BASE, sql, false);
	clock_gettime(CLOCK_MONOTONIC, &b);
	secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_msg(p.rc == 0, "%s", p.err.message);
	for (size_t i = 0; i < p.plan.n; i++)
		pinned += p.plan.steps[i].reason != NULL;
	/* every index drop stays in contract; each constraint drop before the last UPDATE, and
	   the UPDATEs before it, are kept in place */
	ck_assert_int_eq(pgphase_plan_count(&p.plan, PGPHASE_PHASE_CONTRACT), 2 * N - 4501);
	ck_assert_int_eq(pinned, 4501 + 9);
	ck_assert_msg(secs < 30, "planning %d statements took %.1f s", 4 * N, secs);
	fprintf(stderr, "order: planned %d statements in %.2f s\n", 4 * N + N / 500, secs);
	planned_release(&p);
	free(sql);
}
END_TEST

Suite *order_suite(void)
{
	Suite *s = suite_create("order");
	TCase *plan = tcase_create("plan");
	TCase *db = th_db_tcase("equivalence");

	tcase_add_loop_test(plan, test_recreate_plan, 0, N_RECREATE);
	tcase_add_loop_test(plan, test_pair_plan, 0, N_PAIRS);
	tcase_add_test(plan, test_marker_conflict);
	tcase_add_test(plan, test_plan_json_reason);
	tcase_add_test(plan, test_scale);
	tcase_set_timeout(plan, 60);
	suite_add_tcase(s, plan);
	tcase_add_loop_test(db, test_recreate_migrate, 0, N_RECREATE);
	tcase_add_loop_test(db, test_recreate_staged, 0, N_RECREATE);
	tcase_add_test(db, test_recreate_two_files);
	tcase_add_test(db, test_dedup_then_unique);
	tcase_add_loop_test(db, test_pair_migrate, 0, N_PAIRS);
	tcase_add_loop_test(db, test_pair_staged, 0, N_PAIRS);
	tcase_add_test(db, test_strict_refuses);
	tcase_set_timeout(db, 120);
	suite_add_tcase(s, db);
	return s;
}
