/*
 * From command-line paths to the migrations the linter walks.  A directory is one unit:
 * every migration in it is linted.  Files named on the command line are grouped by
 * directory, and each group is linted with the other migrations of its directory loaded as
 * context (not reported on), so "an index exists elsewhere in the directory" and "a CHECK was
 * validated by an earlier migration" hold when CI lints only the changed files.
 *
 * The loader (src/load/loader.c) stops a directory load at the first naming problem; the linter
 * instead names, pairs and orders files itself with pgphase_parse_file_name() and loads
 * each file on its own, so one bad name or one broken file becomes a finding and the rest
 * is still linted.  Only a path that cannot be read at all is a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lint.h"
#include "pgphase/log.h"
#include "base/util.h"

static struct lint_unit *new_unit(struct lint_unit **units, size_t *n, const char *dir,
				  const char *prefix, bool whole)
{
	struct lint_unit *u;

	*units = xrealloc(*units, (*n + 1) * sizeof(**units));
	u = &(*units)[(*n)++];
	memset(u, 0, sizeof(*u));
	u->dir = xstrdup(dir);
	u->prefix = xstrdup(prefix);
	u->whole = whole;
	return u;
}

int lint_units_build(const char *const *paths, size_t n, struct lint_unit **units,
		     size_t *n_units, struct pgphase_error *err)
{
	*units = NULL;
	*n_units = 0;
	for (size_t i = 0; i < n; i++) {
		const char *path = paths[i], *slash = strrchr(path, '/');
		struct lint_unit *u = NULL;
		struct stat sb;
		char *dir, *prefix;

		if (stat(path, &sb) < 0)
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot read \"%s\": %s", path,
						 strerror(errno));
		if (S_ISDIR(sb.st_mode)) {
			size_t len = strlen(path);

			prefix = len && path[len - 1] == '/' ? xstrdup(path) : xasprintf("%s/", path);
			new_unit(units, n_units, path, prefix, true);
			free(prefix);
			continue;
		}
		if (!S_ISREG(sb.st_mode))
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
						 "cannot lint \"%s\": not a file or directory", path);
		dir = slash ? xstrndup(path, (size_t)(slash - path + 1)) : xstrdup(".");
		prefix = slash ? xstrndup(path, (size_t)(slash - path + 1)) : xstrdup("");
		for (size_t k = 0; k < *n_units; k++)
			if (!(*units)[k].whole && strcmp((*units)[k].prefix, prefix) == 0)
				u = &(*units)[k];
		if (!u)
			u = new_unit(units, n_units, dir, prefix, false);
		u->only = xrealloc(u->only, (u->n_only + 1) * sizeof(*u->only));
		u->only[u->n_only++] = xstrdup(slash ? slash + 1 : path);
		free(dir);
		free(prefix);
	}
	return 0;
}


static bool wanted(const struct lint_unit *u, const char *name)
{
	if (u->whole)
		return true;
	for (size_t i = 0; i < u->n_only; i++)
		if (strcmp(u->only[i], name) == 0)
			return true;
	return false;
}

static struct lint_file *add_file(struct lint_unit *u, int64_t version, bool named)
{
	struct lint_file *f;

	GROW(u->files, u->cap, u->n + 1);
	f = &u->files[u->n++];
	memset(f, 0, sizeof(*f));
	f->version = version;
	f->named = named;
	return f;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Name one directory entry: pair it, flag duplicates, or report a bad name. */
