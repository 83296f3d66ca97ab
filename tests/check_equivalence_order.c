/*
 * Equivalence matrix, part 3: defer-destructive-to-contract, rename-table-via-view and
 * data-change-to-backfill over the table shapes, then the order cases of issue 14 (a
 * statement pgphase moves to a later phase while a later statement depends on it: drop and
 * recreate the same name, dedup then unique, rename then reuse).  The runner and the shapes
 * are in check_equivalence.[ch].
 */
#include "check_equivalence.h"

#define S_FK_DATA S_FK_ON
#define S_ARCHIVE S_PLAIN "CREATE TABLE t_archive (id int PRIMARY KEY, a int);\n"
#define D_ARCHIVE "SELECT (" D_PLAIN ") || (" EQ_DIGEST("ROW(id, a)", "t_archive") ")"
#define S_DUPS                                                                                 \
	S_PLAIN "CREATE TABLE tags (id int PRIMARY KEY, name text);\n"                         \
		"INSERT INTO tags SELECT g, 'tag' || (g % 30) FROM generate_series(1, 200) g;\n"
#define D_TAGS EQ_DIGEST("ROW(id, name)", "tags")

/* Why known-bug cases fail today (the lead clears each flag as its fix merges). */

static const struct eq_case cases[] = {
	/* defer-destructive-to-contract */
	{ "drop_column_plain", S_PLAIN, "ALTER TABLE t DROP COLUMN b;\n",
	  EQ_DIGEST("ROW(id, a)", "t") },
	{ "drop_column_indexed_quoted",
	  S_MIXED "CREATE INDEX \"ByEmail\" ON \"MyTable\" (\"Email\");\n",
	  "ALTER TABLE \"MyTable\" DROP COLUMN \"Email\";\n",
	  EQ_DIGEST("ROW(\"Id\", \"Val\")", "\"MyTable\"") },
	{ "drop_table_space_quote", S_ODD "CREATE TABLE keep (id int);\n",
	  "DROP TABLE \"my \"\"odd\"\" table\";\n" },
	{ "drop_column_cascade", S_RICH, "ALTER TABLE acct DROP COLUMN owner CASCADE;\n",
	  EQ_DIGEST("ROW(id, bal, note)", "acct"), "drops the view, index and policy with it" },
	{ "truncate", S_PLAIN, "TRUNCATE t;\n", D_PLAIN },
	{ "drop_foreign_key", S_FK_ON, "ALTER TABLE orders DROP CONSTRAINT orders_user_id_fkey;\n",
	  D_FK },
	{ "drop_partition", S_PART, "DROP TABLE ev_2023;\n", D_PART },
	/* rename-table-via-view */
	{ "rename_table_plain", S_PLAIN, "ALTER TABLE t RENAME TO items;\n",
	  EQ_DIGEST("ROW(id, a, b)", "items") },
	{ "rename_table_quoted_schema", S_SCHEMA,
	  "ALTER TABLE \"App Schema\".\"Orders\" RENAME TO \"Purchase Orders\";\n",
	  EQ_DIGEST("ROW(\"Id\", \"UserId\", \"Total\", note)",
		    "\"App Schema\".\"Purchase Orders\"") },
	{ "rename_table_rich", S_RICH, "ALTER TABLE acct RENAME TO account;\n",
	  EQ_DIGEST("ROW(id, owner, bal, note)", "account"),
	  "grants, RLS, trigger, comments and a view on the table" },
	{ "rename_table_referenced", S_FK_ON, "ALTER TABLE users RENAME TO customers;\n",
	  "SELECT (" EQ_DIGEST("ROW(id, email)", "customers") ") || (" EQ_DIGEST(
		  "ROW(id, user_id, amount)", "orders") ")" },
	{ "rename_table_partitioned", S_PART, "ALTER TABLE ev RENAME TO events;\n",
	  EQ_DIGEST("ROW(id, at, kind, n)", "events") },
	{ "rename_table_unicode", S_UNI, "ALTER TABLE \"café\" RENAME TO \"maison du café\";\n",
	  EQ_DIGEST("ROW(\"clé\", \"naïve\", \"été\")", "\"maison du café\"") },
	/* data-change-to-backfill */
	{ "update_plain", S_PLAIN, "UPDATE t SET a = a + 100 WHERE a < 5;\n", D_PLAIN },
	{ "update_quoted_schema", S_SCHEMA,
	  "UPDATE \"App Schema\".\"Orders\" SET note = upper(note) WHERE note LIKE 'n1%';\n",
	  D_SCHEMA },
	{ "update_composite_key", S_COMPOSITE, "UPDATE lines SET qty = qty * 2;\n", D_COMPOSITE },
	{ "update_partitioned", S_PART, "UPDATE ev SET n = n + 1 WHERE kind = 'a';\n", D_PART },
	{ "update_unicode_other_column", S_UNI,
	  "UPDATE \"café\" SET \"été\" = 'x' || \"naïve\" WHERE \"naïve\" > 1;\n", D_UNI,
	  "the WHERE does not name the column it sets" },
	{ "update_rich_table", S_RICH, "UPDATE acct SET note = 'n' WHERE bal % 2 = 0;\n", D_RICH,
	  "a trigger and RLS on the table" },
	{ "delete_plain", S_PLAIN, "DELETE FROM t WHERE id % 3 = 0;\n", D_PLAIN },
	{ "delete_quoted", S_MIXED, "DELETE FROM \"MyTable\" WHERE \"Val\" = 3;\n", D_MIXED },
	{ "insert_select", S_ARCHIVE, "INSERT INTO t_archive SELECT id, a FROM t WHERE a > 5;\n",
	  D_ARCHIVE, "no ON CONFLICT / NOT EXISTS" },
	/* order: a later statement depends on an earlier one */
	{ "order_drop_recreate_index", S_PLAIN "CREATE INDEX t_a ON t (a);\n",
	  "DROP INDEX t_a;\nCREATE INDEX t_a ON t (a, b);\n", D_PLAIN },
	{ "order_drop_recreate_quoted_index",
	  S_MIXED "CREATE INDEX \"MyIdx\" ON \"MyTable\" (\"Val\");\n",
	  "DROP INDEX \"MyIdx\";\nCREATE UNIQUE INDEX \"MyIdx\" ON \"MyTable\" (\"Email\");\n",
	  D_MIXED },
	{ "order_dedup_then_unique", S_DUPS,
	  "DELETE FROM tags WHERE id IN (SELECT id FROM (SELECT id, row_number() OVER"
	  " (PARTITION BY name ORDER BY id) AS rn FROM tags) d WHERE rn > 1);\n"
	  "CREATE UNIQUE INDEX tags_name ON tags (name);\n",
	  D_TAGS },
	{ "order_drop_create_trigger", S_RICH,
	  "DROP TRIGGER IF EXISTS acct_t ON acct;\n"
	  "CREATE TRIGGER acct_t BEFORE INSERT OR UPDATE ON acct FOR EACH ROW"
	  " EXECUTE FUNCTION acct_touch();\n",
	  D_RICH },
	{ "order_rename_table_recreate", S_PLAIN,
	  "ALTER TABLE t RENAME TO t_bkp;\n"
	  "CREATE TABLE t (id int PRIMARY KEY, a int, b text, c int);\n"
	  "INSERT INTO t (id, a, b, c) SELECT id, a, b, 0 FROM t_bkp;\n",
	  D_PLAIN },
	{ "order_add_then_rename_column", S_PLAIN,
	  "ALTER TABLE t ADD COLUMN c varchar;\nALTER TABLE t RENAME COLUMN c TO d;\n", D_PLAIN },
	{ "order_rename_table_then_update", S_PLAIN,
	  "ALTER TABLE t RENAME TO u;\nUPDATE u SET a = 0 WHERE a = 1;\n",
	  EQ_DIGEST("ROW(id, a, b)", "u") },
	/* one ALTER TABLE dropping and adding the same name (Prisma, hatchet, openmeter) */
	{ "order_drop_add_column_one_alter", S_PLAIN,
	  "ALTER TABLE t DROP COLUMN b, ADD COLUMN b text DEFAULT 'x', ADD COLUMN c int;\n",
	  EQ_DIGEST("ROW(id, a, b)", "t") },
	{ "order_drop_add_constraint_one_alter", S_PLAIN "ALTER TABLE t ADD CONSTRAINT \"T a\" "
	  "CHECK (a > -1000);\n",
	  "ALTER TABLE t DROP CONSTRAINT \"T a\", ADD CONSTRAINT \"T a\" CHECK (a > -5000);\n",
	  D_PLAIN },
	/* langfuse 0090: a foreign key binds to a unique index of the referenced table as it is
	   when added; the drop of the old index must stay before it */
	{ "order_drop_unique_then_fk",
	  "CREATE TABLE sess (id text NOT NULL, project text NOT NULL, PRIMARY KEY (id));\n"
	  "CREATE UNIQUE INDEX sess_id_project_key ON sess (id, project);\n"
	  "CREATE TABLE tr (id int PRIMARY KEY, sid text, project text);\n"
	  "INSERT INTO sess VALUES ('a', 'p');\nINSERT INTO tr VALUES (1, 'a', 'p');\n",
	  "DROP INDEX sess_id_project_key;\n"
	  "ALTER TABLE sess DROP CONSTRAINT sess_pkey, ADD CONSTRAINT sess_pkey PRIMARY KEY "
	  "(id, project);\n"
	  "ALTER TABLE tr ADD CONSTRAINT tr_sess_fkey FOREIGN KEY (sid, project) "
	  "REFERENCES sess (id, project);\n",
	  EQ_DIGEST("ROW(id, sid, project)", "tr") },
	{ "order_drop_column_recreate", S_PLAIN,
	  "ALTER TABLE t DROP COLUMN b;\nALTER TABLE t ADD COLUMN b int DEFAULT 0;\n",
	  EQ_DIGEST("ROW(id, a)", "t") },
	{ "order_create_then_drop_index", S_PLAIN,
	  "CREATE INDEX t_tmp ON t (b);\nDROP INDEX t_tmp;\n", D_PLAIN },
	{ "order_add_column_then_index", S_PLAIN,
	  "ALTER TABLE t ADD COLUMN c int;\nCREATE INDEX t_c ON t (c);\n", D_PLAIN },
	{ "order_rename_column_then_index", S_PLAIN,
	  "ALTER TABLE t RENAME COLUMN b TO label;\nCREATE INDEX t_label ON t (label);\n",
	  EQ_DIGEST("ROW(id, a, label)", "t") },
	{ "order_fill_then_not_null", S_PLAIN "UPDATE t SET b = NULL WHERE id % 4 = 0;\n",
	  "UPDATE t SET b = 'none' WHERE b IS NULL;\nALTER TABLE t ALTER b SET NOT NULL;\n",
	  D_PLAIN },
	{ "order_add_fill_require", S_PLAIN,
	  "ALTER TABLE t ADD COLUMN c int;\nUPDATE t SET c = a WHERE c IS NULL;\n"
	  "ALTER TABLE t ALTER c SET NOT NULL;\n",
	  D_PLAIN, "the classic expand, backfill, contract written as one file" },
	{ "order_view_around_type_change", S_PLAIN "CREATE VIEW t_v AS SELECT id, a FROM t;\n",
	  "DROP VIEW t_v;\nALTER TABLE t ALTER a TYPE bigint;\n"
	  "CREATE VIEW t_v AS SELECT id, a FROM t;\n",
	  D_PLAIN },
	{ "order_add_fk_then_drop", S_FK,
	  "ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)"
	  " REFERENCES users;\nALTER TABLE orders DROP CONSTRAINT orders_user_fk;\n",
	  D_FK },
};

START_TEST(test_case)
{
	eq_run(&cases[_i]);
}
END_TEST

Suite *equivalence_order_suite(void)
{
	Suite *s = suite_create("equivalence_order");
	TCase *tc = th_db_tcase("equivalence_order");

	tcase_add_loop_test(tc, test_case, 0, sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
