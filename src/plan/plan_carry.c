/*
 * Carrying what hangs on a column over to the column that replaces it, for the two column
 * strategies (rename-column-via-sync-trigger, change-column-type-via-shadow-column), so the
 * end schema is the one `psql -1` gives running the statement as written: same index and
 * constraint names and definitions (naming the new column), validity, NOT NULL, default,
 * collation, comment, column privileges, statistics target and options, owned sequences.
 *
 * This file asks the catalog (pg_depend, pg_index, pg_constraint, pg_attribute,
 * pg_description) what depends on the column, and says when something cannot be carried
 * without downtime or exactly (plan_carry_blocker: the strategy then does not match and the
 * statement runs as written).  The SQL that recreates each piece is built by
 * src/plan/plan_carry_sql.c from the server's own definitions (pg_get_indexdef,
 * pg_get_constraintdef), parsed and with the column reference replaced in the tree.
 *
 * Offline (no session) nothing is known: no blocker, nothing carried but what the migrations
 * say of NOT NULL and the default.  A table the database does not have yet (created by an
 * earlier migration of this run) is a blocker: what hangs on its columns is not known, and
 * as written is exact.  So is a column that an object an earlier statement of the run creates
 * uses (an index, a view, a constraint, ...: the model's plan_state_dependent), online and
 * offline: the catalog does not show that object yet.
 *
 * Everything lives in the plan's arena.
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "plan/plan_carry.h"

/*
 * The first reason the column's dependents cannot be carried ($1 table, $2 column), by
 * priority.  Carried: plain indexes, CHECK / FOREIGN KEY / PRIMARY KEY / UNIQUE constraints
 * of plain tables (not inherited), the column's own default and owned sequences.  Anything
 * else that depends on the column (views, triggers, policies, statistics objects,
 * publications, generation expressions, SQL function bodies, exclusion constraints) is named
 * by pg_describe_object.
 */
static const char *const SQL_BLOCKERS =
	"WITH col AS ("
	" SELECT c.oid AS rel, c.relkind, c.relreplident, c.relispartition, a.attnum,"
	"        a.attidentity, a.attgenerated"
	"   FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid"
	"  WHERE c.oid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0"
	"    AND NOT a.attisdropped)"
	" SELECT r FROM ("
	" SELECT 1 AS o, 'it is an identity column' AS r FROM col WHERE attidentity <> ''"
	" UNION ALL SELECT 2, 'it is a generated column' FROM col WHERE attgenerated <> ''"
	" UNION ALL SELECT 3, 'the table is partitioned' FROM col WHERE relkind = 'p'"
	" UNION ALL SELECT 4, 'the table is a partition' FROM col WHERE relispartition"
	" UNION ALL SELECT 5, 'the table is not a plain table' FROM col WHERE relkind <> 'r'"
	" UNION ALL SELECT 6, 'the table takes part in inheritance' FROM col"
	"  WHERE EXISTS (SELECT 1 FROM pg_inherits WHERE inhrelid = rel OR inhparent = rel)"
	" UNION ALL SELECT 7, 'the replica identity index uses it' FROM col"
	"  WHERE relreplident = 'i' AND EXISTS (SELECT 1 FROM pg_index i"
	"   WHERE i.indrelid = rel AND i.indisreplident AND (attnum = ANY (i.indkey)"
	"    OR EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass"
	"     AND d.objid = i.indexrelid AND d.refobjid = rel AND d.refobjsubid = attnum)))"
	" UNION ALL SELECT 8, format('%s depends on it',"
	"                  pg_describe_object(d.classid, d.objid, d.objsubid))"
	"   FROM col JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass"
	"    AND d.refobjid = rel AND d.refobjsubid = attnum"
	"  WHERE d.deptype <> 'i' AND NOT ("
	/* a plain index of the table */
	"   (d.classid = 'pg_class'::regclass AND EXISTS (SELECT 1 FROM pg_index i"
	"     WHERE i.indexrelid = d.objid AND i.indrelid = rel))"
	/* a sequence the column owns (serial) */
	"   OR (d.classid = 'pg_class'::regclass AND d.deptype = 'a' AND EXISTS (SELECT 1"
	"     FROM pg_class s WHERE s.oid = d.objid AND s.relkind = 'S'))"
	/* the column's own default */
	"   OR (d.classid = 'pg_attrdef'::regclass AND EXISTS (SELECT 1 FROM pg_attrdef ad"
	"     WHERE ad.oid = d.objid AND ad.adrelid = rel AND ad.adnum = attnum))"
	/* a constraint of a plain table that is not inherited */
	"   OR (d.classid = 'pg_constraint'::regclass AND EXISTS (SELECT 1"
	"     FROM pg_constraint k JOIN pg_class kr ON kr.oid = k.conrelid"
	"     WHERE k.oid = d.objid AND k.contype IN ('c', 'f', 'p', 'u') AND k.conparentid = 0"
	"       AND k.coninhcount = 0 AND kr.relkind = 'r' AND NOT kr.relispartition"
	"       AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = kr.oid"
	"                          OR h.inhparent = kr.oid))))"
	" ) b ORDER BY o LIMIT 1";

