/*
 * Sections, markers and directives of one migration file.
 *
 * The file text is template-expanded (values never contain newlines, so line numbers stay
 * true), then scanned for comments.  A line comment alone on its line whose body is UP, DOWN,
 * @UNDO, EXPAND, BACKFILL or CONTRACT (any case) is a marker; a line comment whose body starts
 * with "pgphase:" is a directive, and an unknown directive is a problem.  Each section's text
 * is the whole file with every byte outside the section blanked to a space (newlines kept),
 * so parser offsets are file offsets and positions need no translation.  Problems are
 * collected and the file read on (a bad marker or directive is left out); only unknown
 * templates and unreadable comments (an unterminated quote) stop the file.  Statements and
 * the attachment of directives to them are attach.c's.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "load/sections.h"
#include "base/util.h"

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

int template_expand(const char *text, const char *file, const struct pgphase_template_vars *vars,
		    char **out, struct pgphase_problems *problems)
{
	bool bad = false;

	const char *schema = vars && vars->schema ? vars->schema : "public";
	struct sbuf sb = SBUF_INIT;
	const char *p = text, *open;

	while ((open = strstr(p, "{{"))) {
		const char *q = open + 2, *name, *name_end;
		char *quoted;

		while (*q == ' ')
			q++;
		name = q;
		while (ident_char(*q) || *q == '.')
			q++;
		name_end = q;
		while (*q == ' ')
			q++;
		if (name_end == name || strncmp(q, "}}", 2) != 0) {
			/* not template-shaped (e.g. the array literal '{{1,2},{3,4}}'): leave it */
			sbuf_add(&sb, p, (size_t)(open + 2 - p));
			p = open + 2;
			continue;
		}
		sbuf_add(&sb, p, (size_t)(open - p));
		if ((size_t)(name_end - name) == 6 && strncmp(name, "schema", 6) == 0) {
			quoted = quote_ident_always(schema);
			sbuf_adds(&sb, quoted);
			free(quoted);
		} else if (name_end - name > 7 && strncmp(name, "tables.", 7) == 0 &&
			   !memchr(name + 7, '.', (size_t)(name_end - name - 7))) {
			char *table = xstrndup(name + 7, (size_t)(name_end - name - 7));
			char *qt = quote_ident_always(table);

			quoted = quote_ident_always(schema);
			sbuf_addf(&sb, "%s.%s", quoted, qt);
			free(quoted);
			free(qt);
			free(table);
		} else {
			int line, col;

			text_position(text, (size_t)(open - text), &line, &col);
			problem_add(problems, PGPHASE_PROBLEM_UNKNOWN_TEMPLATE, file, line, col,
				    "templates are {{schema}} and {{tables.NAME}}",
				    "unknown template \"{{%.*s}}\"", (int)(name_end - name), name);
			bad = true;
		}
		p = q + 2;
	}
	sbuf_adds(&sb, p);
	if (bad) {
		sbuf_release(&sb);
		*out = NULL;
		return -1;
	}
	*out = sbuf_detach(&sb);
	return 0;
}

enum marker_word { MW_NONE, MW_UP, MW_DOWN, MW_EXPAND, MW_BACKFILL, MW_CONTRACT };

/* Body of a line comment: after "--", trimmed. */
static char *comment_body(const char *text, const struct pgphase_comment *c)
{
	const char *b = text + c->offset + 2, *e = text + c->offset + c->len;

	while (b < e && isspace((unsigned char)*b))
		b++;
	while (e > b && isspace((unsigned char)e[-1]))
		e--;
	return xstrndup(b, (size_t)(e - b));
}

static enum marker_word marker_word(const char *body)
{
	static const struct {
		const char *word;
		enum marker_word mw;
	} words[] = {
		{ "UP", MW_UP },		 { "DOWN", MW_DOWN },	    { "@UNDO", MW_DOWN },
		{ "EXPAND", MW_EXPAND },	 { "BACKFILL", MW_BACKFILL }, { "CONTRACT", MW_CONTRACT },
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(body, words[i].word) == 0)
			return words[i].mw;
	return MW_NONE;
}

static void marker_release(struct pgphase_marker *mk)
{
	free(mk->rules);
	free(mk->reason);
}

#define DIRECTIVE_HINT                                                                    \
	"directives are no-transaction, as-is, ignore RULE[,RULE] reason, ignore-file "   \
	"RULE[,RULE] reason, batch-size N"

/*
 * Parse a "pgphase:..." directive body into mk (or set m->no_transaction).  A bad one is a
 * problem and -1: the caller leaves it out.
 */
