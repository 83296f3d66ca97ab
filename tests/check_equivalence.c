/*
 * Equivalence matrix, part 1: the runner (eq_run, see check_equivalence.h) and the cases of
 * the index and constraint strategies: create-index-concurrently, drop-index-concurrently,
 * add-foreign-key-not-valid, add-check-not-valid, set-not-null-via-check and
 * add-unique-using-index, each over the table shapes.  Also a test that the mechanism
 * catches a deliberately broken result (schema and data).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check_equivalence.h"
#include "pgphase/snapshot.h"

/* pgphase is stopped after this long: a hang is a failure, not a stuck suite. */
#define EQ_PGPHASE_TIMEOUT "15"

struct eq_result {
	int status;     /* pgphase migrate's exit status (124/137: timed out) */
	char *out;      /* pgphase's stdout and stderr */
	char *diff;     /* snapshot diff, NULL when equal */
	char *data_a;   /* the data query on the psql database */
	char *data_b;   /* and on the pgphase one */
};

static char *value_on(const char *db, const char *sql)
{
	char *ci = th_conninfo_for(db), *v;
	PGconn *c = PQconnectdb(ci);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect: %s", PQerrorMessage(c));
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
		v = strdup(PQgetvalue(r, 0, 0));
	else
		v = strdup(PQresultErrorMessage(r)); /* compared like a value: shows in a diff */
	PQclear(r);
	PQfinish(c);
	free(ci);
	return v;
}

