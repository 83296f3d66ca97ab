/*
 * Catalog questions the strategies ask: a table's key (from the migrations only: the catalog's
 * is the backfill engine's, pgphase_backfill_key), a column's type, the views that
 * depend on a column, whether a type change is binary-coercible, whether an expression is
 * volatile.  Online, the database answers; tables that earlier migrations of the directory
 * create (maybe not applied yet: everything is planned before the first change) are answered
 * from their CREATE TABLE / ADD COLUMN statements.  Offline, only the migrations answer.
 *
 * Answers live in the plan's arena; the index of CREATE TABLE statements is a cache on the
 * migration (malloc'd, freed with it).
 */
#include <stdlib.h>
#include <string.h>

#include "base/db.h"
#include "plan/plan_int.h"
#include "base/util.h"

/*
 * The column's type as SQL text (format_type is made to be read back by the parser), NOT
 * NULL, and its default expression (pg_get_expr, also made to be parsed; not for generated
 * columns, whose expression is no default).
 */
static const char *const SQL_COLUMN_INFO =
	"SELECT format_type(a.atttypid, a.atttypmod), a.attnotnull,"
	"       CASE WHEN a.attgenerated = '' THEN pg_get_expr(d.adbin, d.adrelid) END"
	"  FROM pg_attribute a"
	"  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2 AND a.attnum > 0"
	"   AND NOT a.attisdropped";

/* Read a default expression back: the parser gives its node. */
static const char *const SQL_EXPR_TMPL = "SELECT %s";

/* Read a type back from format_type() text: the parser gives its TypeName. */
static const char *const SQL_TYPE_CAST_TMPL = "SELECT NULL::%s";

/* Views whose rewrite rules reference the column ($1 table, $2 column). */
static const char *const SQL_DEPENDENT_VIEWS =
	"SELECT string_agg(DISTINCT v.oid::regclass::text, ', ')"
	"  FROM pg_attribute a"
	"  JOIN pg_depend d ON d.refclassid = 'pg_class'::regclass AND d.refobjid = a.attrelid"
	"                  AND d.refobjsubid = a.attnum AND d.classid = 'pg_rewrite'::regclass"
	"  JOIN pg_rewrite r ON r.oid = d.objid"
	"  JOIN pg_class v ON v.oid = r.ev_class AND v.oid <> a.attrelid"
	" WHERE a.attrelid = to_regclass($1) AND a.attname = $2";

/* Source column type and typmod, and whether a binary-coercible cast to $3 exists. */
static const char *const SQL_COERCIBLE =
	"SELECT a.atttypid = $3::oid, a.atttypmod,"
	"       EXISTS (SELECT 1 FROM pg_cast c WHERE c.castsource = a.atttypid"
	"                  AND c.casttarget = $3::oid AND c.castmethod = 'b'),"
	"       format_type($3::oid, NULL)"
	"  FROM pg_attribute a WHERE a.attrelid = to_regclass($1) AND a.attname = $2";

/* Is any function of this name volatile?  NULL when no function has the name. */
static const char *const SQL_VOLATILE = "SELECT bool_or(provolatile = 'v') FROM pg_proc WHERE proname = $1";

/* Type oid of a type name, via a deparsed cast of NULL; the second column's typmod (PQfmod)
 * is the one the type name gives. */
static const char *const SQL_TYPE_OID_TMPL =
	"SELECT pg_typeof(CAST(NULL AS pgphase_type_t))::oid, CAST(NULL AS pgphase_type_t)";

static PGresult *ask(struct plan_ctx *ctx, const char *sql, int n, const char *const *params)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	PGresult *r;

	if (!ctx->opts.session)
		return NULL;
	r = db_query(ctx->opts.session, sql, n, params, PGRES_TUPLES_OK, &e);
	pgphase_error_release(&e); /* an unanswered question falls back to the migrations */
	return r;
}

/*
 * Index of the CREATE TABLE (and CREATE TABLE AS) statements the planner may ask about: this
 * migration's and earlier migrations', sorted by table name and then newest first.  Built
 * once per migration (the linter asks for every statement of a 20,000-statement file) and
 * kept on the migration, which frees it.
 */
