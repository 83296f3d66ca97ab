/*
 * The steps that carry a column's indexes, constraints and properties to the column that
 * replaces it (what to carry: src/plan/plan_carry.c).
 *
 * Definitions come from the server (pg_get_indexdef, pg_get_constraintdef), are parsed by
 * libpg_query, get the old column's references replaced by the new column in the tree
 * (IndexElem names, column references, foreign-key column lists) and a temporary name, and
 * are deparsed.  The phases:
 *
 *   end of backfill (stage 2, after the new column is filled):
 *     NOT NULL: NULL count, CHECK (new IS NOT NULL) NOT VALID, VALIDATE
 *     each index, then each PRIMARY KEY / UNIQUE's index: CREATE [UNIQUE] INDEX
 *       CONCURRENTLY under a temporary name (an INDEX step: validity checked, rebuilt)
 *     each CHECK / FOREIGN KEY, incoming ones (on other tables) included: ADD CONSTRAINT
 *       under a temporary name NOT VALID, then VALIDATE when the original was validated
 *   contract, one transaction (plan_carry_contract wraps the strategy's own statements):
 *     SET NOT NULL (the valid check proves it: no scan), SET DEFAULT, sequences OWNED BY
 *     the new column, the old CHECK / FOREIGN KEYs dropped (incoming ones would keep the old
 *     column), [the strategy: trigger dropped, old column dropped (its indexes and
 *     constraints go with it), shadow renamed], helper check dropped, indexes renamed to
 *     their names, PRIMARY KEY / UNIQUE attached USING INDEX, constraints renamed, comments,
 *     column privileges, statistics target, options, storage, compression.
 *
 * Undo (rollback before contract): temporary indexes and constraints are dropped.
 */
#include <stdarg.h>
#include <stdint.h>
#include <string.h>

#include "plan/plan_carry.h"

static const char *const SQL_ADD_NN_CHECK =
	"ALTER TABLE %s ADD CONSTRAINT %s CHECK (%s IS NOT NULL) NOT VALID";
static const char *const SQL_COUNT_NULLS = "SELECT count(*) FROM %s WHERE %s IS NULL";
#define SQL_DROP_CONSTRAINT_FMT "ALTER TABLE %s DROP CONSTRAINT IF EXISTS %s"
static const char *const SQL_DROP_CONSTRAINT = SQL_DROP_CONSTRAINT_FMT;
static const char *const SQL_VALIDATE = "ALTER TABLE %s VALIDATE CONSTRAINT %s";
static const char *const SQL_DROP_INDEX = "DROP INDEX CONCURRENTLY IF EXISTS %s";
/* a constraint definition read back: table, name, pg_get_constraintdef */
static const char *const SQL_CONSTRAINT_TMPL = "ALTER TABLE %s ADD CONSTRAINT %s %s";
static const char *const SUFFIX_TMP = "pgphase";

/* Privileges a column ACL can hold, as GRANT spells them. */
static const char *const COLUMN_PRIVILEGES[] = { "SELECT", "INSERT", "UPDATE", "REFERENCES", NULL };

const char *plan_carry_collate(const struct plan_carry *c)
{
	return c->collate;
}

struct recol {
	const char *from, *to;
};

/* Column references and index elements naming the old column name the new one. */
static enum sql_walk_next recol_visit(ProtobufCMessage *m, ProtobufCMessage **slot, void *arg)
{
	const struct recol *rc = arg;

	(void)slot;
	if (m->descriptor == &pg_query__column_ref__descriptor) {
		PgQuery__ColumnRef *cr = (PgQuery__ColumnRef *)m;

		/* definitions of one table's indexes and constraints name columns unqualified */
		if (cr->n_fields == 1 && sql_str(cr->fields[0]) &&
		    strcmp(sql_str(cr->fields[0]), rc->from) == 0)
			cr->fields[0]->string->sval = (char *)rc->to;
	} else if (m->descriptor == &pg_query__index_elem__descriptor) {
		PgQuery__IndexElem *e = (PgQuery__IndexElem *)m;

		if (e->name && strcmp(e->name, rc->from) == 0)
			e->name = (char *)rc->to;
	}
	return SQL_WALK_CONTINUE;
}

static void recol_list(PgQuery__Node **list, size_t n, const struct recol *rc)
{
	for (size_t i = 0; i < n; i++)
		if (sql_str(list[i]) && strcmp(sql_str(list[i]), rc->from) == 0)
			list[i]->string->sval = (char *)rc->to;
}

static char *qualified(struct plan_ctx *ctx, const char *schema, const char *name)
{
	return arena_printf(ctx->arena, "%s.%s", sql_ident(ctx, schema), sql_ident(ctx, name));
}

