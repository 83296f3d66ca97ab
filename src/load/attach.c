/*
 * The statements of one section and what its markers and directives say about them.
 *
 * Statements: the whole-file parse usually filled the section already; otherwise the section
 * is parsed on its own, and when it does not parse, a syntax error must not hide the rest:
 * the section is split at the semicolons libpg_query's scanner finds (never inside strings,
 * comments or dollar quotes) and every piece is parsed alone.  Each broken piece is a problem
 * at the place the parser stopped; the others are kept, with the offset their node locations
 * count from (section->base).
 *
 * Attachment, the one rule every command and the linter share:
 *   - a directive alone on its line applies to the next statement;
 *   - a directive written after code on its line applies to the statement that code belongs
 *     to (`CREATE INDEX i ON t (a); -- pgphase:as-is`, or a comment ending any line of a
 *     multi-line statement): that is what the writer points at;
 *   - a phase marker places every statement after it, up to the next phase marker;
 *   - a marker or directive alone on a line inside a statement, a directive with no statement
 *     to apply to, and a phase marker in DOWN are problems (left out).
 * This file does not read markers (sections.c) and does not interpret directives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "load/sections.h"
#include "base/util.h"

/* Byte range of statement i: [offset, stmt_end) in the section text. */
static size_t stmt_end(const struct pgphase_section *s, size_t i)
{
	return s->sql.stmts[i].offset + s->sql.stmts[i].len;
}

/* ---- recovery after a syntax error ---- */

struct recovery {
	struct pgphase_section *s;
	struct text_cursor tc; /* positions only move forward */
	size_t cap;
	struct pgphase_problems *problems;
};

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static void syntax_problem(struct recovery *r, size_t off, const char *message)
{
	int line, col;

	while (r->s->text[off] && is_space(r->s->text[off]))
		off++;
	text_cursor_to(r->s->text, &r->tc, off, &line, &col);
	problem_add(r->problems, PGPHASE_PROBLEM_SYNTAX_ERROR, r->s->file, line, col,
		    "fix the statement; the other statements of the file were still read", "%s",
		    message);
	r->s->broken = true;
}

/* Move the statements of sql, parsed from text + loc, to the end of the section's list. */
static void keep_piece(struct recovery *r, struct pgphase_sql *sql, size_t loc)
{
	struct pgphase_section *s = r->s;
	int col;

	for (size_t i = 0; i < sql->n; i++) {
		struct pgphase_stmt *st;

		GROW(s->sql.stmts, r->cap, s->sql.n + 1);
		s->base = xrealloc(s->base, r->cap * sizeof(*s->base));
		st = &s->sql.stmts[s->sql.n];
		*st = sql->stmts[i];
		st->offset += loc;
		text_cursor_to(s->text, &r->tc, st->offset, &st->line, &st->column);
		text_cursor_to(s->text, &r->tc, st->offset + (st->len ? st->len - 1 : 0), &st->end_line,
			       &col);
		s->base[s->sql.n++] = loc;
	}
	free(sql->stmts); /* their texts moved; the tree stays with the piece */
	sql->stmts = NULL;
	sql->n = 0;
	s->pieces = xrealloc(s->pieces, (s->n_pieces + 1) * sizeof(*s->pieces));
	s->pieces[s->n_pieces++] = *sql;
}

/* Byte offset of 1-based line and column (in characters) in text; 0 for line 0. */
static size_t offset_of(const char *text, int line, int column)
{
	size_t off = 0;

	if (line <= 0)
		return 0;
	for (int l = 1; l < line && text[off]; off++)
		if (text[off] == '\n')
			l++;
	for (int c = 1; c < column && text[off]; c++) {
		off++;
		while (((unsigned char)text[off] & 0xC0) == 0x80)
			off++;
	}
	return off;
}