/* The column: NOT NULL, collation when not its type's, comment (a literal), statistics
 * target, storage and compression when not the type's defaults. */
static const char *const SQL_COLUMN =
	"SELECT a.attnotnull, CASE WHEN a.attcollation <> t.typcollation THEN cn.nspname END,"
	"       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,"
	"       quote_literal(col_description(a.attrelid, a.attnum)), a.attstattarget,"
	"       CASE a.attstorage WHEN t.typstorage THEN NULL WHEN 'p' THEN 'PLAIN'"
	"            WHEN 'e' THEN 'EXTERNAL' WHEN 'm' THEN 'MAIN' ELSE 'EXTENDED' END,"
	"       CASE a.attcompression WHEN 'p' THEN 'pglz' WHEN 'l' THEN 'lz4' END"
	"  FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
	"  LEFT JOIN pg_collation co ON co.oid = a.attcollation"
	"  LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0"
	"   AND NOT a.attisdropped";

/* Column options (n_distinct, ...) as name and a literal value. */
static const char *const SQL_OPTIONS =
	"SELECT o.option_name, quote_literal(o.option_value)"
	"  FROM pg_attribute a, pg_options_to_table(a.attoptions) o"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2 ORDER BY 1";

/* Column privileges, in ACL order (PUBLIC is grantee 0). */
static const char *const SQL_GRANTS =
	"SELECT CASE WHEN x.grantee = 0 THEN NULL ELSE pg_get_userbyid(x.grantee) END,"
	"       x.privilege_type, x.is_grantable"
	"  FROM pg_attribute a, aclexplode(a.attacl) WITH ORDINALITY x"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2 ORDER BY x.ordinality";

/* Sequences the column owns (serial): ALTER SEQUENCE ... OWNED BY the new column. */
static const char *const SQL_SEQUENCES =
	"SELECT n.nspname, s.relname"
	"  FROM pg_attribute a"
	"  JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid"
	"   AND d.refobjsubid = a.attnum AND d.classid = 'pg_class'::regclass AND d.deptype = 'a'"
	"  JOIN pg_class s ON s.oid = d.objid AND s.relkind = 'S'"
	"  JOIN pg_namespace n ON n.oid = s.relnamespace"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2 ORDER BY 1, 2";

/* Plain indexes (not behind a constraint) that use the column: key, expression or
 * predicate.  Schema, name, definition, clustered, comment. */
