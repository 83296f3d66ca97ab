/*
 * The equivalence matrix (issue 14 item 5), shared by tests/check_equivalence*.c: each case
 * is a "before" schema with rows (setup, run by psql on two fresh databases) and a migration
 * file, applied by `psql -1` on one and by `pgphase migrate` (a one-file migrations
 * directory) on the other.  Both must exit 0 and end in the same schema snapshot
 * (th_assert_same_schema) and the same data in the columns that existed before (the case's
 * data query, run on both).  The runner is eq_run in tests/check_equivalence.c.
 *
 * A case that fails on current code keeps its place in the table with .known_bug set to a
 * short reason: the run then prints "KNOWN BUG: <case>: <reason>" with the exit status,
 * stderr and the snapshot diff to stderr instead of failing, and "STALE KNOWN BUG" when it
 * passes (the flag can go).  Deliberate, documented differences are in .note.
 *
 * Snapshots leave the column position out: a column pgphase recreates (rename, type change)
 * is appended at the end of the table where psql keeps its place; that difference is
 * deliberate and documented.
 */
#ifndef PGPHASE_TEST_EQUIVALENCE_H
#define PGPHASE_TEST_EQUIVALENCE_H

#include "harness.h"

struct eq_case {
	const char *name;
	const char *setup;     /* the schema before, with rows (psql, on both databases) */
	const char *migration; /* the file: psql -1 on one database, pgphase migrate on the other */
	const char *data;      /* one-value query over the pre-existing columns, or NULL */
	const char *note;      /* what the case shows, or a deliberate difference */
	const char *known_bug; /* why the case fails today (reported, not asserted), or NULL */
};

/* Run one case (in a test with the db fixture). */
void eq_run(const struct eq_case *c);

/* A digest of expr over the rows of from, independent of row order. */
#define EQ_DIGEST(expr, from)                                                                 \
	"SELECT md5(coalesce(string_agg((" expr ")::text, '|' ORDER BY (" expr ")::text),"    \
	" 'no rows')) || ' ' || count(*) FROM " from

/* ---- table shapes (DDL, then rows; required-column cases take the DDL alone) ---------- */

#define EQ_ROLE                                                                                \
	"DO $$ BEGIN CREATE ROLE eq_reader; EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n"

#define T_PLAIN "CREATE TABLE t (id int PRIMARY KEY, a int, b text);\n"
#define R_PLAIN "INSERT INTO t SELECT g, g % 10, 'r' || g FROM generate_series(1, 200) g;\n"
#define S_PLAIN T_PLAIN R_PLAIN
#define D_PLAIN EQ_DIGEST("ROW(id, a, b)", "t")

#define T_MIXED "CREATE TABLE \"MyTable\" (\"Id\" int PRIMARY KEY, \"Val\" int, \"Email\" text);\n"
#define R_MIXED                                                                                \
	"INSERT INTO \"MyTable\" SELECT g, g % 7, 'u' || g || '@x.org'"                        \
	" FROM generate_series(1, 200) g;\n"
#define S_MIXED T_MIXED R_MIXED
#define D_MIXED EQ_DIGEST("ROW(\"Id\", \"Val\", \"Email\")", "\"MyTable\"")

#define S_ODD                                                                                  \
	"CREATE TABLE \"my \"\"odd\"\" table\" (id int PRIMARY KEY, \"the value\" int,"        \
	" \"x y\" text);\n"                                                                    \
	"INSERT INTO \"my \"\"odd\"\" table\" SELECT g, g % 5, 'v' || g"                       \
	" FROM generate_series(1, 200) g;\n"
#define D_ODD EQ_DIGEST("ROW(id, \"the value\", \"x y\")", "\"my \"\"odd\"\" table\"")

#define S_UNI                                                                                  \
	"CREATE TABLE \"café\" (\"clé\" int PRIMARY KEY, \"naïve\" int, \"été\" text);\n"      \
	"INSERT INTO \"café\" SELECT g, g % 4, 'é' || g FROM generate_series(1, 200) g;\n"
#define D_UNI EQ_DIGEST("ROW(\"clé\", \"naïve\", \"été\")", "\"café\"")

#define T_SCHEMA                                                                               \
	"CREATE SCHEMA \"App Schema\";\n"                                                      \
	"CREATE TABLE \"App Schema\".\"Orders\" (\"Id\" bigint PRIMARY KEY, \"UserId\" int,"   \
	" \"Total\" numeric(10,2), note text);\n"