/*
 * A temporary name for the carried copy of name (of kind "new" or "nn"): name's letters,
 * digits and underscores in lower case, a hash of the whole name and the kind, so it never
 * needs quoting (the deparser prints index and constraint names as they are) and two names
 * differing only in case or punctuation do not collide.  Deterministic: contract, planned
 * again later, finds the objects backfill made.
 */
static char *tmp_name(struct plan_ctx *ctx, const char *name, const char *kind)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	char clean[40];
	size_t n = 0;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = kind; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	for (const char *p = name; *p && n < sizeof(clean) - 1; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')
			clean[n++] = (char)ch;
		else if (ch >= 'A' && ch <= 'Z')
			clean[n++] = (char)(ch - 'A' + 'a');
		else if (n > 0 && clean[n - 1] != '_')
			clean[n++] = '_';
	}
	clean[n] = '\0';
	return arena_printf(ctx->arena, "%s_%s_%s_%08x", clean, SUFFIX_TMP, kind, h);
}

const char *plan_carry_undo_first(struct plan_ctx *ctx, const struct plan_carry *c)
{
	char *text = "";

	for (size_t i = 0; i < c->n_constraints; i++) {
		const struct plan_carry_constraint *k = &c->constraints[i];

		if (!k->index_def)
			text = arena_printf(ctx->arena, "%s" SQL_DROP_CONSTRAINT_FMT "; ", text,
					    qualified(ctx, k->schema, k->table),
					    sql_ident(ctx, tmp_name(ctx, k->name, "new")));
	}
	return text;
}

/* CREATE [UNIQUE] INDEX CONCURRENTLY IF NOT EXISTS tmp ... on the new column, from def. */
static char *index_sql(struct plan_ctx *ctx, const struct plan_carry *c, const char *def,
		       const char *tmp, struct pgphase_error *err)
{
	const PgQuery__Node *n = plan_parse_node(ctx, def, err);
	struct recol rc = { c->column, c->new_column };
	PgQuery__IndexStmt *ix;

	if (!n)
		return NULL;
	if (n->node_case != PG_QUERY__NODE__NODE_INDEX_STMT) {
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot read index definition: %s", def);
		return NULL;
	}
	ix = n->index_stmt;
	sql_tree_walk(&n->base, 0, recol_visit, &rc);
	ix->idxname = (char *)tmp;
	ix->concurrent = true;
	ix->if_not_exists = true;
	return sql_deparse(ctx, n, err);
}

static int add_index_step(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			  const struct strategy_input *in, const struct plan_carry *c,
			  const char *schema, const char *name, const char *def,
			  struct pgphase_error *err)
{
	char *tmp = tmp_name(ctx, name, "new"), *target = qualified(ctx, schema, tmp);
	char *sql = index_sql(ctx, c, def, tmp, err);
	char *undo = sql ? sql_renderf(ctx, err, SQL_DROP_INDEX, target) : NULL;
	struct pgphase_step *st;

	if (!undo)
		return -1;
	st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_NONE, sql, undo);
	st->kind = PGPHASE_STEP_INDEX;
	st->retry_lock = true;
	st->target = target;
	st->stage = 2;
	return 0;
}

/* ALTER TABLE ... ADD CONSTRAINT tmp <def on the new column> NOT VALID. */
static char *constraint_sql(struct plan_ctx *ctx, const struct plan_carry *c,
			    const struct plan_carry_constraint *k, const char *tmp,
			    struct pgphase_error *err)
{
	char *text = arena_printf(ctx->arena, SQL_CONSTRAINT_TMPL,
				  qualified(ctx, k->schema, k->table), sql_ident(ctx, tmp), k->def);
	const PgQuery__Node *n = plan_parse_node(ctx, text, err);
	struct recol rc = { c->column, c->new_column };
	PgQuery__Constraint *con;

	if (!n)
		return NULL;
	con = n->alter_table_stmt->cmds[0]->alter_table_cmd->def->constraint;
	if (k->uses) {
		recol_list(con->fk_attrs, con->n_fk_attrs, &rc);
		if (con->raw_expr)
			sql_tree_walk(&con->raw_expr->base, 0, recol_visit, &rc);
	}
	if (k->references)
		recol_list(con->pk_attrs, con->n_pk_attrs, &rc);
	con->skip_validation = true; /* NOT VALID: no scan under the lock */
	con->initially_valid = false;
	return sql_deparse(ctx, n, err);
}