/* Parse one piece [loc, loc + len); a piece that does not parse is a problem. */
static void parse_piece(struct recovery *r, size_t loc, size_t len)
{
	char *piece = xstrndup(r->s->text + loc, len);
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;

	if (pgphase_sql_parse(&sql, piece, r->s->file, &err) == 0) {
		keep_piece(r, &sql, loc);
	} else {
		/* the error's place, from its line and column in the piece (parsing the piece
		   again with libpg_query alone would recurse over a too deeply nested one) */
		size_t off = offset_of(piece, err.line, err.column);
		size_t prefix = err.line ? (size_t)snprintf(NULL, 0, "%s:%d:%d: ", r->s->file,
							    err.line, err.column) : 0;

		syntax_problem(r, loc + off, strlen(err.message) > prefix &&
					     strncmp(err.message, r->s->file, strlen(r->s->file)) == 0
					     ? err.message + prefix : err.message);
	}
	pgphase_error_release(&err);
	free(piece);
}

/*
 * The section failed to parse: parse it piece by piece.  Parentheses are not trusted to
 * nest: an unclosed one is a common syntax error and must not swallow the statements after
 * it.  libpg_query's pg_query_split_with_scanner() drops pieces without a keyword, which would
 * hide exactly the misspelt statements to report.
 */
static void recover(struct pgphase_section *s, struct pgphase_problems *problems)
{
	struct recovery r = { s, TEXT_CURSOR_INIT, 0, problems };
	size_t text_len = strlen(s->text), from = 0;
	PgQueryScanResult sr = pg_query_scan(s->text);
	PgQuery__ScanResult *t = NULL;
	bool tokens = false;

	memset(&s->sql, 0, sizeof(s->sql));
	if (sr.error) {
		syntax_problem(&r, sr.error->cursorpos > 0
					   ? pgphase_cursor_to_offset(s->text, sr.error->cursorpos) : 0,
			       sr.error->message);
		goto cleanup;
	}
	t = pg_query__scan_result__unpack(NULL, sr.pbuf.len, (const uint8_t *)sr.pbuf.data);
	for (size_t i = 0; t && i <= t->n_tokens; i++) {
		const PgQuery__ScanToken *tok = i < t->n_tokens ? t->tokens[i] : NULL;
		int kind = tok ? (int)tok->token : PG_QUERY__TOKEN__ASCII_59;

		if (kind == PG_QUERY__TOKEN__SQL_COMMENT || kind == PG_QUERY__TOKEN__C_COMMENT)
			continue;
		if (kind != PG_QUERY__TOKEN__ASCII_59) {
			tokens = true;
			continue;
		}
		if (tokens) {
			size_t to = tok ? (size_t)tok->start : text_len;

			parse_piece(&r, from, to - from);
		}
		from = tok ? (size_t)tok->end : text_len;
		tokens = false;
	}
cleanup:
	if (t)
		pg_query__scan_result__free_unpacked(t, NULL);
	pg_query_free_scan_result(sr);
}

/* ---- attachment ---- */