static void name_entry(struct pgphase_lint_ctx *ctx, struct lint_unit *u, const char *base,
		       char **names_of, struct lint_map *versions)
{
	char *path = xasprintf("%s%s", u->prefix, base), *vtext = NULL, *name = NULL;
	enum pgphase_name_style style;
	const char *why = NULL;
	bool lint = wanted(u, base);
	int64_t version = 0;
	int part = 0;
	int r = pgphase_parse_file_name(base, &version, &vtext, &name, &style, &part, &why);
	struct lint_file *f = NULL;

	ctx->linting = lint;
	if (r < 0) {
		lint_report_file(ctx, &lint_rule_bad_file_name, path, 1, 1,
				 "name it NNN_description.sql, VNNN__description.sql or "
				 "YYYYMMDDHHMMSS_description.sql (see DESIGN §4)",
				 "malformed migration file name: %s", why);
	} else if (r == 0) {
		if (lint && !u->whole) {
			f = add_file(u, 0, false); /* a loose SQL file named on the command line */
			f->path = path;
			path = NULL;
			f->lint = true;
		} else if (u->whole && ends_with(base, ".sql")) {
			pgphase_warn("ignoring \"%s\": not a migration file name", path);
		}
	} else {
		char vkey[32];
		struct lint_obj *first;

		snprintf(vkey, sizeof(vkey), "%lld", (long long)version);
		first = lint_map_get(versions, vkey);
		if (first) { /* only the first file of a version pairs with it or clashes */
			struct lint_file *o = &u->files[first->migration];
			size_t i = (size_t)first->migration;

			if (part == 2 && !o->down_path && o->path && ends_with(o->path, ".up.sql") &&
			    strcmp(names_of[i], name) == 0) {
				o->down_path = path;
				f = o;
			} else if (part == 1 && !o->path && strcmp(names_of[i], name) == 0) {
				o->path = path;
				f = o;
			} else { /* linted as a migration of its own */
				lint_report_file(ctx, &lint_rule_duplicate_version, path, 1, 1,
						 "give each migration its own version; renumber this one "
						 "after the newest",
						 "duplicate migration version %s (also %s)", vtext,
						 o->path ? o->path : o->down_path);
			}
			if (f)
				path = NULL;
		}
		if (!f) {
			if (!first)
				lint_map_put(versions, vkey)->migration = (int)u->n;
			f = add_file(u, version, true);
			if (part == 2)
				f->down_path = path;
			else
				f->path = path;
			path = NULL;
			names_of[u->n - 1] = name;
			name = NULL;
		}
		f->lint |= lint;
	}
	free(path);
	free(vtext);
	free(name);
}

static int cmp_files(const void *a, const void *b)
{
	const struct lint_file *x = a, *y = b;
	const char *px = x->path ? x->path : x->down_path, *py = y->path ? y->path : y->down_path;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(px, py);
}

/* The message of a located error without its "file:line:col: " prefix. */
static const char *bare_message(const struct pgphase_error *err)
{
	char prefix[4200];
	int n;

	if (!err->file)
		return err->message;
	n = err->column ? snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", err->file, err->line,
				   err->column)
			: snprintf(prefix, sizeof(prefix), "%s:%d: ", err->file, err->line);
	if (n > 0 && (size_t)n < sizeof(prefix) && strncmp(err->message, prefix, (size_t)n) == 0)
		return err->message + n;
	return err->message;
}

static const struct pgphase_lint_rule *rule_for_kind(const char *kind)
{
	if (strcmp(kind, "syntax-error") == 0)
		return &lint_rule_syntax_error;
	if (strcmp(kind, "unknown-directive") == 0 || strcmp(kind, "unknown-template") == 0)
		return &lint_rule_unknown_directive;
	if (strcmp(kind, "bad-file-name") == 0)
		return &lint_rule_bad_file_name;
	if (strcmp(kind, "duplicate-version") == 0)
		return &lint_rule_duplicate_version;
	return &lint_rule_malformed_migration;
}

/* Load one file; a loader problem is a finding, an unreadable file an error (-1). */
static int load_one(struct pgphase_lint_ctx *ctx, struct pgphase_migration *m, const char *path,
		    bool *loaded, struct pgphase_error *err)
{
	struct pgphase_error e = PGPHASE_ERROR_INIT;

	if (pgphase_migration_load_file(m, path, ctx->opts->vars, &e) == 0) {
		*loaded = true;
		return 0;
	}
	if (!e.kind) {
		pgphase_error_move(err, &e);
		return -1;
	}
	lint_report_file(ctx, rule_for_kind(e.kind), e.file ? e.file : path, e.file ? e.line : 1,
			 e.file ? e.column : 1, e.hint ? e.hint : "fix the file so pgphase can load it",
			 "%s", bare_message(&e));
	pgphase_error_release(&e);
	return 0;
}

