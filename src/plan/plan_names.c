/*
 * Names of the objects strategies create, against the catalog: is a name free, taken by
 * the same object (a rerun's: an earlier run of this migration built it before it was
 * killed), or taken by something else?  PostgreSQL's default names (<table>_<cols>_idx,
 * _key, _pkey, _fkey, _check) are chosen the way PostgreSQL chooses them, label, label1,
 * label2, ... until a free one (ChooseRelationName, ChooseConstraintName), so the name ends
 * as psql's would; pgphase's own helper names are chosen the same way from
 * sql_helper_name().  The executor asks the same question after CREATE INDEX ... IF NOT
 * EXISTS, which skips any relation of the name.
 *
 * "The same object" is judged by shape, not by full definition: the same table, kind,
 * uniqueness and key columns (an expression counts as ""), which is what a rerun leaves and
 * what a colliding foreign object almost never matches.  Offline (no session) every name
 * counts as free.  Nothing here builds SQL for the plan.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/db.h"
#include "plan/plan_int.h"
#include "plan/plan_names.h"
#include "base/util.h"

#define MAX_PASSES 100 /* label1 .. label99: then the name is refused, not looped on */

/*
 * An index's shape by name ($1 the index, qualified; $2 its table, qualified): relkind
 * (index or not), whether it indexes $2, the table it indexes, and whether uniqueness ($3)
 * and key columns ($4, a JSON array; "" for an expression) are the same.
 */
static const char *const SQL_INDEX_SHAPE =
	"SELECT c.relkind::text, i.indrelid IS NOT DISTINCT FROM to_regclass($2),"
	"       coalesce(i.indrelid::regclass::text, ''),"
	"       coalesce(i.indisunique = $3::bool AND"
	"         ARRAY(SELECT coalesce(a.attname::text, '')"
	"                 FROM unnest(i.indkey::int2[]) WITH ORDINALITY k(n, o)"
	"                 LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n"
	"                WHERE k.o <= i.indnkeyatts ORDER BY k.o)"
	"         = ARRAY(SELECT json_array_elements_text($4::json)), false)"
	"  FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid"
	" WHERE c.oid = to_regclass($1)";

/*
 * Constraints of a name in the table's schema ($1 name, $2 table qualified, $3 the schema
 * when the table does not exist yet): whether each is on $2 with contype $4 and the key
 * columns $5 (JSON, compared as a set: a CHECK's conkey is in attnum order), and its table.
 */
static const char *const SQL_CONSTRAINT_SHAPE =
	"SELECT con.conrelid = to_regclass($2) AND con.contype::text = $4 AND"
	"       ARRAY(SELECT a.attname::text FROM unnest(con.conkey) k(n)"
	"               JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n"
	"              ORDER BY 1)"
	"       = ARRAY(SELECT x FROM json_array_elements_text($5::json) x ORDER BY 1),"
	"       con.conrelid::regclass::text"
	"  FROM pg_constraint con"
	" WHERE con.conname = $1 AND con.connamespace = coalesce("
	"   (SELECT relnamespace FROM pg_class WHERE oid = to_regclass($2)),"
	"   (SELECT oid FROM pg_namespace WHERE nspname = coalesce($3, current_schema())))";

static char *qualified(struct pgphase_arena *a, const PgQuery__RangeVar *rv, const char *name)
{
	char *q = arena_take(a, quote_ident_always(name));

	if (!rv->schemaname || !rv->schemaname[0])
		return q;
	return arena_printf(a, "%s.%s", arena_take(a, quote_ident_always(rv->schemaname)), q);
}

static char *cols_json(const struct plan_name_want *w)
{
	json_t *arr = json_array();
	char *out;

	for (size_t i = 0; i < w->n_cols; i++)
		json_array_append_new(arr, json_string(w->cols[i] ? w->cols[i] : ""));
	out = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return out;
}

static PGresult *ask(struct pgphase_session *s, const char *sql, int n, const char *const *p,
		     struct pgphase_error *err)
{
	return db_query(s, sql, n, p, PGRES_TUPLES_OK, err);
}

/* An index name: see plan_name_state. */
static int index_state(struct pgphase_session *s, struct pgphase_arena *a,
		       const struct plan_name_want *w, const char *name, char **what,
		       struct pgphase_error *err)
{
	char *json = cols_json(w);
	const char *p[4] = { qualified(a, w->rv, name), qualified(a, w->rv, w->rv->relname),
			     w->unique ? "true" : "false", json };
	PGresult *r = ask(s, SQL_INDEX_SHAPE, 4, p, err);
	int st = 1;

	free(json);
	if (!r)
		return -2;
	if (PQntuples(r) == 1) {
		bool index = strcmp(PQgetvalue(r, 0, 0), "i") == 0 ||
			     strcmp(PQgetvalue(r, 0, 0), "I") == 0;
		bool same_table = strcmp(PQgetvalue(r, 0, 1), "t") == 0;

		st = index && same_table && strcmp(PQgetvalue(r, 0, 3), "t") == 0 ? 0 : -1;
		if (st < 0 && what)
			*what = !index ? arena_printf(a, "a relation that is not an index")
				: !same_table ? arena_printf(a, "an index of \"%s\"", PQgetvalue(r, 0, 2))
					      : arena_printf(a, "an index of the same table with other "
							       "key columns or uniqueness");
	}
	PQclear(r);
	return st;
}