/* Index of the last statement starting before off, or SIZE_MAX (statements are sorted). */
static size_t stmt_before(const struct pgphase_section *s, size_t off)
{
	size_t lo = 0, hi = s->sql.n;

	while (lo < hi) { /* first statement at or after off */
		size_t mid = (lo + hi) / 2;

		if (s->sql.stmts[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : SIZE_MAX;
}

/*
 * A trailing directive after statement prev (not inside it): does the code before it on its
 * line belong to prev — prev's last line, or the ';' that ends prev?  Only the gap between
 * the two is read (white space, ';' and comments), so the cost is linear overall.
 */
static bool ends_on_marker_line(const struct pgphase_section *s, size_t prev,
				const struct pgphase_marker *mk)
{
	size_t e = stmt_end(s, prev), p = mk->offset;

	while (p > e && s->text[p - 1] != '\n')
		if (s->text[--p] == ';')
			return true;
	return p == e;
}

static void apply_directive(struct pgphase_stmt_note *note, const struct pgphase_marker *mk)
{
	switch (mk->kind) {
	case PGPHASE_MARK_AS_IS:
		note->as_is = true;
		break;
	case PGPHASE_MARK_BATCH_SIZE:
		note->batch_size = mk->batch_size;
		break;
	case PGPHASE_MARK_IGNORE:
		free(note->ignore_rules);
		free(note->ignore_reason);
		note->ignore_rules = xstrdup(mk->rules);
		note->ignore_reason = xstrdup(mk->reason);
		break;
	case PGPHASE_MARK_PHASE:
		return;
	}
	note->directive_line = mk->line;
}

/* The statement directive mk applies to, or SIZE_MAX after reporting why none. */
static size_t target_of(const struct pgphase_section *s, const struct pgphase_marker *mk,
			struct pgphase_problems *problems)
{
	size_t prev = stmt_before(s, mk->offset);
	bool inside = prev != SIZE_MAX && mk->offset < stmt_end(s, prev);

	if (mk->trailing && prev != SIZE_MAX && (inside || ends_on_marker_line(s, prev, mk)))
		return prev;
	if (inside) {
		problem_add(problems, PGPHASE_PROBLEM_MISPLACED_MARKER, s->file, mk->line, mk->column,
			    "put markers and directives on their own line before the statement, "
			    "or at the end of one of its lines",
			    "marker or directive inside a statement");
		return SIZE_MAX;
	}
	if (prev == SIZE_MAX ? s->sql.n == 0 : prev + 1 >= s->sql.n) {
		problem_add(problems, PGPHASE_PROBLEM_DANGLING_DIRECTIVE, s->file, mk->line,
			    mk->column, "put the directive on the line before the statement it is "
			    "about, or at the end of the statement's line",
			    "directive is not followed by a statement");
		return SIZE_MAX;
	}
	return prev == SIZE_MAX ? 0 : prev + 1;
}

static void attach(struct pgphase_section *s, bool down, struct pgphase_problems *problems)
{
	enum pgphase_phase phase = PGPHASE_PHASE_NONE;
	size_t placed = 0; /* statements before this index have their phase */

	s->notes = xcalloc(s->sql.n ? s->sql.n : 1, sizeof(*s->notes));
	for (size_t k = 0; k < s->n_markers; k++) {
		struct pgphase_marker *mk = &s->markers[k];
		size_t prev;

		mk->stmt = SIZE_MAX;
		if (mk->kind != PGPHASE_MARK_PHASE) {
			mk->stmt = target_of(s, mk, problems);
			if (mk->stmt != SIZE_MAX)
				apply_directive(&s->notes[mk->stmt], mk);
			continue;
		}
		prev = stmt_before(s, mk->offset);
		if (down) {
			problem_add(problems, PGPHASE_PROBLEM_MISPLACED_MARKER, s->file, mk->line,
				    mk->column, "phases apply to UP only; remove the marker",
				    "phase marker \"-- %s\" in the DOWN section",
				    pgphase_phase_name(mk->phase));
		} else if (prev != SIZE_MAX && mk->offset < stmt_end(s, prev)) {
			problem_add(problems, PGPHASE_PROBLEM_MISPLACED_MARKER, s->file, mk->line,
				    mk->column, "put markers on their own line before the statement",
				    "marker or directive inside a statement");
		} else {
			for (; placed < s->sql.n && s->sql.stmts[placed].offset < mk->offset; placed++)
				s->notes[placed].phase = phase;
			phase = mk->phase;
		}
	}
	for (; placed < s->sql.n; placed++)
		s->notes[placed].phase = phase;
}

void section_statements(struct pgphase_section *s, bool down, struct pgphase_problems *problems)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;

	if (!s->text)
		return;
	if (!s->sql_ready &&
	    pgphase_sql_parse_with_comments(&s->sql, s->text, s->file, s->comments, s->n_comments,
					    &err) < 0)
		recover(s, problems);
	pgphase_error_release(&err);
	s->sql_ready = true;
	attach(s, down, problems);
	s->present = s->sql.n > 0;
}