int lint_file_load(struct pgphase_lint_ctx *ctx, struct lint_file *f, struct pgphase_error *err)
{
	const char *display = f->path ? f->path : f->down_path;

	ctx->linting = f->lint;
	if (f->lint)
		lint_file_index(ctx, display); /* files are listed in lint order */
	if (!f->path)
		lint_report_file(ctx, &lint_rule_bad_file_name, f->down_path, 1, 1,
				 "add the matching .up.sql file or rename this one",
				 "down file without a matching .up.sql");
	if (f->path && load_one(ctx, &f->m, f->path, &f->loaded, err) < 0)
		return -1;
	if (f->down_path && load_one(ctx, &f->dm, f->down_path, &f->down_loaded, err) < 0)
		return -1;
	if (f->loaded) {
		/* the loader's own parse when the file is sound (so the planner sees the same
		 * nodes); otherwise statement by statement here, reporting what is broken */
		struct pgphase_error e = PGPHASE_ERROR_INIT;
		bool parsed = pgphase_migration_parse(&f->m, &e) == 0;

		pgphase_error_release(&e);
		lint_section_parse(ctx, &f->up, &f->m.up, false, parsed);
		if (f->m.down.text)
			lint_section_parse(ctx, &f->down, &f->m.down, true, parsed);
	}
	if (f->down_loaded && !f->down.text)
		lint_section_parse(ctx, &f->down, &f->dm.up, true, false);
	if (f->loaded && f->named && !f->up.n && !f->up.broken)
		lint_report_file(ctx, &lint_rule_malformed_migration, f->path,
				 f->m.up.marker_line ? f->m.up.marker_line : 1, 1,
				 "add the migration's statements, or delete the file",
				 "migration has no statements in its UP section");
	return 0;
}

int lint_unit_list(struct pgphase_lint_ctx *ctx, struct lint_unit *u, struct pgphase_error *err)
{
	size_t n = 0;
	char **names = list_dir_sorted(u->dir, &n), **names_of;
	struct lint_map versions; /* version → index of its first file */

	if (!names && u->whole)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot open directory \"%s\": %s",
					 u->dir, strerror(errno));
	if (!names) { /* a file whose directory cannot be listed: lint just the files */
		names = xcalloc(u->n_only + 1, sizeof(*names));
		for (size_t i = 0; i < u->n_only; i++)
			names[n++] = xstrdup(u->only[i]);
	}
	names_of = xcalloc(n + 1, sizeof(*names_of));
	lint_map_init(&versions);
	for (size_t i = 0; i < n; i++)
		name_entry(ctx, u, names[i], names_of, &versions);
	lint_map_release(&versions);
	for (size_t i = 0; i < u->n; i++)
		free(names_of[i]);
	free(names_of);
	if (u->n)
		qsort(u->files, u->n, sizeof(*u->files), cmp_files);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return 0;
}

void lint_file_release(struct lint_file *f)
{
	lint_section_release(&f->up);
	lint_section_release(&f->down);
	if (f->loaded)
		pgphase_migration_release(&f->m);
	if (f->down_loaded)
		pgphase_migration_release(&f->dm);
	f->loaded = f->down_loaded = false;
}

void lint_unit_release(struct lint_unit *u)
{
	for (size_t i = 0; i < u->n; i++) {
		lint_file_release(&u->files[i]);
		free(u->files[i].path);
		free(u->files[i].down_path);
	}
	free(u->files);
	for (size_t i = 0; i < u->n_only; i++)
		free(u->only[i]);
	free(u->only);
	free(u->dir);
	free(u->prefix);
	memset(u, 0, sizeof(*u));
}
