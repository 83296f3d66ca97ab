/*
 * The SQL-tree toolkit (see tree.h): the one walk over libpg_query's protobuf-c trees, the
 * one table of built-in function volatility, and the one ALTER TABLE splitter.  The walk uses
 * protobuf-c reflection, so a node type added to libpg_query is walked without a change here,
 * and an explicit stack, so a deeply nested tree costs heap, not C stack;
 * sub-command positions come from libpg_query's scanner, never from matching text.
 */
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "sql/tree.h"
#include "base/util.h"

/* ---- the walk ------------------------------------------------------------------------ */

struct walk {
	sql_visit_fn fn;
	void *arg;
	bool nodes; /* SQL_WALK_NODES */
};

/* The slot of the message a Node holds, NULL when none is set. */
static ProtobufCMessage **node_member(PgQuery__Node *n)
{
	const ProtobufCFieldDescriptor *f;

	if (n->node_case == PG_QUERY__NODE__NODE__NOT_SET)
		return NULL;
	f = protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor,
						    (unsigned)n->node_case);
	return f ? (ProtobufCMessage **)((char *)n + f->offset) : NULL;
}

ProtobufCMessage *sql_node_message(const PgQuery__Node *n)
{
	ProtobufCMessage **member = node_member((PgQuery__Node *)n);

	return member ? *member : NULL;
}

/*
 * Slots still to visit, last pushed first: an explicit stack, so depth costs no C stack.  It
 * starts in the caller's frame (most trees are small) and moves to the heap when it grows.
 */
#define WALK_LOCAL 64

struct walk_stack {
	ProtobufCMessage ***v;
	size_t n, cap;
	ProtobufCMessage **local[WALK_LOCAL];
};

static void push_slot(struct walk_stack *st, ProtobufCMessage **slot)
{
	if (st->n == st->cap) {
		ProtobufCMessage ***v = xmalloc(2 * st->cap * sizeof(*v));

		memcpy(v, st->v, st->n * sizeof(*v));
		if (st->v != st->local)
			free(st->v);
		st->v = v;
		st->cap *= 2;
	}
	st->v[st->n++] = slot;
}

/* Queue the children of m so that they come off the stack in declaration order. */
static void push_children(struct walk_stack *st, ProtobufCMessage *m)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	char *base = (char *)m;

	if (d == &pg_query__node__descriptor) {
		/* a Node is a oneof over ~250 message types: go straight to the one that is set */
		ProtobufCMessage **member = node_member((PgQuery__Node *)m);

		if (member && *member)
			push_slot(st, member);
		return;
	}
	for (unsigned i = d->n_fields; i-- > 0;) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		/* a oneof member is valid only when the case says so (A_Const) */
		if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
		    *(const uint32_t *)(base + f->quantifier_offset) != f->id)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage **arr = *(ProtobufCMessage ***)(base + f->offset);

			for (size_t k = n; k-- > 0;)
				push_slot(st, &arr[k]);
		} else {
			push_slot(st, (ProtobufCMessage **)(base + f->offset));
		}
	}
}

/* Visit m at slot (NULL for the root); false when the visitor stopped the walk. */
static bool visit(struct walk *w, struct walk_stack *st, ProtobufCMessage *m,
		  ProtobufCMessage **slot)
{
	enum sql_walk_next next;

	if (m->descriptor == &pg_query__node__descriptor && !w->nodes) {
		ProtobufCMessage **member = node_member((PgQuery__Node *)m);

		if (!member || !*member)
			return true;
		m = *member;
		slot = member;
	}
	next = w->fn(m, slot, w->arg);
	if (next == SQL_WALK_STOP)
		return false;
	if (next == SQL_WALK_SKIP)
		return true;
	if (slot && *slot != m) { /* replaced: go on below the new message */
		m = *slot;
		if (!m)
			return true;
	}
	push_children(st, m);
	return true;
}

