/*
 * Migration loader: every naming scheme, sections, phase markers, directives, templates,
 * checksums, and the input errors that must list every offending file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "pgphase/migration.h"

static int load(struct pgphase_migration_set *set, const char *dir, struct pgphase_error *err)
{
	struct pgphase_template_vars vars = { "app" };

	return pgphase_migration_set_load(set, dir, &vars, err);
}

START_TEST(naming_schemes)
{
	static const struct {
		const char *name;
		int r;
		long long version;
		const char *vtext, *desc;
		int part;
	} cases[] = {
		{ "001_create_users.sql", 1, 1, "001", "create_users", 0 },
		{ "1_x.sql", 1, 1, "1", "x", 0 },
		{ "V12__add_orders.sql", 1, 12, "12", "add_orders", 0 },
		{ "20240115103000_add-email.sql", 1, 20240115103000LL, "20240115103000", "add-email", 0 },
		{ "20240115_103000_add_email.sql", 1, 20240115103000LL, "20240115_103000", "add_email", 0 },
		{ "002_pair.up.sql", 1, 2, "002", "pair", 1 },
		{ "002_pair.down.sql", 1, 2, "002", "pair", 2 },
		{ "README.md", 0, 0, NULL, NULL, 0 },
		{ "notes.sql", 0, 0, NULL, NULL, 0 },
		{ ".hidden.sql", 0, 0, NULL, NULL, 0 },
		{ "001_x.SQL", -1, 0, NULL, NULL, 0 },
		{ "001create.sql", -1, 0, NULL, NULL, 0 },
		{ "001.sql", -1, 0, NULL, NULL, 0 },
		{ "001_.sql", -1, 0, NULL, NULL, 0 },
		{ "V1_single.sql", -1, 0, NULL, NULL, 0 },
		{ "V1.1__dotted.sql", -1, 0, NULL, NULL, 0 },
		{ "001_bad name.sql", -1, 0, NULL, NULL, 0 },
		{ "1234567890123456789_x.sql", -1, 0, NULL, NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t version = 0;
		char *vtext = NULL, *name = NULL;
		enum pgphase_name_style style;
		int part = -1;
		const char *why = NULL;
		int r = pgphase_parse_file_name(cases[i].name, &version, &vtext, &name, &style, &part, &why);

		ck_assert_msg(r == cases[i].r, "%s: expected %d, got %d", cases[i].name, cases[i].r, r);
		if (r == 1) {
			ck_assert_int_eq(version, cases[i].version);
			ck_assert_str_eq(vtext, cases[i].vtext);
			ck_assert_str_eq(name, cases[i].desc);
			ck_assert_int_eq(part, cases[i].part);
		}
		if (r < 0)
			ck_assert_ptr_nonnull(why);
		free(vtext);
		free(name);
	}
}
END_TEST

START_TEST(numeric_order_and_pairs)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir();

	th_write(dir, "10_ten.sql", "SELECT 10;");
	th_write(dir, "9_nine.sql", "SELECT 9;");
	th_write(dir, "011_eleven.up.sql", "CREATE TABLE e (a int);");
	th_write(dir, "011_eleven.down.sql", "DROP TABLE e;");
	th_write(dir, "README.md", "docs");
	ck_assert_msg(load(&set, dir, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(set.n, 3);
	ck_assert_int_eq(set.items[0].version, 9);
	ck_assert_int_eq(set.items[1].version, 10);
	ck_assert_int_eq(set.items[2].version, 11);
	ck_assert_ptr_nonnull(set.items[2].down_file);
	ck_assert_int_eq(pgphase_migration_parse(&set.items[2], &err), 0);
	ck_assert(set.items[2].down.present);
	ck_assert_str_eq(set.items[2].down.sql.stmts[0].sql, "DROP TABLE e");
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

START_TEST(duplicates_and_malformed_listed_together)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir();

	th_write(dir, "001_a.sql", "SELECT 1;");
	th_write(dir, "1_b.sql", "SELECT 1;");
	th_write(dir, "002create.sql", "SELECT 1;");
	th_write(dir, "003_c.SQL", "SELECT 1;");
	ck_assert_int_eq(load(&set, dir, &err), -1);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	/* the first problem is the message, every other one a detail line, each file:line */
	th_assert_contains(err.message, "002create.sql:1: malformed migration file name: missing '_'");
	th_assert_contains(err.detail, "003_c.SQL:1: malformed migration file name: extension must "
				       "be lower-case");
	th_assert_contains(err.detail, "1_b.sql:1: duplicate migration version 1 (also ");
	pgphase_error_release(&err);
	free(dir);
}
END_TEST

