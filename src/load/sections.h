/*
 * Private to src/load/: the steps of reading one migration file (sections.c: templates,
 * section markers, phase markers, directives; attach.c: statements and the attachment of
 * directives to them) and the problem list they fill (problems.c).  Comments are found by
 * libpg_query's scanner, so a marker inside a string or dollar quote is never mistaken for
 * one.
 */
#ifndef PGPHASE_SECTIONS_H
#define PGPHASE_SECTIONS_H

#include "pgphase/migration.h"

/* Append a problem; the message is formatted, hint copied (may be NULL). */
void problem_add(struct pgphase_problems *p, enum pgphase_problem_kind kind, const char *file,
		 int line, int column, const char *hint, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* Append the located error err (from the parser or scanner) as a problem of kind. */
void problem_from_error(struct pgphase_problems *p, enum pgphase_problem_kind kind,
			const char *file, const struct pgphase_error *err);

/*
 * Expand templates and split up (and down, for a pair; up NULL for a .down.sql alone) into
 * m->up / m->down, with their markers.  Problems are appended; a file whose templates or
 * comments cannot be read leaves its sections empty.
 */
void sections_split(struct pgphase_migration *m, const char *up, const char *down,
		    const struct pgphase_template_vars *vars, struct pgphase_problems *problems);
/* Statements of both sections (recovering from syntax errors) and their notes; an empty UP
 * section is a problem. */
void sections_parse(struct pgphase_migration *m, struct pgphase_problems *problems);
void sections_release(struct pgphase_section *s);

/* Expand {{schema}} and {{tables.NAME}} in text; *out is malloc'd.  -1 (problems appended,
 * *out NULL) when a template name is unknown. */
int template_expand(const char *text, const char *file, const struct pgphase_template_vars *vars,
		    char **out, struct pgphase_problems *problems);

/* attach.c: parse s (unless the whole-file parse filled it), then attach markers. */
void section_statements(struct pgphase_section *s, bool down, struct pgphase_problems *problems);

#endif