static int parse_directive(struct pgphase_migration *m, const char *file, const char *body,
			   const struct pgphase_comment *c, struct pgphase_marker *mk, bool *is_marker,
			   struct pgphase_problems *problems)
{
	const char *d = body + strlen("pgphase:"), *args;
	size_t nlen = 0;

	while (d[nlen] && !isspace((unsigned char)d[nlen]))
		nlen++;
	args = d + nlen;
	while (isspace((unsigned char)*args))
		args++;
	*is_marker = false;
#define IS(word) (nlen == strlen(word) && strncmp(d, word, nlen) == 0)
#define BAD(...)                                                                          \
	do {                                                                              \
		problem_add(problems, PGPHASE_PROBLEM_BAD_DIRECTIVE, file, c->line, c->column, \
			    NULL, __VA_ARGS__);                                               \
		return -1;                                                                \
	} while (0)
	if (IS("no-transaction")) {
		m->no_transaction = true;
		return 0;
	}
	if (IS("ignore-file")) {
		/* file-wide lint suppression: -- pgphase:ignore-file RULE[,RULE] reason */
		size_t rl = strcspn(args, " \t");
		const char *reason = args + rl;

		while (isspace((unsigned char)*reason))
			reason++;
		if (rl == 0 || !*reason)
			BAD("-- pgphase:ignore-file needs RULE[,RULE] and a reason");
		free(m->ignore_file_rules);
		free(m->ignore_file_reason);
		m->ignore_file_rules = xstrndup(args, rl);
		m->ignore_file_reason = xstrdup(reason);
		return 0;
	}
	*is_marker = true;
	if (IS("as-is")) {
		mk->kind = PGPHASE_MARK_AS_IS;
	} else if (IS("batch-size")) {
		char *end;

		mk->kind = PGPHASE_MARK_BATCH_SIZE;
		mk->batch_size = strtol(args, &end, 10);
		if (end == args || *end || mk->batch_size <= 0)
			BAD("-- pgphase:batch-size needs a positive integer, got \"%s\"", args);
	} else if (IS("ignore")) {
		size_t rl = 0;

		mk->kind = PGPHASE_MARK_IGNORE;
		while (args[rl] && !isspace((unsigned char)args[rl]))
			rl++;
		if (rl == 0)
			BAD("-- pgphase:ignore needs RULE[,RULE] and a reason");
		mk->rules = xstrndup(args, rl);
		args += rl;
		while (isspace((unsigned char)*args))
			args++;
		if (!*args)
			BAD("-- pgphase:ignore %s needs a reason after the rule list", mk->rules);
		mk->reason = xstrdup(args);
	} else {
		problem_add(problems, PGPHASE_PROBLEM_BAD_DIRECTIVE, file, c->line, c->column,
			    DIRECTIVE_HINT, "unknown directive \"-- pgphase:%.*s\"", (int)nlen, d);
		return -1;
	}
#undef BAD
#undef IS
	return 0;
}

struct found {
	struct pgphase_marker *markers; /* phase markers and statement directives */
	size_t n, cap;
	size_t up_at, down_at; /* offsets of -- UP / -- DOWN markers; SIZE_MAX when absent */
	int up_line, down_line;
	struct pgphase_comment *cs; /* every comment of the file, for the statement parse */
	size_t nc;
};

/* A -- UP or -- DOWN marker: record it, or report why it does not count. */
static void section_marker(const char *file, bool pair, enum marker_word mw, const char *body,
			   const struct pgphase_comment *c, struct found *f,
			   struct pgphase_problems *problems)
{
	size_t *at = mw == MW_UP ? &f->up_at : &f->down_at;
	int *line = mw == MW_UP ? &f->up_line : &f->down_line;

	if (pair)
		problem_add(problems, PGPHASE_PROBLEM_MISPLACED_MARKER, file, c->line, c->column,
			    "a pair's .up.sql and .down.sql are its sections; remove the marker",
			    "section marker \"-- %s\" in a .up.sql/.down.sql pair file", body);
	else if (*at != SIZE_MAX)
		problem_add(problems, PGPHASE_PROBLEM_MISPLACED_MARKER, file, c->line, c->column,
			    "a file has one UP and one DOWN section",
			    "second \"-- %s\" section marker (first at line %d)", body, *line);
	else {
		*at = c->offset;
		*line = c->line;
	}
}

/*
 * The markers and directives among the comments cs of text (known: the one-pass parse found
 * them; else the scanner finds them here).  -1 when the comments cannot be read.
 */
