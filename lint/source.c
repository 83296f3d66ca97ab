/*
 * One section of a migration file, ready for the rules: the front end's statements
 * (src/load/: parsed, recovered after syntax errors, directives attached by the one rule all
 * commands share), their notes and the ignore directives that apply to each, and a line index
 * for exact positions.  Nothing here reads files, markers or directives itself.
 */
#include <stdlib.h>
#include <string.h>

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

/* The front end's statements of s, their positions as absolute offsets in s->text. */
static void add_stmts(struct lint_section *sec, const struct pgphase_section *s)
{
	sec->stmts = xcalloc(s->sql.n ? s->sql.n : 1, sizeof(*sec->stmts));
	sec->cap = s->sql.n;
	for (size_t i = 0; i < s->sql.n; i++) {
		const struct pgphase_stmt *ps = &s->sql.stmts[i];
		struct pgphase_lint_stmt *st = &sec->stmts[sec->n];
		size_t end = ps->offset + ps->len;

		while (end > ps->offset + 1 && is_space(sec->text[end - 1]))
			end--;
		st->node = ps->node;
		st->sec = sec;
		st->offset = ps->offset;
		st->end = end;
		st->base = s->base ? s->base[i] : 0;
		st->index = sec->n++;
		st->down = sec->down;
		st->phase = s->notes[i].phase;
		st->as_is = s->notes[i].as_is;
	}
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

static int cmp_ignores(const void *a, const void *b)
{
	const struct lint_ignore *x = a, *y = b;

	if (x->stmt != y->stmt)
		return x->stmt < y->stmt ? -1 : 1;
	return x->marker->offset < y->marker->offset ? -1 : x->marker->offset > y->marker->offset;
}

/* Every -- pgphase:ignore the front end attached to a statement, in statement order. */
static void add_ignores(struct lint_section *sec, const struct pgphase_section *s)
{
	bool sorted = true;

	sec->ignores = xcalloc(s->n_markers ? s->n_markers : 1, sizeof(*sec->ignores));
	for (size_t i = 0; i < s->n_markers; i++) {
		const struct pgphase_marker *mk = &s->markers[i];
		struct lint_ignore *ig;

		if (mk->kind != PGPHASE_MARK_IGNORE || mk->stmt == SIZE_MAX)
			continue;
		ig = &sec->ignores[sec->n_ignores++];
		ig->marker = mk;
		ig->stmt = mk->stmt;
		split_ids(ig, mk->rules);
		if (sec->n_ignores > 1 && ig[-1].stmt > ig->stmt)
			sorted = false;
	}
	if (!sorted)
		qsort(sec->ignores, sec->n_ignores, sizeof(*sec->ignores), cmp_ignores);
}

void lint_section_build(struct lint_section *sec, const struct pgphase_section *s, bool down)
{
	memset(sec, 0, sizeof(*sec));
	sec->file = s->file;
	sec->down = down;
	if (!s->text)
		return;
	sec->text = s->text;
	sec->text_len = strlen(s->text);
	sec->broken = s->broken;
	sec->notes = s->notes;
	add_stmts(sec, s);
	add_ignores(sec, s);
}

void lint_section_release(struct lint_section *sec)
{
	free(sec->stmts);
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
