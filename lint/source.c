/*
 * One section of a migration file, ready for the rules: statements parsed by libpg_query,
 * phase markers and directives attached to the statements they govern, and a line index for
 * exact positions.
 *
 * A syntax error must not hide the rest of the file, so when the whole section does not
 * parse, it is split with libpg_query's scanner (which survives bad syntax) and every piece
 * is parsed on its own: each broken statement is reported where the parser stopped, and the
 * others are linted as usual.  Node locations of a piece are relative to the piece, so every
 * statement carries the base offset to add.
 *
 * `-- pgphase:ignore` applies to the statement on the line after it, or — written at the end
 * of a statement's first line — to that statement.
 */
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>

#include "lint.h"
#include "base/util.h"

static void build_lines(struct lint_section *sec)
{
	size_t n = 1, k = 0;

	for (size_t i = 0; i < sec->text_len; i++)
		n += sec->text[i] == '\n';
	sec->line_starts = xmalloc(n * sizeof(*sec->line_starts));
	sec->line_starts[k++] = 0;
	for (size_t i = 0; i < sec->text_len; i++)
		if (sec->text[i] == '\n')
			sec->line_starts[k++] = i + 1;
	sec->n_lines = n;
}

/* Characters (UTF-8 lead bytes) in text[from, to). */
static size_t chars(const char *text, size_t from, size_t to)
{
	size_t n = 0;

	for (size_t i = from; i < to; i++)
		n += ((unsigned char)text[i] & 0xC0) != 0x80;
	return n;
}

void lint_position(struct lint_section *sec, size_t off, int *line, int *column)
{
	size_t lo = 0, hi, start, col;

	if (!sec->line_starts) {
		build_lines(sec);
		sec->pos_off = sec->pos_line = 0;
		sec->pos_col = 1;
	}
	if (off > sec->text_len)
		off = sec->text_len;
	hi = sec->n_lines - 1;
	while (lo < hi) { /* last line start <= off */
		size_t mid = (lo + hi + 1) / 2;

		if (sec->line_starts[mid] <= off)
			lo = mid;
		else
			hi = mid - 1;
	}
	start = sec->line_starts[lo];
	if (lo == sec->pos_line && off >= sec->pos_off && off - sec->pos_off < off - start)
		col = (size_t)sec->pos_col + chars(sec->text, sec->pos_off, off);
	else if (lo == sec->pos_line && off < sec->pos_off && sec->pos_off - off < off - start)
		col = (size_t)sec->pos_col - chars(sec->text, off, sec->pos_off);
	else
		col = 1 + chars(sec->text, start, off);
	sec->pos_off = off;
	sec->pos_line = lo;
	sec->pos_col = (int)col;
	*line = (int)lo + 1;
	*column = (int)col;
}

