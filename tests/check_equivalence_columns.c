/*
 * Equivalence matrix, part 2: the column strategies over the table shapes:
 * add-required-column, add-column-volatile-default, rename-column-via-sync-trigger and
 * change-column-type-via-shadow-column.  The runner and the shapes are in
 * check_equivalence.[ch].
 *
 * Deliberate differences: a column pgphase recreates (rename, type change) is appended, so
 * the column order differs; the snapshot leaves positions out.  A volatile default gives
 * each database its own values, so only the columns that existed before are compared.
 * Required-column cases start from empty tables: psql -1 itself fails on rows.
 */
#include "check_equivalence.h"

/* Why known-bug cases fail today (the lead clears each flag as its fix merges). */

/* Renamed or retyped columns are compared under their new name, as text. */
#define D_PLAIN_RENAMED EQ_DIGEST("ROW(id, a, label)", "t")
#define D_MIXED_RENAMED EQ_DIGEST("ROW(\"Id\", \"Val\", \"E-Mail Address\")", "\"MyTable\"")
#define S_MIXED_INDEXED                                                                        \
	S_MIXED "CREATE UNIQUE INDEX \"MyTable_Email\" ON \"MyTable\" (\"Email\");\n"          \
		"CREATE INDEX \"MyTable_lower\" ON \"MyTable\" (lower(\"Email\"))"             \
		" WHERE \"Email\" LIKE 'u1%';\n"                                               \
		"ALTER TABLE \"MyTable\" ADD CONSTRAINT \"Email has @\""                       \
		" CHECK (\"Email\" LIKE '%@%');\n"
#define S_SHOPS                                                                                \
	T_SCHEMA "CREATE TABLE \"App Schema\".shops (id int PRIMARY KEY);\n"                   \
		 "INSERT INTO \"App Schema\".shops VALUES (1);\n"