struct create_entry {
	const char *relname;
	size_t rank;                 /* 0 = newest: this migration's last statement */
	size_t index;                /* statement index in this migration, when current */
	bool current, ctas;
	const PgQuery__RangeVar *rel;
	const PgQuery__CreateStmt *cs; /* NULL for CREATE TABLE AS */
};

struct create_index {
	const struct pgphase_migration_set *set; /* the set it was built with */
	struct create_entry *e;
	size_t n, cap;
};

static void create_index_free(void *p)
{
	struct create_index *ix = p;

	if (!ix)
		return;
	free(ix->e);
	free(ix);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct create_entry *x = a, *y = b;
	int c = strcmp(x->relname, y->relname);

	return c ? c : (x->rank > y->rank) - (x->rank < y->rank);
}

static void index_sql(struct create_index *ix, const struct pgphase_sql *sql, bool current,
		      size_t *rank)
{
	for (size_t i = sql->n; i-- > 0;) {
		const PgQuery__Node *n = sql->stmts[i].node;
		struct create_entry e = { 0 };

		if (n->node_case == PG_QUERY__NODE__NODE_CREATE_STMT) {
			e.rel = n->create_stmt->relation;
			e.cs = n->create_stmt;
		} else if (current && n->node_case == PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT &&
			   n->create_table_as_stmt->into) {
			e.rel = n->create_table_as_stmt->into->rel;
			e.ctas = true;
		} else {
			(*rank)++;
			continue;
		}
		e.relname = e.rel->relname;
		e.rank = (*rank)++;
		e.index = i;
		e.current = current;
		GROW(ix->e, ix->cap, ix->n + 1);
		ix->e[ix->n++] = e;
	}
}

static struct create_index *creates(struct plan_ctx *ctx)
{
	/* the index is a cache on the migration: logically const */
	struct pgphase_migration *m = (struct pgphase_migration *)ctx->m;
	const struct pgphase_migration_set *set = ctx->opts.set;
	struct create_index *ix = m->plan_index;
	size_t rank = 0;

	if (ix && ix->set == set)
		return ix;
	create_index_free(ix);
	ix = xcalloc(1, sizeof(*ix));
	ix->set = set;
	index_sql(ix, &m->up.sql, true, &rank);
	for (size_t i = set ? set->n : 0; i-- > 0;) {
		struct pgphase_migration *o = &set->items[i];
		struct pgphase_error e = PGPHASE_ERROR_INIT;

		if (o->version < m->version && pgphase_migration_parse(o, &e) == 0)
			index_sql(ix, &o->up.sql, false, &rank);
		pgphase_error_release(&e);
	}
	if (ix->n)
		qsort(ix->e, ix->n, sizeof(*ix->e), cmp_entry);
	m->plan_index = ix;
	m->plan_index_free = create_index_free;
	return ix;
}

/* First entry for relname (entries of one name are contiguous), or NULL. */
static const struct create_entry *first_named(const struct create_index *ix, const char *relname,
					      const struct create_entry **end)
{
	size_t lo = 0, hi = ix->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(ix->e[mid].relname, relname) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (hi = lo; hi < ix->n && strcmp(ix->e[hi].relname, relname) == 0; hi++)
		;
	*end = ix->e + hi;
	return lo < hi ? ix->e + lo : NULL;
}

static bool same_rel(const PgQuery__RangeVar *a, const PgQuery__RangeVar *b)
{
	/* an unqualified name may mean the qualified one: treat them as the same table */
	return !a->schemaname[0] || !b->schemaname[0] || strcmp(a->schemaname, b->schemaname) == 0;
}

bool plan_is_new_table(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, size_t before)
{
	const struct create_entry *e, *end;

	if (!rv)
		return false;
	for (e = first_named(creates(ctx), rv->relname, &end); e && e < end; e++)
		if (e->current && e->index < before && same_rel(e->rel, rv))
			return true;
	return false;
}

/* The newest CREATE TABLE for rv: this migration, then earlier ones. */
static const PgQuery__CreateStmt *find_create(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	const struct create_entry *e, *end;

	for (e = first_named(creates(ctx), rv->relname, &end); e && e < end; e++)
		if (e->cs)
			return e->cs;
	return NULL;
}