static int collect(struct pgphase_migration *m, const char *file, const char *text, bool pair,
		   bool known, struct pgphase_comment *cs, size_t nc, struct found *f,
		   struct pgphase_problems *problems)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;

	f->up_at = f->down_at = SIZE_MAX;
	if (!known && pgphase_sql_comments(text, file, &cs, &nc, &err) < 0) {
		problem_from_error(problems, PGPHASE_PROBLEM_SYNTAX_ERROR, file, &err);
		pgphase_error_release(&err);
		return -1;
	}
	for (size_t i = 0; i < nc; i++) {
		const struct pgphase_comment *c = &cs[i];
		struct pgphase_marker mk = { 0 };
		enum marker_word mw;
		bool is_marker = false;
		char *body;

		if (!c->line_comment)
			continue;
		body = comment_body(text, c);
		mw = c->alone_on_line ? marker_word(body) : MW_NONE;
		mk.offset = c->offset;
		mk.line = c->line;
		mk.column = c->column;
		mk.trailing = !c->alone_on_line;
		mk.stmt = SIZE_MAX;
		if (mw == MW_UP || mw == MW_DOWN) {
			section_marker(file, pair, mw, body, c, f, problems);
		} else if (mw != MW_NONE) {
			mk.kind = PGPHASE_MARK_PHASE;
			mk.phase = mw == MW_EXPAND ? PGPHASE_PHASE_EXPAND
				   : mw == MW_BACKFILL ? PGPHASE_PHASE_BACKFILL : PGPHASE_PHASE_CONTRACT;
			is_marker = true;
		} else if (strncmp(body, "pgphase:", 8) == 0 &&
			   parse_directive(m, file, body, c, &mk, &is_marker, problems) < 0) {
			is_marker = false;
			marker_release(&mk);
		}
		free(body);
		if (is_marker) {
			GROW(f->markers, f->cap, f->n + 1);
			f->markers[f->n++] = mk;
		}
	}
	f->cs = cs; /* kept: the statement parse skips these without scanning again */
	f->nc = nc;
	return 0;
}

/* Hand section s its own copy of the file's comments. */
static void give_comments(struct pgphase_section *s, const struct found *f)
{
	s->comments = xmalloc((f->nc ? f->nc : 1) * sizeof(*f->cs));
	if (f->nc)
		memcpy(s->comments, f->cs, f->nc * sizeof(*f->cs));
	s->n_comments = f->nc;
}

/* Copy of text with bytes outside [from, to) blanked; newlines kept. */
static char *blank_outside(const char *text, size_t from, size_t to)
{
	size_t len = strlen(text);
	char *out = xstrdup(text);

	for (size_t i = 0; i < len; i++)
		if ((i < from || i >= to) && out[i] != '\n')
			out[i] = ' ';
	return out;
}

/* Hand the markers inside [from, to) to section s. */
static void give_markers(struct found *f, struct pgphase_section *s, size_t from, size_t to)
{
	for (size_t i = 0; i < f->n; i++) {
		struct pgphase_marker *mk = &f->markers[i];

		if (mk->offset < from || mk->offset >= to || mk->kind == (enum pgphase_marker_kind)-1)
			continue;
		s->markers = xrealloc(s->markers, (s->n_markers + 1) * sizeof(*s->markers));
		s->markers[s->n_markers++] = *mk;
		memset(mk, 0, sizeof(*mk));
		mk->kind = (enum pgphase_marker_kind)-1; /* moved */
	}
}

/*
 * A region (e.g. before "-- UP") that must hold no statement: whole is the file's parse,
 * or NULL (the file does not parse: the region is parsed alone, and a region that does not
 * parse holds a statement too).
 */
static void check_no_statements(const char *text, const struct pgphase_sql *whole, size_t from,
				size_t to, const char *file, const char *where,
				struct pgphase_problems *problems)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql = { 0 };
	const struct pgphase_stmt *first = NULL;
	char *region = NULL;

	if (whole) {
		for (size_t i = 0; i < whole->n && !first; i++)
			if (whole->stmts[i].offset >= from && whole->stmts[i].offset < to)
				first = &whole->stmts[i];
	} else {
		region = blank_outside(text, from, to);
		if (pgphase_sql_parse(&sql, region, file, &err) < 0)
			problem_from_error(problems, PGPHASE_PROBLEM_SYNTAX_ERROR, file, &err);
		else if (sql.n)
			first = &sql.stmts[0];
	}
	if (first)
		problem_add(problems, PGPHASE_PROBLEM_MISPLACED_MARKER, file, first->line,
			    first->column, "move it into a section", "statement %s", where);
	pgphase_sql_release(&sql);
	pgphase_error_release(&err);
	free(region);
}

/*
 * Hand section s the statements of whole lying in [from, to), parsed once for the whole file;
 * false (s left to parse its own text) when a statement straddles the section's edges.
 */
static bool give_statements(struct pgphase_section *s, struct pgphase_sql *whole,
			    size_t from, size_t to)
{
	if (!whole || pgphase_sql_take(&s->sql, whole, from, to) < 0)
		return false;
	s->sql_ready = true;
	return true;
}