static const struct eq_case cases[] = {
	/* add-required-column */
	{ "required_plain", T_PLAIN, "ALTER TABLE t ADD COLUMN c int NOT NULL;\n" },
	{ "required_quoted", T_MIXED,
	  "ALTER TABLE \"MyTable\" ADD COLUMN \"Required Col\" text NOT NULL;\n" },
	{ "required_schema_fk", S_SHOPS,
	  "ALTER TABLE \"App Schema\".\"Orders\" ADD COLUMN \"ShopId\" int NOT NULL"
	  " REFERENCES \"App Schema\".shops;\n" },
	{ "required_partitioned", T_PART, "ALTER TABLE ev ADD COLUMN src text NOT NULL;\n" },
	{ "required_check_collation", T_PLAIN,
	  "ALTER TABLE t ADD COLUMN code text COLLATE \"C\" NOT NULL CHECK (code <> '');\n" },
	/* add-column-volatile-default */
	{ "volatile_plain", S_PLAIN, "ALTER TABLE t ADD COLUMN r float8 DEFAULT random();\n",
	  D_PLAIN },
	{ "volatile_quoted_uuid", S_MIXED,
	  "ALTER TABLE \"MyTable\" ADD COLUMN \"Token\" uuid DEFAULT gen_random_uuid();\n",
	  D_MIXED },
	{ "volatile_not_null", S_PLAIN,
	  "ALTER TABLE t ADD COLUMN at timestamptz NOT NULL DEFAULT clock_timestamp();\n",
	  D_PLAIN },
	{ "volatile_partitioned", S_PART, "ALTER TABLE ev ADD COLUMN r float8 DEFAULT random();\n",
	  D_PART },
	{ "volatile_schema_comment", S_SCHEMA,
	  "ALTER TABLE \"App Schema\".\"Orders\" ADD COLUMN \"Created At\" timestamptz"
	  " DEFAULT clock_timestamp();\n"
	  "COMMENT ON COLUMN \"App Schema\".\"Orders\".\"Created At\" IS 'when';\n",
	  D_SCHEMA },
	/* rename-column-via-sync-trigger */
	{ "rename_column_plain", S_PLAIN, "ALTER TABLE t RENAME COLUMN b TO label;\n",
	  D_PLAIN_RENAMED },
	{ "rename_column_quoted", S_MIXED,
	  "ALTER TABLE \"MyTable\" RENAME COLUMN \"Email\" TO \"E-Mail Address\";\n",
	  D_MIXED_RENAMED },
	{ "rename_column_indexed", S_MIXED_INDEXED,
	  "ALTER TABLE \"MyTable\" RENAME COLUMN \"Email\" TO \"E-Mail Address\";\n",
	  D_MIXED_RENAMED, "unique, partial and expression indexes and a CHECK on the column" },
	{ "rename_column_referenced", S_FK_ON, "ALTER TABLE users RENAME COLUMN id TO uid;\n",
	  "SELECT (" EQ_DIGEST("ROW(uid, email)", "users") ") || (" EQ_DIGEST(
		  "ROW(id, user_id, amount)", "orders") ")",
	  "primary key referenced by a foreign key" },
	{ "rename_column_referencing", S_FK_ON,
	  "ALTER TABLE orders RENAME COLUMN user_id TO customer_id;\n",
	  "SELECT (" EQ_DIGEST("ROW(id, email)", "users") ") || (" EQ_DIGEST(
		  "ROW(id, customer_id, amount)", "orders") ")",
	  "foreign-key column" },
	{ "rename_column_grant_comment", S_RICH, "ALTER TABLE acct RENAME COLUMN note TO remark;\n",
	  EQ_DIGEST("ROW(id, owner, bal, remark)", "acct"), "column grant and comment" },
	{ "rename_column_stats_default", S_RICH, "ALTER TABLE acct RENAME COLUMN bal TO balance;\n",
	  EQ_DIGEST("ROW(id, owner, balance, note)", "acct"),
	  "default, statistics target, comment, column grant" },
	{ "rename_column_view_policy", S_RICH, "ALTER TABLE acct RENAME COLUMN owner TO holder;\n",
	  EQ_DIGEST("ROW(id, holder, bal, note)", "acct"),
	  "collation, index, view and RLS policy on the column" },
	{ "rename_column_identity_pk", S_RICH, "ALTER TABLE acct RENAME COLUMN id TO acct_id;\n",
	  EQ_DIGEST("ROW(acct_id, owner, bal, note)", "acct"), "identity primary key in a view" },
	{ "rename_column_partitioned", S_PART, "ALTER TABLE ev RENAME COLUMN kind TO category;\n",
	  EQ_DIGEST("ROW(id, at, category, n)", "ev") },
	{ "rename_column_unicode", S_UNI,
	  "ALTER TABLE \"café\" RENAME COLUMN \"été\" TO \"hiver\";\n",
	  EQ_DIGEST("ROW(\"clé\", \"naïve\", \"hiver\")", "\"café\"") },
	{ "rename_column_schema", S_SCHEMA,
	  "ALTER TABLE \"App Schema\".\"Orders\" RENAME COLUMN note TO \"Note Text\";\n",
	  EQ_DIGEST("ROW(\"Id\", \"UserId\", \"Total\", \"Note Text\")",
		    "\"App Schema\".\"Orders\"") },
	/* change-column-type-via-shadow-column */
	{ "type_plain", S_PLAIN, "ALTER TABLE t ALTER a TYPE bigint;\n", D_PLAIN },
	{ "type_quoted", S_MIXED, "ALTER TABLE \"MyTable\" ALTER \"Val\" TYPE bigint;\n", D_MIXED },
	{ "type_primary_key_referenced", S_FK_ON, "ALTER TABLE users ALTER id TYPE bigint;\n", D_FK,
	  "primary key referenced by a foreign key" },
	{ "type_indexed", S_MIXED_INDEXED,
	  "ALTER TABLE \"MyTable\" ALTER \"Email\" TYPE varchar(100);\n",
	  D_MIXED, "unique, partial and expression indexes and a CHECK on the column" },
	{ "type_using", S_PLAIN, "ALTER TABLE t ALTER b TYPE int USING substr(b, 2)::int;\n",
	  D_PLAIN },
	{ "type_rich_table", S_RICH, "ALTER TABLE acct ALTER bal TYPE bigint;\n", D_RICH,
	  "default, statistics target, comment, column grant" },
	{ "type_partitioned", S_PART, "ALTER TABLE ev ALTER n TYPE bigint;\n", D_PART },
	{ "type_numeric_widen_schema", S_SCHEMA,
	  "ALTER TABLE \"App Schema\".\"Orders\" ALTER \"Total\" TYPE numeric(12,2);\n", D_SCHEMA,
	  "no rewrite in PostgreSQL" },
	{ "type_varchar_widen", S_PLAIN "ALTER TABLE t ALTER b TYPE varchar(26);\n",
	  "ALTER TABLE t ALTER b TYPE varchar;\n", D_PLAIN, "no rewrite in PostgreSQL" },
	{ "type_same_type", S_PLAIN, "ALTER TABLE t ALTER a TYPE int;\n", D_PLAIN,
	  "a no-op for PostgreSQL" },
	{ "type_and_drop_not_null", S_PLAIN "ALTER TABLE t ALTER a SET NOT NULL;\n",
	  "ALTER TABLE t ALTER a TYPE bigint, ALTER a DROP NOT NULL;\n", D_PLAIN },
};

START_TEST(test_case)
{
	eq_run(&cases[_i]);
}
END_TEST

Suite *equivalence_columns_suite(void)
{
	Suite *s = suite_create("equivalence_columns");
	TCase *tc = th_db_tcase("equivalence_columns");

	tcase_add_loop_test(tc, test_case, 0, sizeof(cases) / sizeof(cases[0]));
	suite_add_tcase(s, tc);
	return s;
}