/* One file per problem kind: every problem is collected, with its kind and file:line. */
START_TEST(every_problem_collected_with_kind_and_place)
{
	static const struct {
		const char *file, *content;
		enum pgphase_problem_kind kind;
		int line;
	} cases[] = {
		{ "1_dup.sql", "SELECT 1;\n", PGPHASE_PROBLEM_DUPLICATE_VERSION, 1 },
		{ "002create.sql", "SELECT 1;\n", PGPHASE_PROBLEM_BAD_FILE_NAME, 1 },
		{ "003_enc.sql", "SELECT 1;\nSELECT 'a\xff';\n", PGPHASE_PROBLEM_BAD_ENCODING, 2 },
		{ "004_tpl.sql", "SELECT 1;\nSELECT * FROM {{nope}};\n",
		  PGPHASE_PROBLEM_UNKNOWN_TEMPLATE, 2 },
		{ "005_dir.sql", "-- pgphase:frobnicate\nSELECT 1;\n", PGPHASE_PROBLEM_BAD_DIRECTIVE,
		  1 },
		{ "006_dangle.sql", "SELECT 1;\n-- pgphase:as-is\n",
		  PGPHASE_PROBLEM_DANGLING_DIRECTIVE, 2 },
		{ "007_marker.sql", "-- UP\nSELECT 1;\n-- UP\nSELECT 2;\n",
		  PGPHASE_PROBLEM_MISPLACED_MARKER, 3 },
		{ "008_empty.sql", "-- UP\n-- nothing\n-- DOWN\nSELECT 1;\n",
		  PGPHASE_PROBLEM_EMPTY_MIGRATION, 1 },
		{ "009_syntax.sql", "SELECT 1;\nSELEC 2;\nSELECT 3;\nSELEC 4;\n",
		  PGPHASE_PROBLEM_SYNTAX_ERROR, 2 },
		{ "009_syntax.sql", NULL, PGPHASE_PROBLEM_SYNTAX_ERROR, 4 },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct pgphase_template_vars vars = { "app", false };
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	bool seen[PGPHASE_PROBLEM_KINDS] = { false };
	char *dir = th_tmpdir();

	th_write(dir, "001_a.sql", "SELECT 1;\n");
	for (size_t i = 0; i < n; i++)
		if (cases[i].content)
			th_write(dir, cases[i].file, cases[i].content);
	ck_assert_msg(pgphase_migration_set_read(&set, dir, &vars, &err) == 0, "%s", err.message);
	ck_assert_msg(set.problems.n == n, "%zu problems, expected %zu", set.problems.n, n);
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < set.problems.n && !found; k++) {
			const struct pgphase_problem *p = &set.problems.v[k];
			const char *base = strrchr(p->file, '/') + 1;

			found = p->kind == cases[i].kind && strcmp(base, cases[i].file) == 0 &&
				p->line == cases[i].line;
		}
		ck_assert_msg(found, "no %s problem at %s:%d", pgphase_problem_kind_name(cases[i].kind),
			      cases[i].file, cases[i].line);
		seen[cases[i].kind] = true;
	}
	for (int k = 0; k < PGPHASE_PROBLEM_KINDS; k++)
		ck_assert_msg(seen[k], "kind %s has no case", pgphase_problem_kind_name(k));
	/* the other statements of a broken file are still read */
	ck_assert_int_eq(pgphase_migration_find(&set, 9)->up.sql.n, 2);
	ck_assert(pgphase_migration_find(&set, 9)->broken);
	ck_assert(!pgphase_migration_find(&set, 1)->broken);
	pgphase_migration_set_release(&set);

	/* the strict load refuses and names every problem as file:line */
	ck_assert_int_eq(load(&set, dir, &err), -1);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	for (size_t i = 0; i < n; i++) {
		char needle[64];

		snprintf(needle, sizeof(needle), "%s:%d", cases[i].file, cases[i].line);
		ck_assert_msg(strstr(err.message, needle) || (err.detail && strstr(err.detail, needle)),
			      "%s missing from:\n%s\n%s", needle, err.message, err.detail);
	}
	pgphase_error_release(&err);
	free(dir);
}
END_TEST