/* Split one file (a single file, or one half of a pair: is_down_file) into sections. */
static void split_one(struct pgphase_migration *m, const char *raw, const char *file, bool pair,
		      bool is_down_file, const struct pgphase_template_vars *vars,
		      struct pgphase_problems *problems)
{
	struct found f = { 0 };
	struct pgphase_sql whole_sql = { 0 }, *whole = NULL;
	struct pgphase_comment *cs = NULL;
	struct pgphase_error perr = PGPHASE_ERROR_INIT;
	char *text = NULL;
	size_t len, nc = 0, up_from = 0, up_to, down_from, down_to;

	if (template_expand(raw, file, vars, &text, problems) < 0)
		return;
	len = strlen(text);
	/* one parse for the whole file, which also finds its comments; a file that does not
	   parse takes the slow road (scanner, then each section on its own) so problems stay
	   exact */
	if (pgphase_sql_parse_all(&whole_sql, &cs, &nc, text, file, &perr) == 0)
		whole = &whole_sql;
	pgphase_error_release(&perr);
	if (collect(m, file, text, pair, whole != NULL, cs, nc, &f, problems) < 0)
		goto cleanup;
	if (pair) {
		struct pgphase_section *s = is_down_file ? &m->down : &m->up;

		s->file = file;
		s->text = text;
		text = NULL;
		give_comments(s, &f);
		give_statements(s, whole, 0, len);
		give_markers(&f, s, 0, len);
		goto cleanup;
	}
	/* single file: work out the UP and DOWN byte ranges */
	up_to = len;
	down_from = down_to = len;
	if (f.up_at != SIZE_MAX && f.down_at != SIZE_MAX && f.down_at < f.up_at) {
		down_from = f.down_at;
		down_to = f.up_at;
		up_from = f.up_at;
		check_no_statements(text, whole, 0, f.down_at, file, "before the -- DOWN marker",
				    problems);
	} else {
		if (f.up_at != SIZE_MAX) {
			up_from = f.up_at;
			check_no_statements(text, whole, 0, f.up_at, file, "before the -- UP marker",
					    problems);
		}
		if (f.down_at != SIZE_MAX) {
			up_to = f.down_at;
			down_from = f.down_at;
		}
	}
	m->up.file = m->down.file = file;
	m->up.marker_line = f.up_line;
	m->down.marker_line = f.down_line;
	m->up.text = blank_outside(text, up_from, up_to);
	give_comments(&m->up, &f);
	give_statements(&m->up, whole, up_from, up_to);
	if (f.down_at != SIZE_MAX) {
		m->down.text = blank_outside(text, down_from, down_to);
		give_comments(&m->down, &f);
		give_statements(&m->down, whole, down_from, down_to);
	}
	give_markers(&f, &m->up, up_from, up_to);
	give_markers(&f, &m->down, down_from, down_to);
cleanup:
	for (size_t i = 0; i < f.n; i++)
		marker_release(&f.markers[i]);
	free(f.markers);
	free(f.cs);
	free(text);
	pgphase_sql_release(&whole_sql);
}

void sections_split(struct pgphase_migration *m, const char *up, const char *down,
		    const struct pgphase_template_vars *vars, struct pgphase_problems *problems)
{
	bool pair = m->down_file != NULL;

	if (up)
		split_one(m, up, m->file, pair, false, vars, problems);
	if (down)
		split_one(m, down, m->down_file, true, true, vars, problems);
}

void sections_parse(struct pgphase_migration *m, struct pgphase_problems *problems)
{
	section_statements(&m->up, false, problems);
	section_statements(&m->down, true, problems);
	/* a section lost to a syntax error has said so already */
	if (m->file && !m->loose && !m->up.present && !m->up.broken && m->up.text)
		problem_add(problems, PGPHASE_PROBLEM_EMPTY_MIGRATION, m->file,
			    m->up.marker_line ? m->up.marker_line : 1, 0,
			    "add the migration's statements, or delete the file",
			    "migration has no statements in its UP section");
}

void sections_release(struct pgphase_section *s)
{
	for (size_t i = 0; s->notes && i < s->sql.n; i++) {
		free(s->notes[i].ignore_rules);
		free(s->notes[i].ignore_reason);
	}
	free(s->notes);
	free(s->comments);
	free(s->text);
	pgphase_sql_release(&s->sql);
	for (size_t i = 0; i < s->n_pieces; i++)
		pgphase_sql_release(&s->pieces[i]);
	free(s->pieces);
	free(s->base);
	for (size_t i = 0; i < s->n_markers; i++)
		marker_release(&s->markers[i]);
	free(s->markers);
	memset(s, 0, sizeof(*s));
}