size_t lint_first_ignore(const struct lint_section *sec, size_t stmt)
{
	size_t lo = 0, hi = sec->n_ignores;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		/* SIZE_MAX (no statement) only follows the last statement: sorts last */
		if (sec->ignores[mid].stmt < stmt)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

size_t lint_offset(const struct pgphase_lint_stmt *st, int location)
{
	size_t off;

	if (location < 0)
		return st->offset;
	off = st->base + (size_t)location;
	return off < st->sec->text_len ? off : st->offset;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* Add the statements of sql (parsed from sec->text + base), borrowing its trees. */
static void add_stmts(struct lint_section *sec, const struct pgphase_sql *sql, size_t base)
{
	for (size_t i = 0; i < sql->n; i++) {
		const struct pgphase_stmt *s = &sql->stmts[i];
		struct pgphase_lint_stmt *st;
		size_t end = base + s->offset + s->len;

		while (end > base + s->offset + 1 && is_space(sec->text[end - 1]))
			end--;
		GROW(sec->stmts, sec->cap, sec->n + 1);
		st = &sec->stmts[sec->n];
		memset(st, 0, sizeof(*st));
		st->node = s->node;
		st->sec = sec;
		st->offset = base + s->offset;
		st->end = end;
		st->base = base;
		st->index = sec->n++;
		st->down = sec->down;
	}
}

/* Take over sql (its trees are released with the section) and add its statements. */
static void add_sql(struct lint_section *sec, struct pgphase_sql *sql, size_t base)
{
	sec->sqls = xrealloc(sec->sqls, (sec->n_sqls + 1) * sizeof(*sec->sqls));
	sec->sqls[sec->n_sqls++] = *sql;
	add_stmts(sec, sql, base);
}

static void report_syntax(struct pgphase_lint_ctx *ctx, struct lint_section *sec, size_t off,
			  const char *message)
{
	int line, col;

	while (off < sec->text_len && is_space(sec->text[off]))
		off++;
	lint_position(sec, off, &line, &col);
	lint_report_file(ctx, &lint_rule_syntax_error, sec->file, line, col,
			 "fix the statement; the other statements of the file were still linted",
			 "%s", message);
}

/* Parse one piece [loc, loc + len) of the section; report it when it does not parse. */
static void parse_piece(struct pgphase_lint_ctx *ctx, struct lint_section *sec, size_t loc,
			size_t len)
{
	char *piece = xstrndup(sec->text + loc, len);
	PgQueryProtobufParseResult r = pg_query_parse_protobuf(piece);
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;

	if (r.error) {
		size_t off = r.error->cursorpos > 0 ? pgphase_cursor_to_offset(piece, r.error->cursorpos)
						    : 0;

		report_syntax(ctx, sec, loc + off, r.error->message);
		sec->broken = true;
	} else if (pgphase_sql_parse(&sql, piece, sec->file, &err) == 0) {
		add_sql(sec, &sql, loc);
	} else {
		report_syntax(ctx, sec, loc, err.message);
		sec->broken = true;
	}
	pg_query_free_protobuf_parse_result(r);
	pgphase_error_release(&err);
	free(piece);
}

/*
 * The whole section failed to parse: split it at the semicolons the scanner finds (never
 * inside strings, comments or dollar quotes) and parse piece by piece.  Parentheses are not
 * trusted to nest: an unclosed one is a common syntax error and must not swallow the
 * statements after it.  libpg_query's own pg_query_split_with_scanner() drops pieces without
 * a keyword, which would hide exactly the misspelt statements we must report.
 */
static void parse_pieces(struct pgphase_lint_ctx *ctx, struct lint_section *sec)
{
	PgQueryScanResult r = pg_query_scan(sec->text);
	PgQuery__ScanResult *t = NULL;
	size_t from = 0;
	bool tokens = false;

	if (r.error) {
		size_t off = r.error->cursorpos > 0 ? pgphase_cursor_to_offset(sec->text,
									       r.error->cursorpos)
						    : 0;

		report_syntax(ctx, sec, off, r.error->message);
		sec->broken = true;
		goto cleanup;
	}
	t = pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
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
			size_t to = tok ? (size_t)tok->start : sec->text_len;

			parse_piece(ctx, sec, from, to - from);
		}
		from = tok ? (size_t)tok->end : sec->text_len;
		tokens = false;
	}
cleanup:
	if (t)
		pg_query__scan_result__free_unpacked(t, NULL);
	pg_query_free_scan_result(r);
}

static int line_of(struct lint_section *sec, size_t off)
{
	int line, col;

	lint_position(sec, off, &line, &col);
	return line;
}