static char **key_from_create(struct plan_ctx *ctx, const PgQuery__CreateStmt *cs)
{
	for (size_t i = 0; i < cs->n_table_elts; i++) {
		const PgQuery__Node *e = cs->table_elts[i];

		if (e->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
		    e->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) {
			size_t n = e->constraint->n_keys;
			char **key = arena_alloc(ctx->arena, (n + 1) * sizeof(*key));

			for (size_t k = 0; k < n; k++)
				key[k] = arena_strdup(ctx->arena, sql_str(e->constraint->keys[k]));
			key[n] = NULL;
			return key;
		}
		if (e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			for (size_t c = 0; c < e->column_def->n_constraints; c++)
				if (e->column_def->constraints[c]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
				    e->column_def->constraints[c]->constraint->contype ==
					    PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) {
					char **key = arena_alloc(ctx->arena, 2 * sizeof(*key));

					key[0] = arena_strdup(ctx->arena, e->column_def->colname);
					key[1] = NULL;
					return key;
				}
	}
	return NULL;
}

char **plan_table_key(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	const PgQuery__CreateStmt *cs;
	char **key = NULL;

	/* the catalog's answer is the backfill engine's (pgphase_backfill_key): this is the
	   model's, for offline plans and tables an earlier migration creates */
	if (ctx->opts.key) {
		/* --key a,b overrides whatever the migrations say */
		char *copy = arena_strdup(ctx->arena, ctx->opts.key), *save = NULL;
		size_t n = 0;

		key = arena_alloc(ctx->arena, (strlen(copy) + 2) * sizeof(*key));
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
			key[n++] = tok; /* copy is the key's own, in the arena */
		key[n] = NULL;
		return key;
	}
	cs = find_create(ctx, rv);
	return cs ? key_from_create(ctx, cs) : NULL;
}

static bool info_from_migrations(struct plan_ctx *ctx, const PgQuery__RangeVar *rv,
				 const char *column, struct plan_column *out)
{
	const PgQuery__CreateStmt *cs = find_create(ctx, rv);

	for (size_t i = 0; cs && i < cs->n_table_elts; i++) {
		const PgQuery__ColumnDef *cd;

		if (cs->table_elts[i]->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF ||
		    strcmp(cs->table_elts[i]->column_def->colname, column) != 0)
			continue;
		cd = cs->table_elts[i]->column_def;
		out->type = cd->type_name;
		out->not_null = cd->is_not_null;
		for (size_t k = 0; k < cd->n_constraints; k++) {
			const PgQuery__Constraint *c = cd->constraints[k]->constraint;

			if (cd->constraints[k]->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
				continue;
			if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL ||
			    c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
				out->not_null = true;
			if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT)
				out->dflt = c->raw_expr;
		}
		return true;
	}
	return false;
}

/* The first target of "SELECT <text>" parsed with fmt, or NULL. */
static const PgQuery__Node *parse_target(struct plan_ctx *ctx, const char *fmt, const char *text)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	const PgQuery__Node *n = plan_parse_node(ctx, arena_printf(ctx->arena, fmt, text), &e);
	const PgQuery__Node *v = NULL;

	if (n && n->node_case == PG_QUERY__NODE__NODE_SELECT_STMT && n->select_stmt->n_target_list == 1)
		v = n->select_stmt->target_list[0]->res_target->val;
	pgphase_error_release(&e);
	return v;
}

bool plan_column_info(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
		      struct plan_column *out)
{
	const char *params[2] = { sql_rel(ctx, rv), column };
	PGresult *r = ask(ctx, SQL_COLUMN_INFO, 2, params);
	bool found = false;

	memset(out, 0, sizeof(*out));
	if (r && PQntuples(r) > 0) {
		const PgQuery__Node *v = parse_target(ctx, SQL_TYPE_CAST_TMPL, PQgetvalue(r, 0, 0));

		if (v && v->node_case == PG_QUERY__NODE__NODE_TYPE_CAST)
			out->type = v->type_cast->type_name;
		out->not_null = strcmp(PQgetvalue(r, 0, 1), "t") == 0;
		if (!PQgetisnull(r, 0, 2))
			out->dflt = parse_target(ctx, SQL_EXPR_TMPL, PQgetvalue(r, 0, 2));
		found = out->type != NULL;
	}
	PQclear(r);
	return found || info_from_migrations(ctx, rv, column, out);
}