static const char *const SQL_INDEXES =
	"SELECT n.nspname, ic.relname, pg_get_indexdef(i.indexrelid), i.indisclustered,"
	"       quote_literal(obj_description(i.indexrelid, 'pg_class'))"
	"  FROM pg_attribute a JOIN pg_index i ON i.indrelid = a.attrelid"
	"  JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_namespace n ON n.oid = ic.relnamespace"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2"
	"   AND (a.attnum = ANY (i.indkey) OR EXISTS (SELECT 1 FROM pg_depend d"
	"        WHERE d.classid = 'pg_class'::regclass AND d.objid = i.indexrelid"
	"          AND d.refobjid = a.attrelid AND d.refobjsubid = a.attnum))"
	"   AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid"
	"                      AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))"
	" ORDER BY ic.relname";

/*
 * Constraints using the column on its table (conkey) or referencing it (confkey: foreign
 * keys of this or other tables), keys first (incoming foreign keys need the new unique
 * index).  Own table's schema and name, constraint name, type, definition, validated,
 * deferrable, deferred, comment, the key's index definition, whether conkey / confkey name
 * the column.
 */
static const char *const SQL_CONSTRAINTS =
	"SELECT n.nspname, r.relname, k.conname, k.contype, pg_get_constraintdef(k.oid),"
	"       k.convalidated, k.condeferrable, k.condeferred,"
	"       quote_literal(obj_description(k.oid, 'pg_constraint')),"
	"       CASE WHEN k.contype IN ('p', 'u') THEN pg_get_indexdef(k.conindid) END,"
	"       k.conrelid = a.attrelid AND a.attnum = ANY (k.conkey),"
	"       k.confrelid = a.attrelid AND a.attnum = ANY (k.confkey),"
	"       (SELECT ix.indisclustered FROM pg_index ix WHERE ix.indexrelid = k.conindid"
	"          AND k.contype IN ('p', 'u'))"
	"  FROM pg_attribute a"
	"  JOIN pg_constraint k ON (k.conrelid = a.attrelid AND a.attnum = ANY (k.conkey))"
	"                       OR (k.confrelid = a.attrelid AND a.attnum = ANY (k.confkey))"
	"  JOIN pg_class r ON r.oid = k.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2"
	" ORDER BY k.contype NOT IN ('p', 'u'), n.nspname, r.relname, k.conname";

/* A question about the column ($1 the table, $2 the column); NULL: not known. */
static PGresult *ask(struct plan_ctx *ctx, const char *sql, const PgQuery__RangeVar *rv,
		     const char *column)
{
	const char *params[2] = { sql_rel(ctx, rv), column };

	return plan_ask(ctx, sql, 2, params);
}

static char *value(struct plan_ctx *ctx, const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : arena_strdup(ctx->arena, PQgetvalue(r, row, col));
}

static bool flag(const PGresult *r, int row, int col)
{
	return !PQgetisnull(r, row, col) && strcmp(PQgetvalue(r, row, col), "t") == 0;
}

/* Does the table exist in the database?  (false offline) */
static bool table_known(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	PGresult *r = ask(ctx, "SELECT to_regclass($1) IS NOT NULL, $2::text", rv, "");
	bool known = r && PQntuples(r) == 1 && flag(r, 0, 0);

	PQclear(r);
	return known;
}

const char *plan_carry_blocker(struct plan_ctx *ctx, const PgQuery__RangeVar *rv,
			       const char *column)
{
	struct plan_state *st = plan_state_at(ctx, ctx->pos);
	const struct plan_state_rel *m = plan_state_rel(st, rv);
	const struct plan_state_col *c = plan_state_col(st, m, column);
	PGresult *r;
	const char *why = plan_state_dependent(m, column, c ? c->catalog : NULL);

	if (why)
		/* not in the catalog yet: the carry would lose it */
		return arena_printf(ctx->arena, "%s uses the column", why);
	if (!ctx->opts.session)
		return NULL;
	if (!table_known(ctx, rv))
		return "the table is not in the database yet (an earlier migration creates it), so "
		       "what depends on the column is not known";
	r = ask(ctx, SQL_BLOCKERS, rv, column);
	if (r && PQntuples(r) > 0)
		why = value(ctx, r, 0, 0);
	PQclear(r);
	return why;
}

