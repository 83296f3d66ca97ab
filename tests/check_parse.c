/*
 * SQL through libpg_query: positions, classification, comments, deparse, errors.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "parse_agree.h"
#include "pgphase/sql.h"

START_TEST(split_positions)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;
	const char *text = "-- leading comment\n"
			   "CREATE TABLE a (id int);\n"
			   "\n"
			   "  /* block */ SELECT 'x;y'\n"
			   "    FROM a; INSERT INTO a VALUES (1)";

	ck_assert_int_eq(pgphase_sql_parse(&sql, text, "f.sql", &err), 0);
	ck_assert_uint_eq(sql.n, 3);
	ck_assert_int_eq(sql.stmts[0].line, 2);
	ck_assert_int_eq(sql.stmts[0].column, 1);
	ck_assert_str_eq(sql.stmts[0].sql, "CREATE TABLE a (id int)");
	ck_assert_int_eq(sql.stmts[1].line, 4);
	ck_assert_int_eq(sql.stmts[1].column, 15);
	ck_assert_int_eq(sql.stmts[1].end_line, 5);
	ck_assert_str_eq(sql.stmts[1].sql, "SELECT 'x;y'\n    FROM a");
	ck_assert_int_eq(sql.stmts[2].line, 5);
	ck_assert_int_eq(sql.stmts[2].column, 13);
	ck_assert_str_eq(pgphase_node_kind(sql.stmts[2].node), "INSERT");
	pgphase_sql_release(&sql);
}
END_TEST

START_TEST(split_dollar_quotes_and_utf8_columns)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;
	const char *text = "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1; $$;\n"
			   "SELECT 'héé'; SELECT 2";

	ck_assert_int_eq(pgphase_sql_parse(&sql, text, "f.sql", &err), 0);
	ck_assert_uint_eq(sql.n, 3);
	ck_assert_int_eq(sql.stmts[2].line, 2);
	ck_assert_int_eq(sql.stmts[2].column, 15); /* characters, not bytes */
	pgphase_sql_release(&sql);
}
END_TEST

static bool no_txn(const char *text)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;
	bool r;

	ck_assert_msg(pgphase_sql_parse(&sql, text, NULL, &err) == 0, "parse %s: %s", text, err.message);
	r = sql.stmts[0].no_transaction;
	pgphase_sql_release(&sql);
	return r;
}

START_TEST(no_transaction_detection)
{
	ck_assert(no_txn("CREATE INDEX CONCURRENTLY i ON t (a)"));
	ck_assert(!no_txn("CREATE INDEX i ON t (a)"));
	ck_assert(no_txn("DROP INDEX CONCURRENTLY i"));
	ck_assert(!no_txn("DROP INDEX i"));
	ck_assert(no_txn("REINDEX INDEX CONCURRENTLY i"));
	ck_assert(!no_txn("REINDEX INDEX i"));
	ck_assert(no_txn("VACUUM t"));
	ck_assert(no_txn("VACUUM (ANALYZE) t"));
	ck_assert(!no_txn("ANALYZE t"));
	ck_assert(no_txn("ALTER SYSTEM SET work_mem = '4MB'"));
	ck_assert(no_txn("CREATE DATABASE d"));
	ck_assert(no_txn("DROP DATABASE d"));
	ck_assert(no_txn("CREATE TABLESPACE ts LOCATION '/x'"));
	ck_assert(no_txn("ALTER TABLE p DETACH PARTITION c CONCURRENTLY"));
	ck_assert(!no_txn("ALTER TABLE p DETACH PARTITION c"));
	ck_assert(no_txn("CLUSTER"));
	ck_assert(!no_txn("CLUSTER t USING i"));
	ck_assert(!no_txn("ALTER TABLE t ADD COLUMN b int"));
}
END_TEST

START_TEST(transaction_control_detection)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;

	ck_assert_int_eq(pgphase_sql_parse(&sql, "BEGIN; SELECT 1; COMMIT; SAVEPOINT a", NULL, &err), 0);
	ck_assert(sql.stmts[0].transaction_control);
	ck_assert(!sql.stmts[1].transaction_control);
	ck_assert(sql.stmts[2].transaction_control);
	ck_assert(sql.stmts[3].transaction_control);
	pgphase_sql_release(&sql);
}
END_TEST

START_TEST(syntax_error_position)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;

	ck_assert_int_eq(pgphase_sql_parse(&sql, "SELECT 1;\nCREATE TABLEX t (a int);", "m.sql", &err), -1);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	ck_assert_str_eq(err.kind, "syntax-error");
	ck_assert_int_eq(err.line, 2);
	ck_assert_int_eq(err.column, 8);
	th_assert_contains(err.message, "m.sql:2:8: syntax error at or near \"TABLEX\"");
	pgphase_error_release(&err);
}
END_TEST

START_TEST(unterminated_quotes_and_comments)
{
	static const char *const bad[] = { "SELECT 1;\nSELECT $$abc", "SELECT 1;\n/* open comment",
					   "SELECT 'open" };
	static const int lines[] = { 2, 2, 1 };

	for (size_t i = 0; i < 3; i++) {
		struct pgphase_error err = PGPHASE_ERROR_INIT;
		struct pgphase_sql sql;

		ck_assert_int_eq(pgphase_sql_parse(&sql, bad[i], "u.sql", &err), -1);
		ck_assert_msg(err.line == lines[i], "%s: expected line %d, got %s", bad[i], lines[i],
			      err.message);
		th_assert_contains(err.message, "unterminated");
		pgphase_error_release(&err);
	}
}
END_TEST

