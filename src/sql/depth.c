/*
 * The nesting guard (see depth.h): how deep a text can nest before it is parsed, how deep a
 * parsed tree is, and a large-stack thread for the recursion that cannot be avoided
 * (libpg_query's own output, its deparser, protobuf-c).  Everything here is iterative.
 *
 * Three tiers, so ordinary migrations pay nothing:
 *  - text of at most SQL_DEPTH_SMALL_TEXT bytes: parsed directly, never measured (a tree
 *    level takes at least one byte: `+1`, `- `, `::t`, `(SELECT `);
 *  - otherwise parsed on a BIG_STACK thread, then measured exactly (sql_depth_check); a
 *    statement of up to BIG_STACK_LEVELS bytes cannot outgrow that stack;
 *  - a longer statement (rare: a big INSERT … VALUES, a long function body) is scanned first
 *    and bounded from its tokens (token_bound); beyond what the stack holds it is refused
 *    before libpg_query recurses over it.
 *
 * This module does not parse; src/sql/parse.c calls it around libpg_query.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "sql/depth.h"
#include "sql/tree.h"
#include "base/util.h"

/* Reserved for the parsing thread; pages are committed only as deep as the recursion goes. */
#define BIG_STACK ((size_t)256 << 20)
/* Message levels that stack holds: libpg_query's output, protobuf-c and the deparser take
 * at most a few hundred bytes a level (measured: about 100 to 700); 1 KB leaves room. */
#define BIG_STACK_LEVELS (BIG_STACK / 1024)

/* ---- the token bound ------------------------------------------------------------------ */

/*
 * An upper bound of a statement's tree depth (in messages, Node wrappers included) from its
 * tokens.  Brackets ( [ CASE open a level that adds BRACKET messages; within a level,
 * separators (, AND OR WHEN THEN ELSE) start a new sibling segment, because the lists they
 * build are flat (PostgreSQL flattens AND/OR chains); every other token may add PER_TOKEN
 * messages to its segment's chain.  JOIN, UNION, INTERSECT and EXCEPT separate segments
 * too (the branches, the joined tables are siblings), but their chains nest across every
 * separator (a JOIN's ON condition, a UNION branch's select list): they count for the whole
 * level.
 */
#define PER_TOKEN 2
#define BRACKET 8
#define BOOL_LEVELS 4   /* an OR of ANDs */
#define STMT_LEVELS 64  /* the statement's own levels (CREATE TABLE … DEFAULT, ALTER …) */

struct level {
	int kind;           /* the opening token: '(', '[' or CASE */
	size_t seg, inner;  /* tokens of the current segment; deepest bracket in it */
	size_t best;        /* deepest closed segment */
	size_t chain;       /* JOIN / set-operation tokens of the whole level */
};

static size_t level_bound(const struct level *l)
{
	size_t cur = l->seg * PER_TOKEN + l->inner;

	return (cur > l->best ? cur : l->best) + l->chain * PER_TOKEN + BOOL_LEVELS;
}

/* What the levels open so far already nest, at the current token. */
static size_t running_depth(const struct level *lv, size_t n)
{
	size_t d = STMT_LEVELS;

	for (size_t i = 0; i < n; i++)
		d += (lv[i].seg + lv[i].chain) * PER_TOKEN + BRACKET;
	return d;
}

/* Close the innermost level into its parent. */
static void level_close(struct level *lv, size_t *n)
{
	size_t inner = level_bound(&lv[*n - 1]) + BRACKET;

	(*n)--;
	if (lv[*n - 1].inner < inner)
		lv[*n - 1].inner = inner;
}

static bool is_separator(PgQuery__Token t)
{
	return t == PG_QUERY__TOKEN__ASCII_44 || t == PG_QUERY__TOKEN__AND ||
	       t == PG_QUERY__TOKEN__OR || t == PG_QUERY__TOKEN__WHEN ||
	       t == PG_QUERY__TOKEN__THEN || t == PG_QUERY__TOKEN__ELSE;
}

static bool is_chain(PgQuery__Token t)
{
	return t == PG_QUERY__TOKEN__JOIN || t == PG_QUERY__TOKEN__UNION ||
	       t == PG_QUERY__TOKEN__INTERSECT || t == PG_QUERY__TOKEN__EXCEPT;
}

/*
 * The bound of the deepest statement in tokens; *where is the byte offset of the first token
 * at which the running depth went past limit (or of the deepest statement's first token).
 */