char *plan_dependent_views(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column)
{
	const char *params[2] = { sql_rel(ctx, rv), column };
	PGresult *r = ask(ctx, SQL_DEPENDENT_VIEWS, 2, params);
	char *out = NULL;

	if (r && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		out = arena_strdup(ctx->arena, PQgetvalue(r, 0, 0));
	PQclear(r);
	return out;
}

/*
 * Does changing a column's typmod from old to new (same type, named as format_type names it)
 * need no rewrite?  PostgreSQL skips the length coercion, and so the rewrite, when the new
 * typmod is unconstrained (-1) or the type's length-coercion support function calls the
 * change a no-op: longer varchar / bit varying, numeric with more precision and the same
 * scale, more fractional seconds for time and timestamp types.
 */
static bool typmod_change_free(const char *type, long old, long new)
{
	if (new == old || new == -1)
		return true;
	if (old == -1)
		return false; /* an unconstrained value may not fit */
	if (strcmp(type, "character varying") == 0 || strcmp(type, "bit varying") == 0 ||
	    strcmp(type, "timestamp without time zone") == 0 ||
	    strcmp(type, "timestamp with time zone") == 0 ||
	    strcmp(type, "time without time zone") == 0 || strcmp(type, "time with time zone") == 0)
		return new >= old;
	if (strcmp(type, "numeric") == 0)
		/* typmod = ((precision << 16) | scale) + VARHDRSZ */
		return ((old - 4) & 0xffff) == ((new - 4) & 0xffff) &&
		       ((new - 4) >> 16) >= ((old - 4) >> 16);
	return false;
}

bool plan_binary_coercible(struct plan_ctx *ctx, const PgQuery__RangeVar *rv, const char *column,
			   const PgQuery__TypeName *tn)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	struct sql_graft g = { "t", NULL, tn };
	char *q = sql_render(ctx, SQL_TYPE_OID_TMPL, &g, 1, &e), *rel = sql_rel(ctx, rv);
	PGresult *r = q ? ask(ctx, q, 0, NULL) : NULL;
	bool ok = false;

	pgphase_error_release(&e);
	if (r && PQntuples(r) == 1) {
		const char *oid = PQgetvalue(r, 0, 0); /* r is cleared after c */
		const char *params[3] = { rel, column, oid };
		long newmod = PQfmod(r, 1); /* the typmod the cast gives */
		PGresult *c = ask(ctx, SQL_COERCIBLE, 3, params);

		if (c && PQntuples(c) == 1) {
			bool same = strcmp(PQgetvalue(c, 0, 0), "t") == 0;
			long srcmod = atol(PQgetvalue(c, 0, 1));
			bool cast_b = strcmp(PQgetvalue(c, 0, 2), "t") == 0;
			const char *dst = PQgetvalue(c, 0, 3);

			if (same)
				ok = typmod_change_free(dst, srcmod, newmod);
			else
				/* another type: a binary cast and no length coercion after it */
				ok = cast_b && newmod == -1;
		}
		PQclear(c);
	}
	PQclear(r);
	return ok;
}

struct vol {
	struct plan_ctx *ctx;
	bool found;
};

/* Without a catalog answer (offline plans, unknown names) the toolkit's table decides. */
static enum sql_walk_next volatile_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	struct vol *v = arg;
	const PgQuery__FuncCall *fc = (const PgQuery__FuncCall *)m;
	const char *name;

	(void)slot;
	if (m->descriptor != &pg_query__func_call__descriptor || !fc->n_funcname)
		return SQL_WALK_CONTINUE;
	name = sql_str(fc->funcname[fc->n_funcname - 1]);
	if (!name)
		return SQL_WALK_CONTINUE;
	{
		const char *params[1] = { name };
		PGresult *r = ask(v->ctx, SQL_VOLATILE, 1, params);

		if (r && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0)) {
			v->found = v->found || strcmp(PQgetvalue(r, 0, 0), "t") == 0;
			PQclear(r);
			return SQL_WALK_CONTINUE;
		}
		PQclear(r);
	}
	if (sql_func_volatility(fc->funcname, fc->n_funcname) == SQL_VOL_VOLATILE)
		v->found = true;
	return SQL_WALK_CONTINUE;
}

bool plan_expr_volatile(struct plan_ctx *ctx, const PgQuery__Node *expr)
{
	struct vol v = { ctx, false };

	if (expr)
		sql_tree_walk(&expr->base, 0, volatile_visit, &v);
	return v.found;
}