/* Index of the last statement starting before off, or SIZE_MAX (statements are sorted). */
static size_t stmt_before(const struct lint_section *sec, size_t off)
{
	size_t lo = 0, hi = sec->n;

	while (lo < hi) { /* first statement at or after off */
		size_t mid = (lo + hi) / 2;

		if (sec->stmts[mid].offset < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : SIZE_MAX;
}

static void split_ids(struct lint_ignore *ig, const char *rules)
{
	const char *p = rules;

	while (*p) {
		const char *e = p;

		while (*e && *e != ',')
			e++;
		if (e > p) {
			ig->ids = xrealloc(ig->ids, (ig->n_ids + 1) * sizeof(*ig->ids));
			ig->ids[ig->n_ids++] = xstrndup(p, (size_t)(e - p));
		}
		p = *e ? e + 1 : e;
	}
	ig->used = xcalloc(ig->n_ids ? ig->n_ids : 1, sizeof(*ig->used));
}

/* Markers before each statement become its note; ignores find their statement. */
static void attach(struct pgphase_lint_ctx *ctx, struct lint_section *sec)
{
	enum pgphase_phase phase = PGPHASE_PHASE_NONE;
	struct pgphase_stmt_note pending = { 0 };
	size_t k = 0, n_ign = 0;

	sec->notes = xcalloc(sec->n ? sec->n : 1, sizeof(*sec->notes));
	for (size_t i = 0; i < sec->n_markers; i++)
		n_ign += sec->markers[i].kind == PGPHASE_MARK_IGNORE;
	sec->ignores = xcalloc(n_ign ? n_ign : 1, sizeof(*sec->ignores));
	for (size_t i = 0; i <= sec->n; i++) {
		struct pgphase_lint_stmt *st = i < sec->n ? &sec->stmts[i] : NULL;

		for (; k < sec->n_markers && (!st || sec->markers[k].offset < st->offset); k++) {
			const struct pgphase_marker *mk = &sec->markers[k];
			size_t prev = stmt_before(sec, mk->offset);
			/* written on the first line of the statement before it (trailing comment) */
			bool trail = prev != SIZE_MAX && line_of(sec, sec->stmts[prev].offset) == mk->line;
			bool inside = prev != SIZE_MAX && sec->stmts[prev].end > mk->offset;

			if (mk->kind == PGPHASE_MARK_IGNORE && (trail || !inside)) {
				struct lint_ignore *ig = &sec->ignores[sec->n_ignores++];

				ig->marker = mk;
				ig->stmt = trail ? prev : st ? i : SIZE_MAX;
				split_ids(ig, mk->rules);
				if (ig->stmt == SIZE_MAX)
					lint_report_file(ctx, &lint_rule_unknown_directive, sec->file, mk->line,
							 mk->column, "put the directive on the line before the "
							 "statement it is about",
							 "-- pgphase:ignore is not followed by a statement");
				continue;
			}
			if (inside) {
				lint_report_file(ctx, &lint_rule_malformed_migration, sec->file, mk->line,
						 mk->column, "put markers and directives on their own line "
						 "before the statement",
						 "marker or directive inside a statement");
				continue;
			}
			if (mk->kind == PGPHASE_MARK_PHASE) {
				if (sec->down)
					lint_report_file(ctx, &lint_rule_malformed_migration, sec->file,
							 mk->line, mk->column,
							 "phases apply to UP only; remove the marker",
							 "phase marker \"-- %s\" in the DOWN section",
							 pgphase_phase_name(mk->phase));
				else
					phase = mk->phase;
				continue;
			}
			if (!st) {
				lint_report_file(ctx, &lint_rule_unknown_directive, sec->file, mk->line,
						 mk->column, "put the directive on the line before the "
						 "statement it is about",
						 "directive is not followed by a statement");
				continue;
			}
			if (mk->kind == PGPHASE_MARK_AS_IS)
				pending.as_is = true;
			else if (mk->kind == PGPHASE_MARK_BATCH_SIZE)
				pending.batch_size = mk->batch_size;
			pending.directive_line = mk->line;
		}
		if (!st)
			break;
		sec->notes[i] = pending;
		sec->notes[i].phase = phase;
		st->phase = phase;
		st->as_is = pending.as_is;
		memset(&pending, 0, sizeof(pending));
	}
}

void lint_section_parse(struct pgphase_lint_ctx *ctx, struct lint_section *sec,
			const struct pgphase_section *s, bool down, bool parsed)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_sql sql;

	memset(sec, 0, sizeof(*sec));
	sec->file = s->file;
	sec->down = down;
	if (!s->text)
		return;
	sec->text = s->text;
	sec->text_len = strlen(s->text);
	sec->markers = s->markers;
	sec->n_markers = s->n_markers;
	if (parsed) {
		/* the loader's parse: the planner's lint hook recognises these very nodes */
		add_stmts(sec, &s->sql, 0);
	} else if (pgphase_sql_parse(&sql, s->text, s->file, &err) == 0) {
		add_sql(sec, &sql, 0);
	} else {
		parse_pieces(ctx, sec);
	}
	pgphase_error_release(&err);
	attach(ctx, sec);
}

void lint_section_release(struct lint_section *sec)
{
	for (size_t i = 0; i < sec->n_sqls; i++)
		pgphase_sql_release(&sec->sqls[i]);
	free(sec->sqls);
	free(sec->stmts);
	free(sec->notes);
	for (size_t i = 0; i < sec->n_ignores; i++) {
		for (size_t k = 0; k < sec->ignores[i].n_ids; k++)
			free(sec->ignores[i].ids[k]);
		free(sec->ignores[i].ids);
		free(sec->ignores[i].used);
	}
	free(sec->ignores);
	free(sec->line_starts);
	memset(sec, 0, sizeof(*sec));
}