static int add_constraint_steps(struct plan_ctx *ctx, const struct pgphase_strategy *by,
				const struct strategy_input *in, const struct plan_carry *c,
				const struct plan_carry_constraint *k, struct pgphase_error *err)
{
	char *rel = qualified(ctx, k->schema, k->table), *tmp = tmp_name(ctx, k->name, "new");
	char *add = constraint_sql(ctx, c, k, tmp, err), *undo = NULL, *validate = NULL;
	struct pgphase_step *st;

	if (add)
		undo = sql_renderf(ctx, err, SQL_DROP_CONSTRAINT, rel, sql_ident(ctx, tmp));
	if (undo)
		validate = sql_renderf(ctx, err, SQL_VALIDATE, rel, sql_ident(ctx, tmp));
	if (!validate)
		return -1;
	st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_OWN, add, undo);
	st->stage = 2;
	if (k->validated) {
		/* scans under SHARE UPDATE EXCLUSIVE: writes go on */
		st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_OWN, validate, NULL);
		st->stage = 2;
	}
	return 0;
}

static char *not_null_check(struct plan_ctx *ctx, const struct plan_carry *c)
{
	return sql_ident(ctx, tmp_name(ctx, arena_printf(ctx->arena, "%s_%s", c->rv->relname,
							 c->new_column), "nn"));
}

static int not_null_steps(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			  const struct strategy_input *in, const struct plan_carry *c,
			  struct pgphase_error *err)
{
	char *rel = sql_rel(ctx, c->rv), *col = sql_ident(ctx, c->new_column);
	char *con = not_null_check(ctx, c);
	char *count = sql_renderf(ctx, err, SQL_COUNT_NULLS, rel, col);
	char *add = count ? sql_renderf(ctx, err, SQL_ADD_NN_CHECK, rel, con, col) : NULL;
	char *undo = add ? sql_renderf(ctx, err, SQL_DROP_CONSTRAINT, rel, con) : NULL;
	char *validate = undo ? sql_renderf(ctx, err, SQL_VALIDATE, rel, con) : NULL;
	struct pgphase_step *st;

	if (!validate)
		return -1;
	st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_NONE, count, NULL);
	st->kind = PGPHASE_STEP_CHECK_NULLS;
	st->stage = 2;
	st->target = arena_printf(ctx->arena, "%s.%s", c->rv->relname, c->new_column);
	st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_OWN, add, undo);
	st->stage = 2;
	st = plan_add(ctx, by, in, PGPHASE_PHASE_BACKFILL, PGPHASE_TXN_OWN, validate, NULL);
	st->stage = 2;
	return 0;
}

int plan_carry_backfilled(struct plan_ctx *ctx, const struct pgphase_strategy *by,
			  const struct strategy_input *in, const struct plan_carry *c,
			  struct pgphase_error *err)
{
	if (c->not_null && not_null_steps(ctx, by, in, c, err) < 0)
		return -1;
	for (size_t i = 0; i < c->n_indexes; i++)
		if (add_index_step(ctx, by, in, c, c->indexes[i].schema, c->indexes[i].name,
				   c->indexes[i].def, err) < 0)
			return -1;
	/* keys first: an incoming foreign key needs the new unique index */
	for (size_t i = 0; i < c->n_constraints; i++)
		if (c->constraints[i].index_def &&
		    add_index_step(ctx, by, in, c, c->constraints[i].schema, c->constraints[i].name,
				   c->constraints[i].index_def, err) < 0)
			return -1;
	for (size_t i = 0; i < c->n_constraints; i++)
		if (!c->constraints[i].index_def &&
		    add_constraint_steps(ctx, by, in, c, &c->constraints[i], err) < 0)
			return -1;
	return 0;
}