START_TEST(sections_and_markers)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	struct pgphase_migration *m;
	char *dir = th_tmpdir();

	th_write(dir, "001_s.sql",
		 "-- Migration: s\n"            /* 1 */
		 "-- up\n"                      /* 2 */
		 "CREATE TABLE t (a int);\n"    /* 3 */
		 "-- BACKFILL\n"                /* 4 */
		 "-- pgphase:batch-size 500\n"  /* 5 */
		 "UPDATE t SET a = 1 WHERE a IS NULL;\n" /* 6 */
		 "-- contract\n"                /* 7 */
		 "-- pgphase:as-is\n"           /* 8 */
		 "ALTER TABLE t ALTER a SET NOT NULL;\n" /* 9 */
		 "SELECT '-- DOWN';\n"          /* 10: not a marker */
		 "-- @UNDO\n"                   /* 11 */
		 "DROP TABLE t;\n");            /* 12 */
	ck_assert_msg(load(&set, dir, &err) == 0, "%s", err.message);
	m = &set.items[0];
	ck_assert_msg(pgphase_migration_parse(m, &err) == 0, "%s", err.message);
	ck_assert_uint_eq(m->up.sql.n, 4);
	ck_assert_int_eq(m->up.notes[0].phase, PGPHASE_PHASE_NONE);
	ck_assert_int_eq(m->up.notes[1].phase, PGPHASE_PHASE_BACKFILL);
	ck_assert_int_eq(m->up.notes[1].batch_size, 500);
	ck_assert_int_eq(m->up.notes[2].phase, PGPHASE_PHASE_CONTRACT);
	ck_assert(m->up.notes[2].as_is);
	ck_assert(!m->up.notes[3].as_is);
	ck_assert_int_eq(m->up.sql.stmts[2].line, 9);
	ck_assert_uint_eq(m->down.sql.n, 1);
	ck_assert_int_eq(m->down.sql.stmts[0].line, 12);
	ck_assert(m->down.present);
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

START_TEST(trailing_and_file_directives)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	struct pgphase_migration *m;
	char *dir = th_tmpdir();

	th_write(dir, "001_t.sql",
		 "-- pgphase:ignore-file prefer-text,ban-char legacy schema\n"
		 "DROP TABLE a; -- pgphase:ignore drop-table archived in ticket 12\n"
		 "ALTER TABLE b -- pgphase:ignore drop-column unused since v3\n"
		 "  DROP COLUMN c;\n"
		 "-- pgphase:as-is\n"
		 "CREATE INDEX i ON d (e);\n");
	ck_assert_msg(load(&set, dir, &err) == 0, "%s", err.message);
	m = &set.items[0];
	ck_assert_msg(pgphase_migration_parse(m, &err) == 0, "%s", err.message);
	ck_assert_str_eq(m->ignore_file_rules, "prefer-text,ban-char");
	ck_assert_str_eq(m->ignore_file_reason, "legacy schema");
	ck_assert_str_eq(m->up.notes[0].ignore_rules, "drop-table");
	ck_assert_str_eq(m->up.notes[0].ignore_reason, "archived in ticket 12");
	ck_assert_str_eq(m->up.notes[1].ignore_rules, "drop-column");
	ck_assert_ptr_null(m->up.notes[2].ignore_rules);
	ck_assert(m->up.notes[2].as_is);
	ck_assert(!m->up.notes[1].as_is);
	pgphase_migration_set_release(&set);

	/* bug 1: a directive after code applies to that code's statement, however it ends */
	th_write(dir, "001_t.sql",
		 "CREATE INDEX i ON d (e); -- pgphase:as-is\n"       /* 0 */
		 "CREATE INDEX j ON d (f);\n"                        /* 1 */
		 "CREATE INDEX k\n  ON d (g); -- pgphase:as-is\n"    /* 2 */
		 "CREATE INDEX l ON d (h)\n; -- pgphase:batch-size 5\n" /* 3 */
		 "/* note */ -- pgphase:as-is\n"
		 "CREATE INDEX m ON d (i);\n");                      /* 4 */
	ck_assert_msg(load(&set, dir, &err) == 0, "%s", err.message);
	m = &set.items[0];
	ck_assert_int_eq(m->up.sql.n, 5);
	ck_assert(m->up.notes[0].as_is);
	ck_assert(!m->up.notes[1].as_is);
	ck_assert(m->up.notes[2].as_is);
	ck_assert_int_eq(m->up.notes[3].batch_size, 5);
	ck_assert(!m->up.notes[3].as_is);
	ck_assert(m->up.notes[4].as_is); /* nothing of a statement before it: the next one */
	ck_assert_int_eq(m->up.markers[0].stmt, 0);
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