/* Another sub-command of the same ALTER TABLE on the column: DROP NOT NULL and DROP DEFAULT
 * are modelled (they run as written on the old column in expand); anything else blocks. */
const char *plan_carry_sibling_blocker(const struct strategy_input *in, const char *column)
{
	const PgQuery__Node *whole = in->stmt->node;
	const PgQuery__AlterTableStmt *at;
	int n_type = 0;

	if (whole->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
		return NULL;
	at = whole->alter_table_stmt;
	for (size_t i = 0; i < at->n_cmds; i++) {
		const PgQuery__AlterTableCmd *c = at->cmds[i]->alter_table_cmd;

		if (at->cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD || !c->name ||
		    strcmp(c->name, column) != 0)
			continue;
		switch (c->subtype) {
		case PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull:
			break;
		case PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault:
			/* a new default runs on the old column, maybe not of its type */
			if (!c->def)
				break;
			return "a new default for the column in the same statement";
		case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType:
			if (n_type++ == 0)
				break;
			/* fall through */
		default:
			return "another change to the column in the same statement";
		}
	}
	return NULL;
}

/* DROP NOT NULL / DROP DEFAULT on the column in the same statement. */
static void apply_siblings(struct plan_carry *c, const struct strategy_input *in)
{
	const PgQuery__Node *whole = in->stmt->node;

	if (whole->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
		return;
	for (size_t i = 0; i < whole->alter_table_stmt->n_cmds; i++) {
		const PgQuery__Node *n = whole->alter_table_stmt->cmds[i];
		const PgQuery__AlterTableCmd *k = n->alter_table_cmd;

		if (n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD || !k->name ||
		    strcmp(k->name, c->column) != 0)
			continue;
		if (k->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_DropNotNull)
			c->not_null = false;
		else if (k->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_ColumnDefault)
			c->dflt = NULL; /* DROP DEFAULT (SET DEFAULT blocks) */
	}
}

static void load_column(struct plan_ctx *ctx, struct plan_carry *c)
{
	PGresult *r = ask(ctx, SQL_COLUMN, c->rv, c->column);

	if (r && PQntuples(r) == 1) {
		if (!c->retype && !PQgetisnull(r, 0, 1))
			c->collate = arena_printf(ctx->arena, " COLLATE %s.%s",
						  sql_ident(ctx, PQgetvalue(r, 0, 1)),
						  sql_ident(ctx, PQgetvalue(r, 0, 2)));
		c->comment = value(ctx, r, 0, 3);
		c->stattarget = atoi(PQgetvalue(r, 0, 4));
		/* a type change resets storage and compression to the new type's */
		if (!c->retype) {
			c->storage = value(ctx, r, 0, 5);
			c->compression = value(ctx, r, 0, 6);
		}
	}
	PQclear(r);
	r = ask(ctx, SQL_OPTIONS, c->rv, c->column);
	for (int i = 0; r && i < PQntuples(r); i++)
		c->options = arena_printf(ctx->arena, "%s%s%s = %s",
					  c->options ? c->options : "", c->options ? ", " : "",
					  sql_ident(ctx, PQgetvalue(r, i, 0)), PQgetvalue(r, i, 1));
	PQclear(r);
}

static void load_grants(struct plan_ctx *ctx, struct plan_carry *c)
{
	PGresult *r = ask(ctx, SQL_GRANTS, c->rv, c->column);
	int n = r ? PQntuples(r) : 0;

	c->grants = arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof(*c->grants));
	for (int i = 0; i < n; i++) {
		struct plan_carry_grant *g = &c->grants[c->n_grants++];

		g->grantee = value(ctx, r, i, 0);
		g->privilege = value(ctx, r, i, 1);
		g->grantable = flag(r, i, 2);
	}
	PQclear(r);
}

static void load_sequences(struct plan_ctx *ctx, struct plan_carry *c)
{
	PGresult *r = ask(ctx, SQL_SEQUENCES, c->rv, c->column);
	int n = r ? PQntuples(r) : 0;

	c->sequences = arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof(*c->sequences));
	for (int i = 0; i < n; i++)
		c->sequences[c->n_sequences++] = arena_printf(ctx->arena, "%s.%s",
							      sql_ident(ctx, PQgetvalue(r, i, 0)),
							      sql_ident(ctx, PQgetvalue(r, i, 1)));
	PQclear(r);
}