/* Appending statements to a contract text. */
static void put(struct plan_ctx *ctx, char **text, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void put(struct plan_ctx *ctx, char **text, const char *fmt, ...)
{
	va_list ap;
	char *one;

	va_start(ap, fmt);
	one = arena_vprintf(ctx->arena, fmt, ap);
	va_end(ap);
	*text = arena_printf(ctx->arena, "%s%s%s", *text, (*text)[0] ? "; " : "", one);
}

/* Before the strategy's own contract statements: what must hold before the old column goes. */
static void contract_before(struct plan_ctx *ctx, const struct plan_carry *c, char **text)
{
	char *rel = sql_rel(ctx, c->rv), *col = sql_ident(ctx, c->new_column);

	if (c->not_null)
		put(ctx, text, "ALTER TABLE %s ALTER COLUMN %s SET NOT NULL", rel, col);
	if (c->dflt)
		put(ctx, text, "ALTER TABLE %s ALTER COLUMN %s SET DEFAULT pgphase_slot_d", rel,
		    col);
	/* else DROP COLUMN of the old one would drop the sequence the default uses */
	for (size_t i = 0; i < c->n_sequences; i++)
		put(ctx, text, "ALTER SEQUENCE %s OWNED BY %s.%s", c->sequences[i], rel, col);
	/* incoming foreign keys would make DROP COLUMN fail; the others go with it anyway */
	for (size_t i = 0; i < c->n_constraints; i++) {
		const struct plan_carry_constraint *k = &c->constraints[i];

		if (!k->index_def)
			put(ctx, text, "ALTER TABLE %s DROP CONSTRAINT %s",
			    qualified(ctx, k->schema, k->table), sql_ident(ctx, k->name));
	}
}

static void contract_indexes(struct plan_ctx *ctx, const struct plan_carry *c, char **text)
{
	char *rel = sql_rel(ctx, c->rv);

	for (size_t i = 0; i < c->n_indexes; i++) {
		const struct plan_carry_index *x = &c->indexes[i];
		char *name = qualified(ctx, x->schema, x->name);

		char *short_name = sql_ident(ctx, x->name);

		put(ctx, text, "ALTER INDEX %s RENAME TO %s",
		    qualified(ctx, x->schema, tmp_name(ctx, x->name, "new")), short_name);
		if (x->clustered)
			put(ctx, text, "ALTER TABLE %s CLUSTER ON %s", rel, short_name);
		if (x->comment)
			put(ctx, text, "COMMENT ON INDEX %s IS %s", name, x->comment);
	}
	for (size_t i = 0; i < c->n_constraints; i++) {
		const struct plan_carry_constraint *k = &c->constraints[i];
		char *krel = qualified(ctx, k->schema, k->table), *name = sql_ident(ctx, k->name);
		char *tmp = sql_ident(ctx, tmp_name(ctx, k->name, "new"));

		/* attached under the temporary name, which needs no quoting, then renamed (the
		   index goes with it) */
		if (k->index_def)
			put(ctx, text, "ALTER TABLE %s ADD CONSTRAINT %s %s USING INDEX %s%s%s",
			    krel, tmp, k->type == 'p' ? "PRIMARY KEY" : "UNIQUE", tmp,
			    k->deferrable ? " DEFERRABLE" : "",
			    k->deferred ? " INITIALLY DEFERRED" : "");
		put(ctx, text, "ALTER TABLE %s RENAME CONSTRAINT %s TO %s", krel, tmp, name);
		if (k->clustered)
			put(ctx, text, "ALTER TABLE %s CLUSTER ON %s", krel, name);
		if (k->comment)
			put(ctx, text, "COMMENT ON CONSTRAINT %s ON %s IS %s", name, krel,
			    k->comment);
	}
}

static const char *privilege_keyword(const char *p)
{
	for (const char *const *k = COLUMN_PRIVILEGES; *k; k++)
		if (strcmp(*k, p) == 0)
			return *k;
	return NULL;
}

static void contract_column(struct plan_ctx *ctx, const struct plan_carry *c, char **text)
{
	char *rel = sql_rel(ctx, c->rv), *col = sql_ident(ctx, c->final_column);

	if (c->comment)
		put(ctx, text, "COMMENT ON COLUMN %s.%s IS %s", rel, col, c->comment);
	for (size_t i = 0; i < c->n_grants; i++) {
		const struct plan_carry_grant *g = &c->grants[i];
		const char *priv = privilege_keyword(g->privilege);

		if (priv)
			put(ctx, text, "GRANT %s (%s) ON TABLE %s TO %s%s", priv, col, rel,
			    g->grantee ? sql_ident(ctx, g->grantee) : "PUBLIC",
			    g->grantable ? " WITH GRANT OPTION" : "");
	}
	if (c->stattarget >= 0)
		put(ctx, text, "ALTER TABLE %s ALTER COLUMN %s SET STATISTICS %d", rel, col,
		    c->stattarget);
	if (c->options)
		put(ctx, text, "ALTER TABLE %s ALTER COLUMN %s SET (%s)", rel, col, c->options);
	if (c->storage)
		put(ctx, text, "ALTER TABLE %s ALTER COLUMN %s SET STORAGE %s", rel, col,
		    c->storage);
	if (c->compression)
		put(ctx, text, "ALTER TABLE %s ALTER COLUMN %s SET COMPRESSION %s", rel, col,
		    c->compression);
}

char *plan_carry_contract(struct plan_ctx *ctx, const struct plan_carry *c, const char *middle,
			  struct pgphase_error *err)
{
	struct sql_graft d = { "d", c->dflt, NULL };
	char *text = "";

	contract_before(ctx, c, &text);
	put(ctx, &text, "%s", middle);
	if (c->not_null)
		put(ctx, &text, SQL_DROP_CONSTRAINT, sql_rel(ctx, c->rv), not_null_check(ctx, c));
	contract_indexes(ctx, c, &text);
	contract_column(ctx, c, &text);
	return sql_render(ctx, text, &d, 1, err);
}