START_TEST(no_markers_whole_file_is_up)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir();

	th_write(dir, "001_s.sql", "-- pgphase:no-transaction\nCREATE TABLE t (a int);\nSELECT 1;\n");
	ck_assert_int_eq(load(&set, dir, &err), 0);
	ck_assert_int_eq(pgphase_migration_parse(&set.items[0], &err), 0);
	ck_assert_uint_eq(set.items[0].up.sql.n, 2);
	ck_assert(!set.items[0].down.present);
	ck_assert(set.items[0].no_transaction);
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

static void expect_parse_error(const char *content, const char *kind, int line,
			       const char *needle)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir();
	int rc;

	th_write(dir, "001_e.sql", content);
	rc = load(&set, dir, &err);
	if (rc == 0) {
		rc = pgphase_migration_parse(&set.items[0], &err);
		pgphase_migration_set_release(&set);
	}
	ck_assert_msg(rc == -1, "expected an error for:\n%s", content);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	ck_assert_msg(err.kind && strcmp(err.kind, kind) == 0, "kind %s, expected %s (%s)", err.kind,
		      kind, err.message);
	ck_assert_msg(err.line == line, "line %d, expected %d (%s)", err.line, line, err.message);
	th_assert_contains(err.message, needle);
	th_assert_contains(err.message, "001_e.sql:");
	pgphase_error_release(&err);
	free(dir);
}

START_TEST(input_errors_with_positions)
{
	expect_parse_error("SELECT 1;\n-- pgphase:frobnicate\nSELECT 2;", "unknown-directive", 2,
			   "unknown directive");
	expect_parse_error("SELECT 1;\n-- pgphase:as-is\n", "dangling-directive", 2,
			   "not followed by a statement");
	expect_parse_error("-- pgphase:batch-size lots\nUPDATE t SET a = 1;", "unknown-directive", 1,
			   "positive integer");
	expect_parse_error("-- pgphase:ignore drop-table\nDROP TABLE t;", "unknown-directive", 1,
			   "needs a reason");
	expect_parse_error("-- pgphase:ignore-file drop-table\nDROP TABLE t;", "unknown-directive", 1,
			   "needs RULE[,RULE] and a reason");
	expect_parse_error("-- UP\nSELECT 1;\n-- UP\nSELECT 2;", "section-marker", 3, "second");
	expect_parse_error("SELECT 0;\n-- UP\nSELECT 1;", "section-marker", 1, "before the -- UP");
	expect_parse_error("-- UP\nSELECT 1;\n-- DOWN\n-- EXPAND\nSELECT 2;", "section-marker", 4,
			   "DOWN section");
	expect_parse_error("-- UP\n-- only a comment\n-- DOWN\nSELECT 1;", "empty-migration", 1,
			   "no statements");
	expect_parse_error("SELECT 1;\nSELEC 2;", "syntax-error", 2, "syntax error");
	expect_parse_error("SELECT 1;\nSELECT $x$ never closed", "syntax-error", 2, "unterminated");
	expect_parse_error("SELECT 1;\n/* never closed", "syntax-error", 2, "unterminated");
	expect_parse_error("SELECT 1;\nSELECT * FROM {{nope}};", "unknown-template", 2,
			   "unknown template");
	expect_parse_error("SELECT 1;\nSELECT 'a\xff';", "bad-encoding", 2, "not valid UTF-8");
}
END_TEST

START_TEST(nul_byte_rejected)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir(), path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/001_nul.sql", dir);
	f = fopen(path, "wb");
	fwrite("SELECT 1;\nSELECT\0 2;", 1, 20, f);
	fclose(f);
	ck_assert_int_eq(load(&set, dir, &err), -1);
	th_assert_contains(err.message, "001_nul.sql:2:7: file contains a NUL byte");
	pgphase_error_release(&err);
	free(dir);
}
END_TEST

START_TEST(templates_expand)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir();

	th_write(dir, "001_t.sql",
		 "CREATE TABLE {{ tables.users }} (a int[] DEFAULT '{{1,2},{3,4}}');\n"
		 "CREATE VIEW {{schema}}.v AS SELECT 1;\n");
	ck_assert_int_eq(load(&set, dir, &err), 0);
	ck_assert_int_eq(pgphase_migration_parse(&set.items[0], &err), 0);
	ck_assert_str_eq(set.items[0].up.sql.stmts[0].sql,
			 "CREATE TABLE \"app\".\"users\" (a int[] DEFAULT '{{1,2},{3,4}}')");
	ck_assert_str_eq(set.items[0].up.sql.stmts[1].sql, "CREATE VIEW \"app\".v AS SELECT 1");
	ck_assert_int_eq(set.items[0].up.sql.stmts[1].line, 2);
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