static size_t token_bound(const PgQuery__ScanResult *tokens, size_t limit, size_t *where)
{
	struct level *lv = xcalloc(1, sizeof(*lv));
	size_t n = 1, cap = 1, worst = 0, stmt_start = 0;
	bool placed = false;

	*where = 0;
	for (size_t i = 0; i <= tokens->n_tokens; i++) {
		const PgQuery__ScanToken *t = i < tokens->n_tokens ? tokens->tokens[i] : NULL;
		PgQuery__Token k = t ? t->token : PG_QUERY__TOKEN__ASCII_59;

		if (k == PG_QUERY__TOKEN__SQL_COMMENT || k == PG_QUERY__TOKEN__C_COMMENT)
			continue;
		if (k == PG_QUERY__TOKEN__ASCII_40 || k == PG_QUERY__TOKEN__ASCII_91 ||
		    k == PG_QUERY__TOKEN__CASE) {
			GROW(lv, cap, n + 1);
			memset(&lv[n], 0, sizeof(lv[n]));
			lv[n++].kind = (int)k;
		} else if ((k == PG_QUERY__TOKEN__ASCII_41 || k == PG_QUERY__TOKEN__ASCII_93 ||
			    k == PG_QUERY__TOKEN__END_P) && n > 1 &&
			   (k != PG_QUERY__TOKEN__END_P || lv[n - 1].kind == PG_QUERY__TOKEN__CASE)) {
			level_close(lv, &n);
		} else if (k == PG_QUERY__TOKEN__ASCII_59 && (n == 1 || !t)) {
			size_t b;

			while (n > 1)
				level_close(lv, &n);
			b = level_bound(&lv[0]) + STMT_LEVELS;
			if (b > worst) {
				worst = b;
				if (!placed)
					*where = stmt_start;
			}
			memset(&lv[0], 0, sizeof(lv[0]));
			stmt_start = t ? (size_t)t->end : 0;
			continue;
		} else if (is_separator(k) || is_chain(k) || k == PG_QUERY__TOKEN__ASCII_59) {
			size_t s = lv[n - 1].seg * PER_TOKEN + lv[n - 1].inner;

			if (s > lv[n - 1].best)
				lv[n - 1].best = s;
			lv[n - 1].seg = lv[n - 1].inner = 0;
			if (is_chain(k))
				lv[n - 1].chain++;
		} else {
			lv[n - 1].seg++;
		}
		if (!placed && t && running_depth(lv, n) > limit) {
			*where = (size_t)t->start;
			placed = true;
		}
	}
	free(lv);
	return worst;
}

/* ---- before parsing ------------------------------------------------------------------- */

static int too_deep(struct pgphase_error *err, const char *file, const char *text, size_t off,
		    const char *what)
{
	int line = 1, col = 1;

	text_position(text, off, &line, &col);
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "syntax-error", file ? file : "<sql>", line, col,
			 "%s", what);
	pgphase_error_hint(err, "PostgreSQL refuses such a statement too (stack depth limit "
			   "exceeded); split the expression or build it from smaller parts");
	return -1;
}

/* Bound one long statement [from, from + len) of text by its tokens. */
static int precheck_statement(const char *text, size_t from, size_t len, const char *file,
			      struct pgphase_error *err)
{
	char *body = xstrndup(text + from, len), *what;
	PgQueryScanResult res = pg_query_scan(body);
	PgQuery__ScanResult *tokens = NULL;
	size_t bound = 0, where = 0;
	int rc = 0;

	free(body);
	if (!res.error)
		tokens = pg_query__scan_result__unpack(NULL, res.pbuf.len,
						       (const uint8_t *)res.pbuf.data);
	pg_query_free_scan_result(res);
	if (!tokens)
		return 0; /* the parser reports what the scanner could not read */
	bound = token_bound(tokens, BIG_STACK_LEVELS, &where);
	pg_query__scan_result__free_unpacked(tokens, NULL);
	if (bound > BIG_STACK_LEVELS) {
		/* the bound is not the depth: say only that it is past the limit */
		what = xasprintf("expression nested too deeply (more than %d levels)",
				 SQL_DEPTH_LIMIT);
		rc = too_deep(err, file, text, from + where, what);
		free(what);
	}
	return rc;
}

int sql_depth_precheck(const char *text, const char *file, bool *big_stack, bool *measure,
		       struct pgphase_error *err)
{
	size_t len = strlen(text), longest = len;
	PgQuerySplitResult split;
	int rc = 0;

	if (len > BIG_STACK_LEVELS - STMT_LEVELS) {
		/* the scanner's split is enough here: a chain never crosses a semicolon */
		split = pg_query_split_with_scanner(text);
		if (split.error) {
			rc = precheck_statement(text, 0, len, file, err);
		} else {
			longest = 0;
			for (int i = 0; i < split.n_stmts && rc == 0; i++) {
				const PgQuerySplitStmt *s = split.stmts[i];

				if ((size_t)s->stmt_len > longest)
					longest = (size_t)s->stmt_len;
				if ((size_t)s->stmt_len > BIG_STACK_LEVELS - STMT_LEVELS)
					rc = precheck_statement(text, (size_t)s->stmt_location,
								(size_t)s->stmt_len, file, err);
			}
		}
		pg_query_free_split_result(split);
	}
	/* a level takes at least a byte: short statements need neither */
	*big_stack = longest > SQL_DEPTH_SMALL_TEXT;
	*measure = longest + STMT_LEVELS > SQL_DEPTH_LIMIT;
	return rc;
}

/* ---- after parsing -------------------------------------------------------------------- */

struct frame {
	const ProtobufCMessage *m;
	size_t depth; /* levels, wrappers not counted */
	size_t all;   /* messages, wrappers counted */
	int loc;      /* location of the nearest located message on the way here, -1 none */
};