/* A constraint name: see plan_name_state.  An index-backed constraint's name is also a
 * relation name (its index's). */
static int constraint_state(struct pgphase_session *s, struct pgphase_arena *a,
			    const struct plan_name_want *w, const char *name, char **what,
			    struct pgphase_error *err)
{
	char *json = cols_json(w), contype[2] = { w->contype, 0 };
	const char *p[5] = { name, qualified(a, w->rv, w->rv->relname),
			     w->rv->schemaname && w->rv->schemaname[0] ? w->rv->schemaname : NULL,
			     contype, json };
	PGresult *r = ask(s, SQL_CONSTRAINT_SHAPE, 5, p, err);
	int st = 1;

	free(json);
	if (!r)
		return -2;
	for (int i = 0; i < PQntuples(r) && st != -1; i++) {
		if (strcmp(PQgetvalue(r, i, 0), "t") == 0) {
			st = 0;
			continue;
		}
		st = -1;
		if (what)
			*what = arena_printf(a, "a constraint of \"%s\"", PQgetvalue(r, i, 1));
	}
	PQclear(r);
	if (st == 1 && w->index) {
		/* no such constraint: its index's name must be free, or a rerun's index */
		struct plan_name_want iw = *w;

		iw.contype = 0;
		iw.unique = true;
		return index_state(s, a, &iw, name, what, err);
	}
	return st;
}

int plan_name_state_in(struct pgphase_session *s, struct pgphase_arena *a,
		       const struct plan_name_want *w, const char *name, char **what,
		       struct pgphase_error *err)
{
	if (w->contype)
		return constraint_state(s, a, w, name, what, err);
	return index_state(s, a, w, name, what, err);
}

int plan_name_state(struct plan_ctx *ctx, const struct plan_name_want *w, const char *name,
		    char **what)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	int st;

	/* an earlier statement of the run creates it: the catalog does not show it yet */
	if (plan_name_created(ctx, w->rv ? w->rv->schemaname : NULL, name, ctx->pos)) {
		if (what)
			*what = arena_printf(ctx->arena, "an object an earlier statement creates "
					     "(this migration's or an earlier pending one's)");
		return -1;
	}
	if (!ctx->opts.session)
		return 1;
	st = plan_name_state_in(ctx->opts.session, ctx->arena, w, name, what, &e);
	pgphase_error_release(&e); /* an unanswered question: the run will tell */
	/* planned again after its expand ran (backfill, contract, rollback): what holds the name
	   may be this migration's own object, changed by its later steps; checked when it ran */
	if (st == -1 && ctx->opts.done_through >= PGPHASE_PHASE_EXPAND)
		return 1;
	return st == -2 ? 1 : st;
}

char *plan_choose_name(struct plan_ctx *ctx, const struct plan_name_want *w, const char *a,
		       const char *b, const char *label, bool helper)
{
	for (int pass = 0; pass < MAX_PASSES; pass++) {
		const char *lab = pass ? arena_printf(ctx->arena, "%s%d", label, pass) : label;
		char *name = helper ? sql_helper_name(ctx, a, b, lab) : sql_object_name(ctx, a, b, lab);

		if (plan_name_state(ctx, w, name, NULL) >= 0)
			return name;
	}
	return sql_object_name(ctx, a, b, label); /* the run reports the collision */
}

int plan_name_refuse_taken(struct plan_ctx *ctx, const struct strategy_input *in,
			   const struct plan_name_want *w, const char *name,
			   struct pgphase_error *err)
{
	char *what = NULL;

	if (plan_name_state(ctx, w, name, &what) >= 0 ||
	    plan_name_freed(ctx, w->rv ? w->rv->schemaname : NULL, name, in->origin))
		return 0; /* free, or an earlier statement drops what holds it now */
	plan_fail(ctx, in, err, "relation \"%s\" already exists: %s", name,
		  what ? what : "another object");
	pgphase_error_hint(err, "choose another name, or drop that object earlier in the migration");
	return -1;
}

/* Is the relation a partitioned table or index (relkind 'p', 'I')?  $1 qualified name. */
static const char *const SQL_PARTITIONED =
	"SELECT relkind IN ('p', 'I') FROM pg_class WHERE oid = to_regclass($1)";

bool plan_is_partitioned(struct plan_ctx *ctx, const PgQuery__RangeVar *rv)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;
	const struct plan_state_rel *m = plan_state_rel(plan_state_at(ctx, ctx->pos), rv);
	const char *p[1];
	PGresult *r;
	bool yes;

	/* a table the migrations create (or drop) is the model's; a renamed one is asked of the
	   catalog under the name it has there */
	if (m && (m->gone || m->created))
		return !m->gone && m->partitioned;
	if (m && m->cat_name) {
		PgQuery__RangeVar *cat = arena_alloc(ctx->arena, sizeof(*cat));

		*cat = *rv;
		cat->schemaname = (char *)m->cat_schema;
		cat->relname = (char *)m->cat_name;
		rv = cat;
	}
	if (!ctx->opts.session)
		return false;
	p[0] = qualified(ctx->arena, rv, rv->relname);
	r = ask(ctx->opts.session, SQL_PARTITIONED, 1, p, &e);
	pgphase_error_release(&e);
	if (!r)
		return false;
	yes = PQntuples(r) == 1 && strcmp(PQgetvalue(r, 0, 0), "t") == 0;
	PQclear(r);
	return yes;
}