#define R_SCHEMA                                                                               \
	"INSERT INTO \"App Schema\".\"Orders\" SELECT g, g % 20, g * 1.5, 'n' || g"            \
	" FROM generate_series(1, 200) g;\n"
#define S_SCHEMA T_SCHEMA R_SCHEMA
#define D_SCHEMA EQ_DIGEST("ROW(\"Id\", \"UserId\", \"Total\", note)", "\"App Schema\".\"Orders\"")

#define S_COMPOSITE                                                                            \
	"CREATE TABLE lines (order_id int, line_no int, qty int, sku text,"                    \
	" PRIMARY KEY (order_id, line_no));\n"                                                 \
	"INSERT INTO lines SELECT o, l, o + l, 's' || l FROM generate_series(1, 40) o,"        \
	" generate_series(1, 5) l;\n"
#define D_COMPOSITE EQ_DIGEST("ROW(order_id, line_no, qty, sku)", "lines")

#define T_PART                                                                                 \
	"CREATE TABLE ev (id int, at date, kind text, n int, PRIMARY KEY (id, at))"            \
	" PARTITION BY RANGE (at);\n"                                                          \
	"CREATE TABLE ev_2023 PARTITION OF ev FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');\n" \
	"CREATE TABLE ev_2024 PARTITION OF ev FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');\n"
#define R_PART                                                                                 \
	"INSERT INTO ev SELECT g, date '2023-06-01' + g * 2, chr(97 + g % 3), g"               \
	" FROM generate_series(1, 200) g;\n"
#define S_PART T_PART R_PART
#define D_PART EQ_DIGEST("ROW(id, at, kind, n)", "ev")

#define S_FK                                                                                   \
	"CREATE TABLE users (id int PRIMARY KEY, email text);\n"                               \
	"CREATE TABLE orders (id int PRIMARY KEY, user_id int, amount int);\n"                 \
	"INSERT INTO users SELECT g, 'u' || g FROM generate_series(1, 50) g;\n"                \
	"INSERT INTO orders SELECT g, 1 + g % 50, g FROM generate_series(1, 200) g;\n"
#define S_FK_ON S_FK "ALTER TABLE orders ADD FOREIGN KEY (user_id) REFERENCES users;\n"
#define D_FK                                                                                   \
	"SELECT (" EQ_DIGEST("ROW(id, email)", "users") ") || (" EQ_DIGEST(                     \
		"ROW(id, user_id, amount)", "orders") ")"

/* A table with everything hanging on it: identity, collation, statistics target, index,
 * view, trigger, RLS policy, table and column grants, comments. */
#define S_RICH                                                                                 \
	EQ_ROLE                                                                                \
	"CREATE TABLE acct (id int GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"              \
	" owner text COLLATE \"C\", bal int DEFAULT 0, note text);\n"                          \
	"ALTER TABLE acct ALTER bal SET STATISTICS 300;\n"                                     \
	"CREATE INDEX acct_owner ON acct (owner);\n"                                           \
	"CREATE VIEW acct_v AS SELECT id, owner FROM acct;\n"                                  \
	"CREATE FUNCTION acct_touch() RETURNS trigger LANGUAGE plpgsql AS"                     \
	" $$ BEGIN RETURN NEW; END $$;\n"                                                      \
	"CREATE TRIGGER acct_t BEFORE UPDATE ON acct FOR EACH ROW"                              \
	" EXECUTE FUNCTION acct_touch();\n"                                                    \
	"ALTER TABLE acct ENABLE ROW LEVEL SECURITY;\n"                                        \
	"CREATE POLICY acct_own ON acct USING (owner = current_user);\n"                       \
	"GRANT SELECT, UPDATE (note, bal) ON acct TO eq_reader;\n"                             \
	"COMMENT ON TABLE acct IS 'accounts';\n"                                               \
	"COMMENT ON COLUMN acct.bal IS 'balance';\n"                                           \
	"COMMENT ON COLUMN acct.note IS 'free text';\n"                                        \
	"INSERT INTO acct (owner, bal, note) SELECT 'o' || g, g, 'n' || g"                     \
	" FROM generate_series(1, 200) g;\n"
#define D_RICH EQ_DIGEST("ROW(id, owner, bal, note)", "acct")

#endif
