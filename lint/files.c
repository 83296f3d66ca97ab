/*
 * From command-line paths to the migrations the linter walks.  A directory is one unit:
 * every migration in it is linted.  Files named on the command line are grouped by
 * directory, and each group is linted with the other migrations of its directory loaded as
 * context (not reported on), so "an index exists elsewhere in the directory" and "a CHECK was
 * validated by an earlier migration" hold when CI lints only the changed files.
 *
 * The front end (src/load/) lists, names, pairs, orders and reads the files, exactly as for
 * every other command; this file only says which of them to report on and turns the
 * front end's problems into findings, one rule per problem kind.  The front end reads one
 * migration at a time, so the linter holds one migration's trees at a time.  Only a path that
 * cannot be read at all is a usage error.
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


static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);

	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

static bool wanted(const struct lint_unit *u, const char *path)
{
	if (u->whole)
		return true;
	for (size_t i = 0; i < u->n_only; i++)
		if (strcmp(u->only[i], base_name(path)) == 0)
			return true;
	return false;
}

const struct pgphase_lint_rule *lint_rule_for_problem(enum pgphase_problem_kind kind)
{
	static const struct pgphase_lint_rule *const rules[PGPHASE_PROBLEM_KINDS] = {
		[PGPHASE_PROBLEM_BAD_FILE_NAME] = &lint_rule_bad_file_name,
		[PGPHASE_PROBLEM_DUPLICATE_VERSION] = &lint_rule_duplicate_version,
		[PGPHASE_PROBLEM_BAD_ENCODING] = &lint_rule_malformed_migration,
		[PGPHASE_PROBLEM_UNKNOWN_TEMPLATE] = &lint_rule_unknown_directive,
		[PGPHASE_PROBLEM_BAD_DIRECTIVE] = &lint_rule_unknown_directive,
		[PGPHASE_PROBLEM_DANGLING_DIRECTIVE] = &lint_rule_unknown_directive,
		[PGPHASE_PROBLEM_MISPLACED_MARKER] = &lint_rule_malformed_migration,
		[PGPHASE_PROBLEM_EMPTY_MIGRATION] = &lint_rule_malformed_migration,
		[PGPHASE_PROBLEM_SYNTAX_ERROR] = &lint_rule_syntax_error,
	};

	return (size_t)kind < PGPHASE_PROBLEM_KINDS && rules[kind] ? rules[kind]
								  : &lint_rule_malformed_migration;
}

void lint_report_problems(struct pgphase_lint_ctx *ctx, const struct pgphase_problems *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const struct pgphase_problem *pr = &p->v[i];

		lint_report_file(ctx, lint_rule_for_problem(pr->kind), pr->file, pr->line,
				 pr->column, pr->hint ? pr->hint : "fix the file so pgphase can load it",
				 "%s", pr->message);
	}
}

static struct lint_file *add_file(struct lint_unit *u, struct pgphase_migration *m, bool named,
				  bool lint)
{
	struct lint_file *f;

	GROW(u->files, u->cap, u->n + 1);
	f = &u->files[u->n++];
	memset(f, 0, sizeof(*f));
	f->m = m;
	f->named = named;
	f->lint = lint;
	return f;
}

static int cmp_files(const void *a, const void *b)
{
	const struct pgphase_migration *x = ((const struct lint_file *)a)->m;
	const struct pgphase_migration *y = ((const struct lint_file *)b)->m;

	if (x->version != y->version)
		return x->version < y->version ? -1 : 1;
	return strcmp(x->file ? x->file : x->down_file, y->file ? y->file : y->down_file);
}

/* Files named on the command line that are no migration of the listing: read on their own. */
static int add_loose(struct pgphase_lint_ctx *ctx, struct lint_unit *u, bool listed,
		     struct pgphase_error *err)
{
	u->loose = xcalloc(u->n_only ? u->n_only : 1, sizeof(*u->loose));
	for (size_t i = 0; i < u->n_only; i++) {
		struct pgphase_problems problems = { 0 };
		struct pgphase_migration *m = &u->loose[u->n_loose];
		char *path, *vtext = NULL, *name = NULL;
		enum pgphase_name_style style;
		const char *why = NULL;
		int64_t version;
		int part, r = pgphase_parse_file_name(u->only[i], &version, &vtext, &name, &style,
						      &part, &why);

		free(vtext);
		free(name);
		if (listed && r != 0)
			continue; /* a migration, or a near-miss, of the listing */
		path = xasprintf("%s%s", u->prefix, u->only[i]);
		ctx->linting = true;
		r = pgphase_migration_load_file(m, path, ctx->opts->vars, &problems, err);
		free(path);
		lint_report_problems(ctx, &problems);
		pgphase_problems_release(&problems);
		if (r < 0)
			return -1;
		if (m->loaded)
			add_file(u, m, !m->loose, true);
		u->n_loose++;
	}
	return 0;
}