/* pgphase -d <fixture db> -m dir migrate, under timeout(1); stdout and stderr in *out. */
static int run_pgphase(const char *dir, char **out)
{
	const char *bin = getenv("PGPHASE_BIN");
	char path[] = "/tmp/pgphase-eq.XXXXXX";
	int fd = mkstemp(path), st;
	pid_t pid;
	FILE *f;
	long len;

	ck_assert_msg(bin != NULL, "PGPHASE_BIN is not set (run through tests/run.sh)");
	ck_assert_int_ge(fd, 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		const char *argv[] = { "timeout", "-k", "5", EQ_PGPHASE_TIMEOUT, bin, "-d",
				       th_conninfo(), "-m", dir, "migrate", NULL };

		dup2(fd, 1);
		dup2(fd, 2);
		setenv("NO_COLOR", "1", 1);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	waitpid(pid, &st, 0);
	f = fdopen(fd, "r");
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	*out = calloc(1, (size_t)len + 1);
	if (fread(*out, 1, (size_t)len, f) != (size_t)len)
		(*out)[0] = '\0';
	fclose(f);
	unlink(path);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/*
 * Build both databases and apply the case; sabotage (NULL normally) is run on the pgphase
 * database afterwards, to show the comparison catches a broken result.
 */
static void eq_apply(const struct eq_case *c, const char *sabotage, struct eq_result *res)
{
	char *dir = th_tmpdir(), *a = th_extra_db("psql"), *out = NULL, *sa, *sb;
	char setup[600], change[600], mdir[600];

	snprintf(setup, sizeof(setup), "%s/setup.sql", dir);
	snprintf(change, sizeof(change), "%s/change.sql", dir);
	snprintf(mdir, sizeof(mdir), "%s/migrations", dir);
	th_write(dir, "setup.sql", c->setup);
	th_write(dir, "change.sql", c->migration);
	th_write(dir, "migrations/001_change.sql", c->migration);
	ck_assert_msg(th_psql_file(a, setup, &out) == 0, "%s: setup failed:\n%s", c->name, out);
	free(out);
	ck_assert_msg(th_psql_file(th_dbname(), setup, &out) == 0, "%s: setup failed:\n%s",
		      c->name, out);
	free(out);
	/* the oracle: a case psql cannot run is a wrong case */
	ck_assert_msg(th_psql_file(a, change, &out) == 0,
		      "%s: psql -1 failed on the migration:\n%s", c->name, out);
	free(out);
	res->status = run_pgphase(mdir, &res->out);
	if (sabotage) {
		th_write(dir, "sabotage.sql", sabotage);
		snprintf(change, sizeof(change), "%s/sabotage.sql", dir);
		ck_assert_int_eq(th_psql_file(th_dbname(), change, NULL), 0);
	}
	sa = th_snapshot(a);
	sb = th_snapshot(th_dbname());
	res->diff = pgphase_snapshot_diff(sa, sb);
	res->data_a = c->data ? value_on(a, c->data) : strdup("");
	res->data_b = c->data ? value_on(th_dbname(), c->data) : strdup("");
	free(sa);
	free(sb);
	free(a);
	free(dir);
}

static void eq_result_release(struct eq_result *res)
{
	free(res->out);
	free(res->diff);
	free(res->data_a);
	free(res->data_b);
}

void eq_run(const struct eq_case *c)
{
	struct eq_result res;
	bool same_data;

	eq_apply(c, NULL, &res);
	same_data = strcmp(res.data_a, res.data_b) == 0;
	if (c->known_bug) {
		if (res.status == 0 && !res.diff && same_data)
			fprintf(stderr, "STALE KNOWN BUG: %s: passes now (%s)\n", c->name,
				c->known_bug);
		else
			fprintf(stderr,
				"KNOWN BUG: %s: %s\n  pgphase exit %d\n%s  diff:\n%s  data %s\n",
				c->name, c->known_bug, res.status, res.out,
				res.diff ? res.diff : "(none)\n", same_data ? "equal" : "differs");
		eq_result_release(&res);
		return;
	}
	ck_assert_msg(res.status == 0, "%s: pgphase migrate exit %d (psql -1 ran it):\n%s", c->name,
		      res.status, res.out);
	ck_assert_msg(res.diff == NULL,
		      "%s: schemas differ (- only after psql -1, + only after pgphase):\n%s",
		      c->name, res.diff);
	ck_assert_msg(same_data, "%s: data differs:\npsql:    %s\npgphase: %s", c->name,
		      res.data_a, res.data_b);
	eq_result_release(&res);
}

/* ---- index and constraint strategies ------------------------------------------------ */

#define IDX_MIXED "CREATE INDEX \"MyIdx\" ON \"MyTable\" (\"Val\");\n"
#define IDX_SCHEMA "CREATE INDEX \"Orders_User\" ON \"App Schema\".\"Orders\" (\"UserId\");\n"
#define S_QFK                                                                                  \
	"CREATE TABLE \"Users\" (\"Id\" int PRIMARY KEY, \"Name\" text);\n"                     \
	"CREATE TABLE \"Orders\" (\"Id\" int PRIMARY KEY, \"UserId\" int);\n"                   \
	"INSERT INTO \"Users\" SELECT g, 'n' || g FROM generate_series(1, 20) g;\n"            \
	"INSERT INTO \"Orders\" SELECT g, 1 + g % 20 FROM generate_series(1, 200) g;\n"
#define D_QFK EQ_DIGEST("ROW(\"Id\", \"UserId\")", "\"Orders\"")
#define S_LINE_ITEMS                                                                           \
	S_SCHEMA "CREATE TABLE \"App Schema\".\"line items\" (id int PRIMARY KEY,"             \
		 " \"Order Id\" bigint);\n"                                                    \
		 "INSERT INTO \"App Schema\".\"line items\" SELECT g, g FROM"                  \
		 " generate_series(1, 200) g;\n"
#define S_KINDS                                                                                \
	S_PART "CREATE TABLE kinds (kind text PRIMARY KEY);\n"                                 \
	       "INSERT INTO kinds VALUES ('a'), ('b'), ('c');\n"
#define S_EV_NOTES                                                                             \
	S_PART "CREATE TABLE ev_notes (id int PRIMARY KEY, ev_id int, ev_at date);\n"          \
	       "INSERT INTO ev_notes SELECT g, g, date '2023-06-01' + g * 2"                   \
	       " FROM generate_series(1, 50) g;\n"
#define S_NOPK                                                                                 \
	"CREATE TABLE np (id int, v text);\n"                                                  \
	"INSERT INTO np SELECT g, 'v' || g FROM generate_series(1, 200) g;\n"
#define S_QNOPK                                                                                \
	"CREATE TABLE \"Np\" (\"A\" int, \"B\" int, v text);\n"                                \
	"INSERT INTO \"Np\" SELECT g / 10, g % 10, 'v' FROM generate_series(1, 200) g;\n"

/* Why known-bug cases fail today (the lead clears each flag as its fix merges). */

static const struct eq_case cases[] = {
	/* create-index-concurrently */
	{ "index_plain", S_PLAIN, "CREATE INDEX t_a ON t (a);\n", D_PLAIN },
	{ "index_quoted", S_MIXED, IDX_MIXED, D_MIXED },
	{ "index_space_quote", S_ODD,
	  "CREATE INDEX \"idx \"\"odd\"\" one\" ON \"my \"\"odd\"\" table\" (\"the value\");\n",
	  D_ODD },
	{ "index_unicode", S_UNI, "CREATE INDEX \"idx_été\" ON \"café\" (\"naïve\");\n", D_UNI },
	{ "index_schema", S_SCHEMA, IDX_SCHEMA, D_SCHEMA },
	{ "index_unique_composite", S_COMPOSITE,
	  "CREATE UNIQUE INDEX lines_sku ON lines (order_id, sku);\n", D_COMPOSITE },
	{ "index_partial_expression", S_MIXED,
	  "CREATE INDEX mixed_lower ON \"MyTable\" (lower(\"Email\")) WHERE \"Val\" > 2;\n",
	  D_MIXED },
	{ "index_partitioned", S_PART, "CREATE INDEX ev_kind ON ev (kind);\n", D_PART,
	  "CONCURRENTLY is impossible on a partitioned table" },
	{ "index_unnamed_comment", S_PLAIN,
	  "CREATE INDEX ON t (b);\nCOMMENT ON INDEX t_b_idx IS 'by b';\n", D_PLAIN },
	{ "index_rich_table", S_RICH, "CREATE INDEX acct_note ON acct (note) WHERE bal > 10;\n",
	  D_RICH },
	/* drop-index-concurrently */
	{ "drop_index_plain", S_PLAIN "CREATE INDEX t_a ON t (a);\n", "DROP INDEX t_a;\n",
	  D_PLAIN },
	{ "drop_index_quoted_schema", S_SCHEMA IDX_SCHEMA,
	  "DROP INDEX \"App Schema\".\"Orders_User\";\n", D_SCHEMA },
	{ "drop_index_if_exists_missing", S_PLAIN, "DROP INDEX IF EXISTS nope;\n", D_PLAIN },
	{ "drop_index_partitioned", S_PART "CREATE INDEX ev_kind ON ev (kind);\n",
	  "DROP INDEX ev_kind;\n", D_PART, "DROP INDEX CONCURRENTLY refuses partitioned indexes" },
	/* add-foreign-key-not-valid */
	{ "fk_plain", S_FK,
	  "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)"
	  " REFERENCES users (id);\n",
	  D_FK },
	{ "fk_quoted", S_QFK,
	  "ALTER TABLE \"Orders\" ADD CONSTRAINT \"Orders_User_fk\" FOREIGN KEY (\"UserId\")"
	  " REFERENCES \"Users\" (\"Id\");\n",
	  D_QFK },
	{ "fk_composite_unnamed", S_COMPOSITE
	  "CREATE TABLE shipments (id int PRIMARY KEY, order_id int, line_no int);\n"
	  "INSERT INTO shipments SELECT g, 1 + g % 40, 1 + g % 5 FROM generate_series(1, 100) g;\n",
	  "ALTER TABLE shipments ADD FOREIGN KEY (order_id, line_no) REFERENCES lines;\n",
	  D_COMPOSITE },
	{ "fk_schema_unicode_name", S_LINE_ITEMS,
	  "ALTER TABLE \"App Schema\".\"line items\" ADD CONSTRAINT \"item → order\""
	  " FOREIGN KEY (\"Order Id\") REFERENCES \"App Schema\".\"Orders\";\n",
	  D_SCHEMA },
	{ "fk_cascade_deferrable", S_FK,
	  "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users ON DELETE CASCADE"
	  " DEFERRABLE INITIALLY DEFERRED;\n",
	  D_FK },
	{ "fk_from_partitioned", S_KINDS,
	  "ALTER TABLE ev ADD CONSTRAINT ev_kind_fk FOREIGN KEY (kind) REFERENCES kinds;\n", D_PART,
	  "PostgreSQL refuses NOT VALID foreign keys on partitioned tables" },
	{ "fk_to_partitioned", S_EV_NOTES,
	  "ALTER TABLE ev_notes ADD FOREIGN KEY (ev_id, ev_at) REFERENCES ev;\n", D_PART },
	/* add-check-not-valid */
	{ "check_plain", S_PLAIN, "ALTER TABLE t ADD CONSTRAINT t_a_pos CHECK (a >= 0);\n",
	  D_PLAIN },
	{ "check_quoted", S_MIXED,
	  "ALTER TABLE \"MyTable\" ADD CONSTRAINT \"Val Range\" CHECK (\"Val\" BETWEEN 0 AND 6);\n",
	  D_MIXED },
	{ "check_unnamed_unicode", S_UNI, "ALTER TABLE \"café\" ADD CHECK (\"naïve\" >= 0);\n",
	  D_UNI },
	{ "check_partitioned", S_PART, "ALTER TABLE ev ADD CONSTRAINT ev_n CHECK (n >= 0);\n",
	  D_PART },
	{ "check_schema_comment", S_SCHEMA,
	  "ALTER TABLE \"App Schema\".\"Orders\" ADD CONSTRAINT \"Total ≥ 0\""
	  " CHECK (\"Total\" >= 0);\n"
	  "COMMENT ON CONSTRAINT \"Total ≥ 0\" ON \"App Schema\".\"Orders\" IS 'no refunds';\n",
	  D_SCHEMA },
	/* set-not-null-via-check */
	{ "not_null_plain", S_PLAIN, "ALTER TABLE t ALTER a SET NOT NULL;\n", D_PLAIN },
	{ "not_null_quoted", S_MIXED, "ALTER TABLE \"MyTable\" ALTER \"Email\" SET NOT NULL;\n",
	  D_MIXED },
	{ "not_null_schema", S_SCHEMA,
	  "ALTER TABLE \"App Schema\".\"Orders\" ALTER note SET NOT NULL;\n", D_SCHEMA },
	{ "not_null_partitioned", S_PART, "ALTER TABLE ev ALTER kind SET NOT NULL;\n", D_PART },
	{ "not_null_space_quote", S_ODD,
	  "ALTER TABLE \"my \"\"odd\"\" table\" ALTER \"the value\" SET NOT NULL;\n", D_ODD },
	{ "not_null_rich_table", S_RICH, "ALTER TABLE acct ALTER owner SET NOT NULL;\n", D_RICH },
	/* add-unique-using-index */
	{ "unique_plain", S_PLAIN, "ALTER TABLE t ADD CONSTRAINT t_b_key UNIQUE (b);\n", D_PLAIN },
	{ "unique_quoted", S_MIXED,
	  "ALTER TABLE \"MyTable\" ADD CONSTRAINT \"Uq\" UNIQUE (\"Email\");\n", D_MIXED },
	{ "unique_unnamed_composite", S_COMPOSITE,
	  "ALTER TABLE lines ADD UNIQUE (order_id, sku);\n", D_COMPOSITE },
	{ "primary_key_plain", S_NOPK, "ALTER TABLE np ADD PRIMARY KEY (id);\n",
	  EQ_DIGEST("ROW(id, v)", "np") },
	{ "primary_key_composite_quoted", S_QNOPK,
	  "ALTER TABLE \"Np\" ADD CONSTRAINT \"Np PK\" PRIMARY KEY (\"A\", \"B\");\n",
	  EQ_DIGEST("ROW(\"A\", \"B\", v)", "\"Np\"") },
	{ "unique_deferrable_schema", S_SCHEMA,
	  "ALTER TABLE \"App Schema\".\"Orders\" ADD CONSTRAINT \"Orders note key\" UNIQUE (note)"
	  " DEFERRABLE INITIALLY DEFERRED;\n",
	  D_SCHEMA },
	{ "unique_partitioned", S_PART,
	  "ALTER TABLE ev ADD CONSTRAINT ev_id_at_kind UNIQUE (id, at, kind);\n", D_PART,
	  "no concurrent index build on a partitioned table" },
};

START_TEST(test_case)
{
	eq_run(&cases[_i]);
}
END_TEST

/* The comparison catches a broken result: a lost index, then changed data. */
START_TEST(test_mechanism)
{
	struct eq_result res;

	eq_apply(&cases[0], "DROP INDEX t_a;", &res);
	ck_assert_int_eq(res.status, 0);
	ck_assert_ptr_nonnull(res.diff);
	th_assert_contains(res.diff, "- index public.t_a: CREATE INDEX t_a ON public.t");
	ck_assert_str_eq(res.data_a, res.data_b);
	eq_result_release(&res);
}
END_TEST

START_TEST(test_mechanism_data)
{
	struct eq_result res;

	eq_apply(&cases[0], "UPDATE t SET b = 'changed' WHERE id = 7;", &res);
	ck_assert_ptr_null(res.diff);
	ck_assert_str_ne(res.data_a, res.data_b);
	eq_result_release(&res);
}
END_TEST

Suite *equivalence_suite(void)
{
	Suite *s = suite_create("equivalence");
	TCase *tc = th_db_tcase("equivalence");

	tcase_add_test(tc, test_mechanism);
	tcase_add_test(tc, test_mechanism_data);
	tcase_add_loop_test(tc, test_case, 0, sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
