/*
 * Plan everything before the first change (issue 15, item 3): every pending migration of a
 * run is planned against the schema the earlier ones will produce, so a plan-time refusal
 * about an object an earlier pending migration creates or changes is an exit 2 with the
 * later file's file:line and the database left as it was (no state schema, the same schema
 * snapshot), and a later migration is planned right because the model knows what the earlier
 * ones make.  The positive cases compare the end schema with psql -1 running each file in
 * order on a second database (th_assert_same_schema).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RUN(r, dir, ...) th_pgphase((r), (dir), __VA_ARGS__, NULL)

/* The existing tables: a non-public schema, mixed-case names, a composite key, rows. */
static const char *const SETUP =
	"CREATE SCHEMA \"App\";\n"
	"CREATE TABLE \"App\".\"Customers\" (\"Id\" int, region text, \"Full Name\" text,"
	"  PRIMARY KEY (\"Id\", region));\n"
	"INSERT INTO \"App\".\"Customers\" SELECT g, 'eu', 'n' || g FROM generate_series(1, 40) g;\n"
	"CREATE TABLE \"App\".orders (id int PRIMARY KEY, \"customerId\" int, note text);\n"
	"INSERT INTO \"App\".orders SELECT g, g, 'x' FROM generate_series(1, 40) g;\n";