START_TEST(comments_from_scanner)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_comment *cs;
	size_t n;
	const char *text = "-- UP\nSELECT '-- not a comment'; -- trailing\n  /* c */\nSELECT $$ -- no $$;";

	ck_assert_int_eq(pgphase_sql_comments(text, "c.sql", &cs, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert(cs[0].line_comment && cs[0].alone_on_line && cs[0].line == 1);
	ck_assert(cs[1].line_comment && !cs[1].alone_on_line && cs[1].line == 2);
	ck_assert(!cs[2].line_comment && cs[2].alone_on_line && cs[2].column == 3);
	free(cs);
}
END_TEST

/* The one-pass parse finds exactly what the scanner finds, on every lexical corner. */
START_TEST(one_pass_agrees_with_scanner)
{
	static const char *const texts[] = {
		"",
		"-- only a comment",
		"/* only /* nested */ comment */",
		"SELECT 1",
		"SELECT 1 -- trailing, no semicolon",
		"SELECT 1; -- after\n\n/* block */ SELECT 2;;; ; -- between empties\n;SELECT 3;",
		"-- UP\nSELECT '-- not a comment'; -- trailing\n  /* c */\nSELECT $$ -- no $$;",
		"SELECT E'\\' -- still a string', 'it''s /* no */' /* yes */ FROM t;",
		"SELECT \"a--b\", $tag$ /* $ */ $$ $tag$, $1 FROM t -- x\r\nWHERE a/*c*/=1;\r\n",
		"CREATE TABLE t (\n  a int, -- first\n  b text /* second\n spans */\n);\n-- end\n",
		"SELECT 1 /* a /* b */ c */ + 2; /**/ /*/ x */ SELECT 3 ;\f\v-- ff vt\n",
		"SELECT 'a' -- c\n'b';\t--tab\n",
		"SELECT 1 --\n;",
		"SELECT 'é' /* é */, 2; -- é ünicode\n  SELECT 3",
		"DO $$BEGIN PERFORM 1; -- inside\nEND$$; -- outside",
	};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *diff = parse_agree(texts[i]);

		ck_assert_msg(diff == NULL, "text %zu: %s differs", i, diff);
	}
}
END_TEST

/*
 * The tree taken from libpg_query without its protobuf round trip is libpg_query's tree:
 * encoded again it gives exactly libpg_query's bytes, for every lint fixture (52 files of
 * every statement kind the rules know) and a few texts of other shapes.
 */
START_TEST(copied_tree_equals_libpg_query_encoding)
{
	static const char *const texts[] = {
		"", "-- nothing", "SELECT 1", "SELECT 1; SELECT 2;; ;",
		"SELECT ARRAY[1, 2.5, -3e10, 'x'::text, $1, NULL, true] FROM t WHERE a @> b",
		"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$",
		"ALTER TABLE t ADD COLUMN c bytea DEFAULT '\\x00ff'::bytea",
		"SELECT 1 +", /* a syntax error: both must refuse it */
	};
	const char *top = getenv("PGPHASE_TEST_TOP");
	char *dir;
	DIR *d;
	struct dirent *de;
	int files = 0;

	ck_assert_msg(pgphase_sql_tree_copied(),
		      "the test program unpacks parse trees: not linked with Makefile's PGQ_LIBS");
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		const char *diff = tree_agree(texts[i]);

		ck_assert_msg(diff == NULL, "text %zu: %s differs", i, diff);
	}
	ck_assert_int_ge(asprintf(&dir, "%s/tests/lint", top ? top : "."), 0);
	d = opendir(dir);
	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *path, *text;
		FILE *f;
		long n;
		const char *diff;

		if (len < 5 || strcmp(de->d_name + len - 4, ".sql") != 0)
			continue;
		ck_assert_int_ge(asprintf(&path, "%s/%s", dir, de->d_name), 0);
		f = fopen(path, "rb");
		ck_assert_msg(f != NULL, "cannot open %s", path);
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		text = calloc(1, (size_t)n + 1);
		ck_assert_int_eq(fread(text, 1, (size_t)n, f), n);
		fclose(f);
		diff = tree_agree(text);
		ck_assert_msg(diff == NULL, "%s: %s differs", path, diff);
		free(text);
		free(path);
		files++;
	}
	closedir(d);
	free(dir);
	ck_assert_int_gt(files, 40);
}
END_TEST

START_TEST(deparse_roundtrip)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;
	char *out;

	ck_assert_int_eq(pgphase_sql_parse(&sql, "create index i on t(a)", NULL, &err), 0);
	sql.stmts[0].node->index_stmt->concurrent = 1;
	out = pgphase_node_deparse(sql.stmts[0].node, &err);
	ck_assert_str_eq(out, "CREATE INDEX CONCURRENTLY i ON t USING btree (a)");
	free(out);
	pgphase_sql_release(&sql);
}
END_TEST

Suite *parse_suite(void)
{
	Suite *s = suite_create("parse");
	TCase *tc = th_pure_tcase("parse");

	tcase_add_test(tc, split_positions);
	tcase_add_test(tc, split_dollar_quotes_and_utf8_columns);
	tcase_add_test(tc, no_transaction_detection);
	tcase_add_test(tc, transaction_control_detection);
	tcase_add_test(tc, syntax_error_position);
	tcase_add_test(tc, unterminated_quotes_and_comments);
	tcase_add_test(tc, comments_from_scanner);
	tcase_add_test(tc, one_pass_agrees_with_scanner);
	tcase_add_test(tc, copied_tree_equals_libpg_query_encoding);
	tcase_add_test(tc, deparse_roundtrip);
	suite_add_tcase(s, tc);
	return s;
}