bool sql_tree_walk(const ProtobufCMessage *root, unsigned flags, sql_visit_fn fn, void *arg)
{
	struct walk w = { fn, arg, (flags & SQL_WALK_NODES) != 0 };
	struct walk_stack st;
	bool go;

	if (!root)
		return true;
	st.v = st.local;
	st.n = 0;
	st.cap = WALK_LOCAL;
	go = visit(&w, &st, (ProtobufCMessage *)root, NULL);
	while (go && st.n) {
		ProtobufCMessage **slot = st.v[--st.n];

		/* read the slot now: an earlier visitor may have replaced or cleared it */
		if (*slot)
			go = visit(&w, &st, *slot, slot);
	}
	if (st.v != st.local)
		free(st.v);
	return go;
}

/* ---- volatility ---------------------------------------------------------------------- */

/*
 * Built-in (and common extension) functions by volatility.  VOLATILE: a different value per
 * call, so ADD COLUMN ... DEFAULT f() computes it for every row and rewrites the table.
 * STABLE: IMMUTABLE or STABLE, evaluated once.  Anything else is UNKNOWN.
 */
static const struct {
	const char *name;
	enum sql_volatility v;
} functions[] = {
	/* volatile */
	{ "random", SQL_VOL_VOLATILE }, { "random_normal", SQL_VOL_VOLATILE }, { "setseed", SQL_VOL_VOLATILE },
	{ "gen_random_uuid", SQL_VOL_VOLATILE }, { "uuid_generate_v1", SQL_VOL_VOLATILE },
	{ "uuid_generate_v1mc", SQL_VOL_VOLATILE }, { "uuid_generate_v4", SQL_VOL_VOLATILE },
	{ "uuidv4", SQL_VOL_VOLATILE }, { "uuidv7", SQL_VOL_VOLATILE }, { "gen_random_bytes", SQL_VOL_VOLATILE },
	{ "clock_timestamp", SQL_VOL_VOLATILE }, { "timeofday", SQL_VOL_VOLATILE },
	{ "nextval", SQL_VOL_VOLATILE }, { "setval", SQL_VOL_VOLATILE }, { "currval", SQL_VOL_VOLATILE },
	{ "lastval", SQL_VOL_VOLATILE },
	/* immutable or stable (pg_proc.provolatile on PostgreSQL 15: a default calling one is
	 * evaluated once by ADD COLUMN, no rewrite) */
	{ "txid_current", SQL_VOL_STABLE }, { "pg_current_xact_id", SQL_VOL_STABLE },
	{ "txid_current_if_assigned", SQL_VOL_STABLE }, { "pg_backend_pid", SQL_VOL_STABLE },
	{ "now", SQL_VOL_STABLE }, { "transaction_timestamp", SQL_VOL_STABLE },
	{ "statement_timestamp", SQL_VOL_STABLE }, { "current_setting", SQL_VOL_STABLE },
	{ "lower", SQL_VOL_STABLE }, { "upper", SQL_VOL_STABLE }, { "btrim", SQL_VOL_STABLE },
	{ "ltrim", SQL_VOL_STABLE }, { "rtrim", SQL_VOL_STABLE }, { "trim", SQL_VOL_STABLE },
	{ "concat", SQL_VOL_STABLE }, { "concat_ws", SQL_VOL_STABLE },
	{ "length", SQL_VOL_STABLE }, { "md5", SQL_VOL_STABLE }, { "to_char", SQL_VOL_STABLE },
	{ "to_timestamp", SQL_VOL_STABLE }, { "to_date", SQL_VOL_STABLE },
	{ "to_number", SQL_VOL_STABLE }, { "date_trunc", SQL_VOL_STABLE },
	{ "date_part", SQL_VOL_STABLE }, { "extract", SQL_VOL_STABLE },
	{ "make_interval", SQL_VOL_STABLE }, { "make_date", SQL_VOL_STABLE },
	{ "make_time", SQL_VOL_STABLE }, { "make_timestamp", SQL_VOL_STABLE },
	{ "make_timestamptz", SQL_VOL_STABLE }, { "abs", SQL_VOL_STABLE },
	{ "round", SQL_VOL_STABLE }, { "floor", SQL_VOL_STABLE }, { "ceil", SQL_VOL_STABLE },
	{ "ceiling", SQL_VOL_STABLE }, { "substring", SQL_VOL_STABLE },
	{ "substr", SQL_VOL_STABLE }, { "replace", SQL_VOL_STABLE }, { "left", SQL_VOL_STABLE },
	{ "right", SQL_VOL_STABLE }, { "lpad", SQL_VOL_STABLE }, { "rpad", SQL_VOL_STABLE },
	{ "format", SQL_VOL_STABLE }, { "timezone", SQL_VOL_STABLE },
	{ "jsonb_build_object", SQL_VOL_STABLE }, { "json_build_object", SQL_VOL_STABLE },
	{ "jsonb_build_array", SQL_VOL_STABLE }, { "json_build_array", SQL_VOL_STABLE },
	{ "array_fill", SQL_VOL_STABLE }, { "to_jsonb", SQL_VOL_STABLE },
	{ "to_json", SQL_VOL_STABLE }, { "current_database", SQL_VOL_STABLE },
	{ "current_schema", SQL_VOL_STABLE }, { "version", SQL_VOL_STABLE },
	{ "int4", SQL_VOL_STABLE }, { "int8", SQL_VOL_STABLE }, { "text", SQL_VOL_STABLE },
	{ "numeric", SQL_VOL_STABLE }, { "bool", SQL_VOL_STABLE },
	{ "interval", SQL_VOL_STABLE }, { "inet", SQL_VOL_STABLE }, { "cidr", SQL_VOL_STABLE },
	{ "uuid", SQL_VOL_STABLE },
};