START_TEST(checksums_sha256)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir();
	char expect[65];

	th_write(dir, "001_c.sql", "SELECT 1;\n");
	th_write(dir, "002_p.up.sql", "SELECT 2;\n");
	th_write(dir, "002_p.down.sql", "SELECT 3;\n");
	ck_assert_int_eq(load(&set, dir, &err), 0);
	/* sha256("SELECT 1;\n"), computed independently with sha256sum */
	ck_assert_str_eq(set.items[0].checksum,
			 "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd");
	pgphase_sha256_hex("SELECT 1;\n", 10, expect);
	ck_assert_str_eq(set.items[0].checksum, expect);
	pgphase_sha256_hex("SELECT 2;\nSELECT 3;\n", 20, expect);
	ck_assert_str_eq(set.items[1].checksum, expect);
	pgphase_migration_set_release(&set);
	free(dir);
}
END_TEST

START_TEST(missing_directory)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;

	ck_assert_int_eq(load(&set, "/nonexistent/migrations", &err), -1);
	th_assert_contains(err.message, "cannot open migrations directory");
	ck_assert_ptr_nonnull(err.hint);
	pgphase_error_release(&err);
}
END_TEST

START_TEST(new_follows_directory_style)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	char *dir = th_tmpdir(), *path = NULL;
	struct stat st;
	char *d2 = th_tmpdir(), *d3 = th_tmpdir(), *d4 = th_tmpdir();

	ck_assert_int_eq(pgphase_migration_new(dir, "Create users", &path, &err), 0);
	th_assert_contains(path, "/001_create_users.sql");
	free(path);
	ck_assert_int_eq(pgphase_migration_new(dir, "add-orders", &path, &err), 0);
	th_assert_contains(path, "/002_add_orders.sql");
	ck_assert_int_eq(stat(path, &st), 0);
	free(path);

	th_write(d2, "V0009__x.sql", "SELECT 1;");
	ck_assert_int_eq(pgphase_migration_new(d2, "y", &path, &err), 0);
	th_assert_contains(path, "/V0010__y.sql");
	free(path);

	th_write(d3, "20200101_000000_x.sql", "SELECT 1;");
	ck_assert_int_eq(pgphase_migration_new(d3, "y", &path, &err), 0);
	ck_assert_int_eq((int)strlen(strrchr(path, '/') + 1), (int)strlen("20200101_000000_y.sql"));
	ck_assert(strrchr(path, '/')[9] == '_');
	free(path);

	th_write(d4, "07_x.up.sql", "SELECT 1;");
	th_write(d4, "07_x.down.sql", "SELECT 1;");
	ck_assert_int_eq(pgphase_migration_new(d4, "y", &path, &err), 0);
	th_assert_contains(path, "/08_y.up.sql");
	free(path);

	ck_assert_int_eq(pgphase_migration_new(dir, "bad/name", &path, &err), -1);
	pgphase_error_release(&err);
	free(dir);
	free(d2);
	free(d3);
	free(d4);
}
END_TEST

START_TEST(template_of_new_parses_with_down_section)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration_set set;
	char *dir = th_tmpdir(), *path = NULL;

	ck_assert_int_eq(pgphase_migration_new(dir, "x", &path, &err), 0);
	/* an untouched template is an empty migration: refused, never silently applied */
	ck_assert_int_eq(load(&set, dir, &err), -1);
	ck_assert_str_eq(err.kind, "empty-migration");
	pgphase_error_release(&err);
	free(path);
	free(dir);
}
END_TEST

Suite *loader_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = th_pure_tcase("loader");

	tcase_add_test(tc, naming_schemes);
	tcase_add_test(tc, numeric_order_and_pairs);
	tcase_add_test(tc, duplicates_and_malformed_listed_together);
	tcase_add_test(tc, every_problem_collected_with_kind_and_place);
	tcase_add_test(tc, sections_and_markers);
	tcase_add_test(tc, no_markers_whole_file_is_up);
	tcase_add_test(tc, trailing_and_file_directives);
	tcase_add_test(tc, input_errors_with_positions);
	tcase_add_test(tc, nul_byte_rejected);
	tcase_add_test(tc, templates_expand);
	tcase_add_test(tc, checksums_sha256);
	tcase_add_test(tc, missing_directory);
	tcase_add_test(tc, new_follows_directory_style);
	tcase_add_test(tc, template_of_new_parses_with_down_section);
	suite_add_tcase(s, tc);
	return s;
}
