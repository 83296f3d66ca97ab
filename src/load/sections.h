/*
 * Inside a migration file: templates, section markers (-- UP / -- DOWN / -- @UNDO), phase
 * markers and -- pgphase: directives.  Comments are found by libpg_query's scanner, so a
 * marker inside a string or dollar quote is never mistaken for one.
 */
#ifndef PGPHASE_SECTIONS_H
#define PGPHASE_SECTIONS_H

#include "pgphase/migration.h"

/* Expand templates and split up (and down, for a pair) into m->up / m->down. */
int sections_split(struct pgphase_migration *m, const char *up, const char *down,
		   const struct pgphase_template_vars *vars, struct pgphase_error *err);
/* Parse statements of both sections and attach markers to statements as notes. */
int sections_parse(struct pgphase_migration *m, struct pgphase_error *err);
void sections_release(struct pgphase_section *s);

/* Expand {{schema}} and {{tables.NAME}} in text; *out is malloc'd. */
int template_expand(const char *text, const char *file, const struct pgphase_template_vars *vars,
		    char **out, struct pgphase_error *err);

#endif