enum sql_volatility sql_func_volatility(PgQuery__Node *const *funcname, size_t n)
{
	const PgQuery__Node *last = n ? funcname[n - 1] : NULL;
	const char *name;

	if (!last || last->node_case != PG_QUERY__NODE__NODE_STRING)
		return SQL_VOL_UNKNOWN;
	name = last->string->sval;
	for (size_t i = 0; i < sizeof(functions) / sizeof(functions[0]); i++)
		if (strcmp(functions[i].name, name) == 0)
			return functions[i].v;
	return SQL_VOL_UNKNOWN;
}

bool sql_func_table_entry(size_t i, const char **name, enum sql_volatility *v)
{
	if (i >= sizeof(functions) / sizeof(functions[0]))
		return false;
	*name = functions[i].name;
	*v = functions[i].v;
	return true;
}

struct volatility {
	enum sql_volatility v;
	const char *func;
};

static enum sql_walk_next classify_call(ProtobufCMessage *msg, ProtobufCMessage **slot,
					void *arg)
{
	struct volatility *vol = arg;
	const PgQuery__FuncCall *fc;
	enum sql_volatility v;

	(void)slot;
	if (msg->descriptor != &pg_query__func_call__descriptor)
		return SQL_WALK_CONTINUE;
	fc = (const PgQuery__FuncCall *)msg;
	v = sql_func_volatility(fc->funcname, fc->n_funcname);
	if (v == SQL_VOL_STABLE || (v == SQL_VOL_UNKNOWN && vol->v != SQL_VOL_STABLE))
		return SQL_WALK_CONTINUE;
	vol->v = v;
	vol->func = fc->n_funcname && fc->funcname[fc->n_funcname - 1]->node_case ==
						       PG_QUERY__NODE__NODE_STRING
			    ? fc->funcname[fc->n_funcname - 1]->string->sval : "";
	return v == SQL_VOL_VOLATILE ? SQL_WALK_STOP : SQL_WALK_CONTINUE;
}

enum sql_volatility sql_expr_volatility(const PgQuery__Node *expr, const char **func)
{
	struct volatility vol = { SQL_VOL_STABLE, NULL };

	if (expr)
		sql_tree_walk(&expr->base, 0, classify_call, &vol);
	if (func)
		*func = vol.func;
	return vol.v;
}