/* Offset of a message type's int32 "location" field (-1 none), cached per type. */
static int location_offset(const ProtobufCMessageDescriptor *d)
{
	static _Thread_local struct {
		const ProtobufCMessageDescriptor *d;
		int off;
	} cache[512];
	size_t h = ((size_t)d >> 4) % 512;
	const ProtobufCFieldDescriptor *f;

	while (cache[h].d && cache[h].d != d)
		h = (h + 1) % 512;
	if (cache[h].d)
		return cache[h].off;
	f = protobuf_c_message_descriptor_get_field_by_name(d, "location");
	cache[h].d = d;
	cache[h].off = f && f->type == PROTOBUF_C_TYPE_INT32 && f->label != PROTOBUF_C_LABEL_REPEATED
			       ? (int)f->offset : -1;
	return cache[h].off;
}

static void push(struct frame **st, size_t *n, size_t *cap, const ProtobufCMessage *m,
		 const struct frame *parent)
{
	bool wrapper = m->descriptor == &pg_query__node__descriptor ||
		       m->descriptor == &pg_query__list__descriptor;
	int off = location_offset(m->descriptor);
	struct frame *f;

	GROW(*st, *cap, *n + 1);
	f = &(*st)[(*n)++];
	f->m = m;
	f->depth = parent ? parent->depth + (wrapper ? 0 : 1) : 1;
	f->all = parent ? parent->all + 1 : 1;
	f->loc = parent ? parent->loc : -1;
	if (off >= 0 && *(const int32_t *)((const char *)m + off) >= 0)
		f->loc = *(const int32_t *)((const char *)m + off);
}

/* Walk root iteratively; the deepest level and message counts; *loc where limit is passed. */
static void measure(const ProtobufCMessage *root, size_t limit, size_t *levels, size_t *all,
		    int *loc)
{
	struct frame *st = NULL;
	size_t n = 0, cap = 0;

	*levels = *all = 0;
	*loc = -1;
	if (!root)
		return;
	push(&st, &n, &cap, root, NULL);
	while (n) {
		struct frame f = st[--n];
		const ProtobufCMessageDescriptor *d = f.m->descriptor;
		const char *base = (const char *)f.m;

		if (f.depth > *levels) {
			if (f.depth > limit && *levels <= limit)
				*loc = f.loc;
			*levels = f.depth;
		}
		if (f.all > *all)
			*all = f.all;
		if (d == &pg_query__node__descriptor) {
			const ProtobufCMessage *held = sql_node_message((const PgQuery__Node *)f.m);

			if (held)
				push(&st, &n, &cap, held, &f);
			continue;
		}
		for (unsigned i = 0; i < d->n_fields; i++) {
			const ProtobufCFieldDescriptor *fd = &d->fields[i];

			if (fd->type != PROTOBUF_C_TYPE_MESSAGE)
				continue;
			if ((fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    *(const uint32_t *)(base + fd->quantifier_offset) != fd->id)
				continue;
			if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
				size_t k = *(const size_t *)(base + fd->quantifier_offset);
				ProtobufCMessage *const *arr =
					*(ProtobufCMessage *const *const *)(base + fd->offset);

				for (size_t j = 0; j < k; j++)
					if (arr[j])
						push(&st, &n, &cap, arr[j], &f);
			} else {
				const ProtobufCMessage *c =
					*(const ProtobufCMessage *const *)(base + fd->offset);

				if (c)
					push(&st, &n, &cap, c, &f);
			}
		}
	}
	free(st);
}

int sql_depth_check(const ProtobufCMessage *root, const char *text, const char *file,
		    struct pgphase_error *err)
{
	size_t levels, all;
	int loc, rc;
	char *what;

	measure(root, SQL_DEPTH_LIMIT, &levels, &all, &loc);
	if (levels <= SQL_DEPTH_LIMIT)
		return 0;
	what = xasprintf("expression nested too deeply (%zu levels; limit %d)", levels,
			 SQL_DEPTH_LIMIT);
	rc = too_deep(err, file, text, loc >= 0 ? (size_t)loc : 0, what);
	free(what);
	return rc;
}

size_t sql_depth_messages(const ProtobufCMessage *root)
{
	size_t levels, all;
	int loc;

	measure(root, (size_t)-1, &levels, &all, &loc);
	return all;
}

/* ---- the large stack ------------------------------------------------------------------ */

struct big_call {
	void (*fn)(void *);
	void *arg;
};

static void *big_main(void *p)
{
	struct big_call *c = p;

	/* libpg_query frees this thread's memory contexts itself when it ends (a
	   thread-specific destructor): no pg_query_exit() here */
	c->fn(c->arg);
	return NULL;
}

int sql_on_big_stack(void (*fn)(void *), void *arg)
{
	struct big_call c = { fn, arg };
	pthread_attr_t attr;
	pthread_t t;
	int rc = -1;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	if (pthread_attr_setstacksize(&attr, BIG_STACK) == 0 &&
	    pthread_create(&t, &attr, big_main, &c) == 0) {
		pthread_join(t, NULL);
		rc = 0;
	}
	pthread_attr_destroy(&attr);
	return rc;
}
