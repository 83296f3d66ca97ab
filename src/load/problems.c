/*
 * The problem list of the front end: what is wrong with the migration files, each with a
 * kind, a place and a message, collected so that one run names every one.  This file only
 * keeps and formats the list; finding problems is the loader's job, and what a problem means
 * is the caller's (commands refuse, lint maps each kind to its rule).
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "load/sections.h"
#include "base/util.h"

static const char *const kind_names[PGPHASE_PROBLEM_KINDS] = {
	[PGPHASE_PROBLEM_BAD_FILE_NAME] = "bad-file-name",
	[PGPHASE_PROBLEM_DUPLICATE_VERSION] = "duplicate-version",
	[PGPHASE_PROBLEM_BAD_ENCODING] = "bad-encoding",
	[PGPHASE_PROBLEM_UNKNOWN_TEMPLATE] = "unknown-template",
	[PGPHASE_PROBLEM_BAD_DIRECTIVE] = "unknown-directive",
	[PGPHASE_PROBLEM_DANGLING_DIRECTIVE] = "dangling-directive",
	[PGPHASE_PROBLEM_MISPLACED_MARKER] = "section-marker",
	[PGPHASE_PROBLEM_EMPTY_MIGRATION] = "empty-migration",
	[PGPHASE_PROBLEM_SYNTAX_ERROR] = "syntax-error",
};

const char *pgphase_problem_kind_name(enum pgphase_problem_kind kind)
{
	return (size_t)kind < PGPHASE_PROBLEM_KINDS ? kind_names[kind] : "problem";
}

void problem_add(struct pgphase_problems *p, enum pgphase_problem_kind kind, const char *file,
		 int line, int column, const char *hint, const char *fmt, ...)
{
	struct pgphase_problem *pr;
	va_list ap;

	GROW(p->v, p->cap, p->n + 1);
	pr = &p->v[p->n++];
	pr->kind = kind;
	pr->file = xstrdup(file ? file : "<sql>");
	pr->line = line > 0 ? line : 1;
	pr->column = column > 0 ? column : 0;
	pr->hint = hint ? xstrdup(hint) : NULL;
	va_start(ap, fmt);
	pr->message = xvasprintf(fmt, ap);
	va_end(ap);
}

/* The message of a located error without its "file:line[:col]: " prefix. */
static const char *bare_message(const struct pgphase_error *err)
{
	const char *m = err->message ? err->message : "failed";
	size_t fl = err->file ? strlen(err->file) : 0;

	if (!fl || strncmp(m, err->file, fl) != 0 || m[fl] != ':')
		return m;
	/* skip ":line" and ":column", then ": " */
	m += fl;
	while (*m == ':' && m[1] >= '0' && m[1] <= '9') {
		m++;
		while (*m >= '0' && *m <= '9')
			m++;
	}
	return strncmp(m, ": ", 2) == 0 ? m + 2 : err->message;
}

void problem_from_error(struct pgphase_problems *p, enum pgphase_problem_kind kind,
			const char *file, const struct pgphase_error *err)
{
	problem_add(p, kind, err->file ? err->file : file, err->file ? err->line : 1,
		    err->file ? err->column : 0, err->hint, "%s", bare_message(err));
}

void pgphase_problems_release(struct pgphase_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].file);
		free(p->v[i].message);
		free(p->v[i].hint);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

static void add_line(struct sbuf *sb, const struct pgphase_problem *pr)
{
	if (pr->column)
		sbuf_addf(sb, "%s:%d:%d: %s", pr->file, pr->line, pr->column, pr->message);
	else
		sbuf_addf(sb, "%s:%d: %s", pr->file, pr->line, pr->message);
}

int pgphase_problems_error(const struct pgphase_problems *p, struct pgphase_error *err)
{
	const struct pgphase_problem *first = &p->v[0];
	struct sbuf sb = SBUF_INIT;

	if (!p->n)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "no problem");
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, pgphase_problem_kind_name(first->kind),
			 first->file, first->line, first->column, "%s", first->message);
	for (size_t i = 1; i < p->n; i++) {
		if (i > 1)
			sbuf_adds(&sb, "\n");
		add_line(&sb, &p->v[i]);
	}
	if (sb.buf && err)
		pgphase_error_detail(err, "%s", sb.buf);
	if (first->hint && err)
		pgphase_error_hint(err, "%s", first->hint);
	sbuf_release(&sb);
	return -1;
}