static void load_indexes(struct plan_ctx *ctx, struct plan_carry *c)
{
	PGresult *r = ask(ctx, SQL_INDEXES, c->rv, c->column);
	int n = r ? PQntuples(r) : 0;

	c->indexes = arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof(*c->indexes));
	for (int i = 0; i < n; i++) {
		struct plan_carry_index *x = &c->indexes[c->n_indexes++];

		x->schema = value(ctx, r, i, 0);
		x->name = value(ctx, r, i, 1);
		x->def = value(ctx, r, i, 2);
		x->clustered = flag(r, i, 3);
		x->comment = value(ctx, r, i, 4);
	}
	PQclear(r);
}

static void load_constraints(struct plan_ctx *ctx, struct plan_carry *c)
{
	PGresult *r = ask(ctx, SQL_CONSTRAINTS, c->rv, c->column);
	int n = r ? PQntuples(r) : 0;

	c->constraints = arena_alloc(ctx->arena, (size_t)(n ? n : 1) * sizeof(*c->constraints));
	for (int i = 0; i < n; i++) {
		struct plan_carry_constraint *k = &c->constraints[c->n_constraints++];

		k->schema = value(ctx, r, i, 0);
		k->table = value(ctx, r, i, 1);
		k->name = value(ctx, r, i, 2);
		k->type = PQgetvalue(r, i, 3)[0];
		k->def = value(ctx, r, i, 4);
		k->validated = flag(r, i, 5);
		k->deferrable = flag(r, i, 6);
		k->deferred = flag(r, i, 7);
		k->comment = value(ctx, r, i, 8);
		k->index_def = value(ctx, r, i, 9);
		k->uses = flag(r, i, 10);
		k->references = flag(r, i, 11);
		k->clustered = flag(r, i, 12);
	}
	PQclear(r);
}

struct plan_carry *plan_carry_load(struct plan_ctx *ctx, const struct strategy_input *in,
				   const PgQuery__RangeVar *rv, const char *column,
				   const char *new_column, const char *final_column,
				   const PgQuery__ColumnDef *retype)
{
	struct plan_carry *c = arena_alloc(ctx->arena, sizeof(*c));
	struct plan_column info;

	memset(c, 0, sizeof(*c));
	c->rv = rv;
	c->column = column;
	c->new_column = new_column;
	c->final_column = final_column;
	c->retype = retype != NULL;
	c->collate = "";
	c->stattarget = -1;
	if (plan_column_info(ctx, rv, column, &info)) {
		c->type = info.type;
		c->not_null = info.not_null;
		c->dflt = info.dflt;
	}
	/* ALTER TYPE without COLLATE gives the new type's default collation, as ADD COLUMN */
	if (retype && retype->coll_clause) {
		const PgQuery__CollateClause *cc = retype->coll_clause;

		c->collate = " COLLATE ";
		for (size_t i = 0; i < cc->n_collname; i++)
			c->collate = arena_printf(ctx->arena, "%s%s%s", c->collate, i ? "." : "",
						  sql_ident(ctx, sql_str(cc->collname[i])));
	}
	if (retype)
		apply_siblings(c, in);
	load_column(ctx, c);
	load_grants(ctx, c);
	load_sequences(ctx, c);
	load_indexes(ctx, c);
	load_constraints(ctx, c);
	return c;
}