/* Run SQL on another database of the test server. */
static void exec_on(const char *dbname, const char *sql)
{
	char *ci = th_conninfo_for(dbname);
	PGconn *c = PQconnectdb(ci);
	PGresult *r;

	ck_assert_msg(PQstatus(c) == CONNECTION_OK, "connect %s: %s", dbname, PQerrorMessage(c));
	r = PQexec(c, sql);
	ck_assert_msg(PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK,
		      "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	free(ci);
}

/* Write the migrations (NULL-terminated name, content pairs) into a new directory. */
static char *write_dir(const char *const *files)
{
	char *dir = th_tmpdir();

	for (size_t i = 0; files[i]; i += 2)
		th_write(dir, files[i], files[i + 1]);
	return dir;
}

/*
 * `pgphase migrate [--strict]` must exit 2 at where (the later file's file:line:col) saying
 * what, and change nothing: no state schema, the same schema snapshot, the same rows.
 */
static void assert_refused(const char *const *files, bool strict, const char *where,
			   const char *what)
{
	char *dir, *before, *after, *rows_before, *rows_after;
	struct th_run r;
	static const char *const ROWS =
		"SELECT count(*) || ':' || md5(string_agg(\"Id\" || region || \"Full Name\", ','"
		" ORDER BY \"Id\")) FROM \"App\".\"Customers\"";

	th_exec(SETUP);
	dir = write_dir(files);
	before = th_snapshot(th_dbname());
	rows_before = th_value(ROWS);
	if (strict)
		RUN(&r, dir, "migrate", "--strict");
	else
		RUN(&r, dir, "migrate");
	th_assert_exit(&r, 2);
	th_assert_contains(r.err, where);
	th_assert_contains(r.err, what);
	th_assert_not_contains(r.err, "applying");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	after = th_snapshot(th_dbname());
	ck_assert_msg(strcmp(before, after) == 0, "the schema changed:\nbefore:\n%s\nafter:\n%s",
		      before, after);
	rows_after = th_value(ROWS);
	ck_assert_str_eq(rows_before, rows_after);
	free(rows_before);
	free(rows_after);
	free(before);
	free(after);
	free(dir);
}

/* `pgphase migrate` succeeds and ends in the schema psql -1 gives on the same files. */
static void assert_like_psql(const char *const *files)
{
	char *dir, *psql_db = th_extra_db("psql");
	struct th_run r;

	th_exec(SETUP);
	exec_on(psql_db, SETUP);
	dir = write_dir(files);
	RUN(&r, dir, "migrate");
	th_assert_exit(&r, 0);
	th_run_release(&r);
	for (size_t i = 0; files[i]; i += 2) {
		char *path, *out = NULL;

		ck_assert(asprintf(&path, "%s/%s", dir, files[i]) > 0);
		ck_assert_msg(th_psql_file(psql_db, path, &out) == 0, "psql -1 %s: %s", files[i], out);
		free(out);
		free(path);
	}
	th_assert_same_schema(psql_db, th_dbname());
	free(psql_db);
	free(dir);
}

/* ---- refusals about what an earlier pending migration makes ---------------------------- */

/* An index name an earlier migration gives a table it creates: the later CREATE INDEX on an
 * existing table would have been built CONCURRENTLY after 001 committed, then failed. */
START_TEST(index_name_taken_by_earlier_migration)
{
	const char *const files[] = {
		"001_invoices.sql", "CREATE TABLE \"App\".\"Invoices\" (id int PRIMARY KEY, amount int);\n"
				    "CREATE INDEX \"By Amount\" ON \"App\".\"Invoices\" (amount);\n",
		"002_orders_idx.sql", "CREATE INDEX \"By Amount\" ON \"App\".orders (\"customerId\");\n",
		NULL
	};

	assert_refused(files, false, "002_orders_idx.sql:1:1: ",
		       "relation \"By Amount\" already exists");
}
END_TEST

/* Three migrations: a constraint's index name taken by a table the first one creates. */
START_TEST(constraint_name_taken_three_migrations)
{
	const char *const files[] = {
		"001_stock.sql", "CREATE TABLE \"App\".\"Stock Level\" (sku text);\n",
		"002_note.sql", "COMMENT ON TABLE \"App\".orders IS 'orders';\n",
		"003_unique.sql", "ALTER TABLE \"App\".orders\n"
				  "  ADD CONSTRAINT \"Stock Level\" UNIQUE (\"customerId\");\n",
		NULL
	};

	assert_refused(files, false, "003_unique.sql:1:1: ", "relation \"Stock Level\" already exists");
}
END_TEST

/* strict: a batched UPDATE of a table an earlier migration creates without a usable key. */
START_TEST(strict_backfill_without_key_of_created_table)
{
	const char *const files[] = {
		"001_log.sql", "CREATE TABLE \"App\".\"Audit Log\" (at timestamptz, what text);\n",
		"002_fill.sql", "UPDATE \"App\".\"Audit Log\" SET what = 'x' WHERE what IS NULL;\n",
		NULL
	};

	assert_refused(files, true, "002_fill.sql:1:1: ", "cannot find the table's key");
}
END_TEST

/* DDL in a BACKFILL section on a table the earlier migration creates. */
START_TEST(ddl_in_backfill_on_created_table)
{
	const char *const files[] = {
		"001_t.sql", "CREATE TABLE \"App\".\"Tags\" (id int PRIMARY KEY, name text);\n",
		"002_t.sql", "-- BACKFILL\nUPDATE \"App\".\"Tags\" SET name = 'a' WHERE name IS NULL;\n"
			     "ALTER TABLE \"App\".\"Tags\" ADD COLUMN color text;\n",
		NULL
	};

	assert_refused(files, false, "002_t.sql:3:1: ", "in a BACKFILL section");
}
END_TEST

/* ---- later migrations planned right because the model knows the earlier ones ----------- */

/* An index on a partitioned table an earlier migration creates: no CONCURRENTLY (PostgreSQL
 * refuses it on the parent; the run failed after 001 committed). */
START_TEST(index_on_partitioned_table_of_earlier_migration)
{
	const char *const files[] = {
		"001_events.sql", "CREATE TABLE \"App\".\"Events\" (id int, \"At\" date NOT NULL)\n"
				  "  PARTITION BY RANGE (\"At\");\n"
				  "CREATE TABLE \"App\".\"Events 2026\" PARTITION OF \"App\".\"Events\"\n"
				  "  FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');\n",
		"002_events_idx.sql", "CREATE INDEX \"Events by day\" ON \"App\".\"Events\" (\"At\");\n",
		NULL
	};

	assert_like_psql(files);
}
END_TEST

/* A rename of a column that an index and a comment of an earlier migration use: the sync
 * trigger dance would drop the old column with them (the carry asks the catalog, which does
 * not have them yet); as written, as psql. */
START_TEST(rename_column_used_by_earlier_index)
{
	const char *const files[] = {
		"001_idx.sql", "CREATE INDEX \"by name\" ON \"App\".\"Customers\" (\"Full Name\");\n"
			       "COMMENT ON COLUMN \"App\".\"Customers\".\"Full Name\" IS 'who';\n",
		"002_other.sql", "ALTER TABLE \"App\".orders ADD COLUMN shipped boolean;\n",
		"003_rename.sql", "ALTER TABLE \"App\".\"Customers\" RENAME COLUMN \"Full Name\" TO "
				  "\"Display Name\";\n",
		NULL
	};

	assert_like_psql(files);
}
END_TEST

/* A foreign key of a table an earlier migration creates references the column a later type
 * change shadows: the carry would not move it (it was not in the catalog at plan time). */
START_TEST(retype_column_referenced_by_earlier_fk)
{
	const char *const files[] = {
		"001_items.sql", "CREATE TABLE \"App\".items (id int PRIMARY KEY,\n"
				 "  \"orderId\" int REFERENCES \"App\".orders (id));\n",
		"002_retype.sql", "ALTER TABLE \"App\".orders ALTER COLUMN note TYPE varchar(200);\n"
				  "ALTER TABLE \"App\".orders ALTER COLUMN id TYPE bigint;\n",
		NULL
	};

	assert_like_psql(files);
}
END_TEST

/* A default index name an earlier migration's table takes: PostgreSQL picks <name>1, so must
 * pgphase (it picked the taken name, IF NOT EXISTS skipped the build, the run failed). */
START_TEST(default_index_name_skips_earlier_table)
{
	const char *const files[] = {
		"001_tbl.sql", "CREATE TABLE \"App\".\"orders_customerId_idx\" (x int);\n",
		"002_idx.sql", "CREATE INDEX ON \"App\".orders (\"customerId\");\n",
		NULL
	};

	assert_like_psql(files);
}
END_TEST

/* `plan` and `migrate --dry-run` show the later migration planned with the earlier one in
 * mind, and change nothing. */
START_TEST(plan_and_dry_run_see_earlier_migrations)
{
	const char *const files[] = {
		"001_events.sql", "CREATE TABLE \"App\".\"Events\" (id int, at date)"
				  " PARTITION BY RANGE (at);\n",
		"002_idx.sql", "CREATE INDEX ev_at ON \"App\".\"Events\" (at);\n",
		NULL
	};
	char *dir;
	struct th_run r;

	th_exec(SETUP);
	dir = write_dir(files);
	RUN(&r, dir, "plan");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "002_idx.sql");
	th_assert_not_contains(r.out, "CONCURRENTLY");
	th_run_release(&r);
	RUN(&r, dir, "migrate", "--dry-run");
	th_assert_exit(&r, 0);
	th_assert_contains(r.out, "002_idx.sql");
	th_assert_not_contains(r.out, "CONCURRENTLY");
	th_run_release(&r);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pg_namespace WHERE nspname = 'pgphase'"), 0);
	free(dir);
}
END_TEST

Suite *planall_suite(void)
{
	Suite *s = suite_create("planall");
	TCase *tc = th_db_tcase("planall");

	tcase_add_test(tc, index_name_taken_by_earlier_migration);
	tcase_add_test(tc, constraint_name_taken_three_migrations);
	tcase_add_test(tc, strict_backfill_without_key_of_created_table);
	tcase_add_test(tc, ddl_in_backfill_on_created_table);
	tcase_add_test(tc, index_on_partitioned_table_of_earlier_migration);
	tcase_add_test(tc, rename_column_used_by_earlier_index);
	tcase_add_test(tc, retype_column_referenced_by_earlier_fk);
	tcase_add_test(tc, default_index_name_skips_earlier_table);
	tcase_add_test(tc, plan_and_dry_run_see_earlier_migrations);
	suite_add_tcase(s, tc);
	return s;
}