/* ---- ALTER TABLE sub-commands -------------------------------------------------------- */

PgQuery__ScanResult *sql_scan(const char *text)
{
	PgQueryScanResult r = pg_query_scan(text);
	PgQuery__ScanResult *tokens = NULL;

	if (!r.error)
		tokens = pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
	pg_query_free_scan_result(r);
	return tokens;
}

static bool is_token(const PgQuery__ScanResult *t, size_t i, int token)
{
	return i < t->n_tokens && (int)t->tokens[i]->token == token;
}

/*
 * Locations of the sub-commands of a in text (locs[0..n_cmds), -1 when unknown): the first
 * token after the relation name, then the first after each top-level comma.
 */
static void cmd_locations(const PgQuery__AlterTableStmt *a, const char *text, size_t len,
			  int *locs)
{
	PgQuery__ScanResult *t;
	size_t from, k, commas = 0;
	int depth = 0;
	char *tail;

	for (size_t i = 0; i < a->n_cmds; i++)
		locs[i] = -1;
	if (!text || !a->relation || a->relation->location < 0)
		return;
	from = (size_t)a->relation->location;
	if (from >= len)
		return;
	tail = xstrndup(text + from, len - from);
	t = sql_scan(tail);
	free(tail);
	if (!t)
		return;
	/* skip the relation name: name [. name [. name]] [*] */
	k = 1;
	while (is_token(t, k, PG_QUERY__TOKEN__ASCII_46) && k + 1 < t->n_tokens)
		k += 2;
	if (is_token(t, k, PG_QUERY__TOKEN__ASCII_42))
		k++;
	for (bool at_start = true; k < t->n_tokens && commas < a->n_cmds; k++) {
		int tok = (int)t->tokens[k]->token;

		if (tok == PG_QUERY__TOKEN__SQL_COMMENT || tok == PG_QUERY__TOKEN__C_COMMENT)
			continue;
		if (at_start) {
			locs[commas] = (int)from + t->tokens[k]->start;
			at_start = false;
		}
		if (tok == PG_QUERY__TOKEN__ASCII_40 || tok == PG_QUERY__TOKEN__ASCII_91) {
			depth++;
		} else if (tok == PG_QUERY__TOKEN__ASCII_41 || tok == PG_QUERY__TOKEN__ASCII_93) {
			depth--;
		} else if (tok == PG_QUERY__TOKEN__ASCII_44 && depth == 0) {
			commas++;
			at_start = true;
		}
	}
	pg_query__scan_result__free_unpacked(t, NULL);
}

int sql_alter_cmd_location(const PgQuery__AlterTableStmt *a, const char *text, size_t len,
			   size_t i)
{
	int *locs, loc;

	if (!a || i >= a->n_cmds)
		return -1;
	locs = xcalloc(a->n_cmds, sizeof(*locs));
	cmd_locations(a, text, len, locs);
	loc = locs[i];
	free(locs);
	return loc;
}

size_t sql_alter_split(const PgQuery__Node *n, const char *text, size_t len,
		       struct sql_alter_part **parts)
{
	const PgQuery__AlterTableStmt *a;
	struct sql_alter_part *p;
	int *locs;

	*parts = NULL;
	if (!n || n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT ||
	    !n->alter_table_stmt->n_cmds)
		return 0;
	a = n->alter_table_stmt;
	p = xcalloc(a->n_cmds, sizeof(*p));
	locs = xcalloc(a->n_cmds, sizeof(*locs));
	cmd_locations(a, text, len, locs);
	for (size_t i = 0; i < a->n_cmds; i++) {
		p[i].stmt = *a;
		p[i].stmt.n_cmds = 1;
		p[i].stmt.cmds = &a->cmds[i];
		p[i].node = *n;
		p[i].node.alter_table_stmt = &p[i].stmt;
		p[i].location = locs[i];
	}
	free(locs);
	*parts = p;
	return a->n_cmds;
}