int lint_unit_list(struct pgphase_lint_ctx *ctx, struct lint_unit *u, struct pgphase_error *err)
{
	struct pgphase_error lerr = PGPHASE_ERROR_INIT;
	bool listed = pgphase_migration_set_list(&u->set, u->prefix, &lerr) == 0;

	if (!listed && u->whole) {
		pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot open directory \"%s\": %s", u->dir,
				  strerror(errno));
		pgphase_error_release(&lerr);
		return -1;
	}
	pgphase_error_release(&lerr);
	if (listed) {
		for (size_t i = 0; i < u->set.problems.n; i++) {
			struct pgphase_problems one = { &u->set.problems.v[i], 1, 1 };

			ctx->linting = wanted(u, one.v->file);
			lint_report_problems(ctx, &one);
		}
		for (size_t i = 0; u->whole && i < u->set.n_ignored; i++)
			if (ends_with(u->set.ignored[i], ".sql"))
				pgphase_warn("ignoring \"%s\": not a migration file name",
					     u->set.ignored[i]);
		for (size_t i = 0; i < u->set.n; i++) {
			struct pgphase_migration *m = &u->set.items[i];

			add_file(u, m, true, (m->file && wanted(u, m->file)) ||
						     (m->down_file && wanted(u, m->down_file)));
		}
	}
	if (!u->whole && add_loose(ctx, u, listed, err) < 0)
		return -1;
	if (u->n)
		qsort(u->files, u->n, sizeof(*u->files), cmp_files);
	return 0;
}

int lint_file_load(struct pgphase_lint_ctx *ctx, struct lint_file *f, struct pgphase_error *err)
{
	struct pgphase_migration *m = f->m;

	ctx->linting = f->lint;
	if (f->lint)
		lint_file_index(ctx, m->file ? m->file : m->down_file); /* in lint order */
	if (!m->loaded) {
		struct pgphase_problems problems = { 0 };
		int rc = pgphase_migration_read(m, ctx->opts->vars, &problems, err);

		lint_report_problems(ctx, &problems);
		pgphase_problems_release(&problems);
		if (rc < 0)
			return -1;
	}
	lint_section_build(&f->up, &m->up, false);
	lint_section_build(&f->down, &m->down, true);
	return 0;
}

void lint_file_release(struct lint_file *f)
{
	lint_section_release(&f->up);
	lint_section_release(&f->down);
	pgphase_migration_unload(f->m);
}

void lint_unit_release(struct lint_unit *u)
{
	for (size_t i = 0; i < u->n; i++) {
		lint_section_release(&u->files[i].up);
		lint_section_release(&u->files[i].down);
	}
	free(u->files);
	pgphase_migration_set_release(&u->set);
	for (size_t i = 0; i < u->n_loose; i++)
		pgphase_migration_release(&u->loose[i]);
	free(u->loose);
	for (size_t i = 0; i < u->n_only; i++)
		free(u->only[i]);
	free(u->only);
	free(u->dir);
	free(u->prefix);
	memset(u, 0, sizeof(*u));
}
