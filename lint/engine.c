/*
 * The lint engine: walks each unit's migrations in version order, runs every rule on every
 * statement, keeps the schema model up to date after each statement, and turns what rules
 * report into findings.
 *
 * A rule states a hazard; the engine decides what it means here:
 *   1. rules disabled by config or filtered by --rule / --exclude-rule are dropped;
 *   2. `-- pgphase:ignore` on the statement drops it (and marks the ignore as used);
 *   3. unless --raw or `-- pgphase:as-is`, the planner hook may name a strategy that makes
 *      the statement safe (the finding becomes info) or place it in a phase;
 *   4. destructive statements in the contract phase or a DOWN section are warnings;
 *   5. config lint.error / lint.warning override the rule's default severity.
 * The engine does not know what any rule checks.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "base/util.h"

const char *pgphase_lint_severity_name(enum pgphase_lint_severity s)
{
	return s == PGPHASE_LINT_ERROR ? "error" : s == PGPHASE_LINT_WARNING ? "warning" : "info";
}

const char *pgphase_lint_category_name(enum pgphase_lint_category c)
{
	static const char *const names[] = { "destructive", "breaking", "blocking", "hygiene",
					     "input" };

	return (size_t)c < sizeof(names) / sizeof(names[0]) ? names[c] : "?";
}

void pgphase_lint_options_init(struct pgphase_lint_options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->pg_version = 15;
}

void pgphase_lint_result_init(struct pgphase_lint_result *res)
{
	memset(res, 0, sizeof(*res));
}

void pgphase_lint_result_release(struct pgphase_lint_result *res)
{
	for (size_t i = 0; i < res->n; i++) {
		free(res->findings[i].message);
		free(res->findings[i].help);
	}
	free(res->findings);
	for (size_t i = 0; i < res->n_files; i++)
		free(res->files[i]);
	free(res->files);
	memset(res, 0, sizeof(*res));
}

bool pgphase_lint_failed(const struct pgphase_lint_result *res)
{
	return res->counts[PGPHASE_LINT_ERROR] > 0;
}

size_t lint_file_index(struct pgphase_lint_ctx *ctx, const char *path)
{
	struct lint_obj *o = lint_map_get(&ctx->files, path);
	struct pgphase_lint_result *res = ctx->res;

	if (o)
		return (size_t)o->migration;
	o = lint_map_put(&ctx->files, path);
	o->migration = (int)res->n_files;
	GROW(res->files, res->cap_files, res->n_files + 1);
	res->files[res->n_files] = xstrdup(path);
	return res->n_files++;
}

static size_t rule_index(const struct pgphase_lint_rule *rule)
{
	for (size_t i = 0; pgphase_lint_rules[i]; i++)
		if (pgphase_lint_rules[i] == rule)
			return i;
	return SIZE_MAX;
}

/* Drop by config or by an ignore directive on the statement. */
static bool suppressed(struct pgphase_lint_ctx *ctx, size_t idx, const struct pgphase_lint_rule *rule,
		       const struct pgphase_lint_stmt *st)
{
	bool hit = false;

	if (!ctx->linting || idx == SIZE_MAX || ctx->disabled[idx])
		return true;
	if (!st)
		return false;
	if (ctx->m && ctx->m->ignore_file_rules) {
		/* -- pgphase:ignore-file RULE[,RULE] reason: the whole file */
		const char *p = ctx->m->ignore_file_rules;
		size_t len = strlen(rule->id);

		while (*p) {
			size_t n = strcspn(p, ",");

			if (n == len && strncmp(p, rule->id, n) == 0)
				return true;
			p += n + (p[n] == ',');
		}
	}
	for (size_t i = lint_first_ignore(st->sec, st->index);
	     i < st->sec->n_ignores && st->sec->ignores[i].stmt == st->index; i++) {
		struct lint_ignore *ig = &st->sec->ignores[i];

		for (size_t k = 0; k < ig->n_ids; k++)
			if (strcmp(ig->ids[k], rule->id) == 0) {
				if (ctx->pending.key)
					lint_pending_use(ctx, ig, k); /* settled with the unit */
				else
					ig->used[k] = true;
				hit = true;
			}
	}
	return hit;
}

static void info_for(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st,
		     const char *rule, struct pgphase_lint_stmt_info *info)
{
	memset(info, 0, sizeof(*info));
	info->migration = ctx->m;
	info->node = st->node;
	info->note = &st->sec->notes[st->index];
	info->down = st->down;
	info->rule = rule;
	info->pg_version = ctx->opts->pg_version;
	lint_position(st->sec, st->offset, &info->line, &info->column);
}

static void emit(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_rule *rule, size_t idx,
		 size_t file_index, const int pos[4],
		 const struct pgphase_lint_stmt *st, const char *help, char *message)
{
	enum pgphase_lint_severity sev = ctx->override[idx] >= 0
						 ? (enum pgphase_lint_severity)ctx->override[idx]
						 : rule->severity;
	struct pgphase_lint_strategy strat = { NULL, PGPHASE_PHASE_NONE };
	struct pgphase_lint_result *res = ctx->res;
	struct pgphase_lint_finding *f;
	enum pgphase_phase phase = st ? st->phase : PGPHASE_PHASE_NONE;

	if (st && !ctx->raw && !st->as_is && ctx->opts->strategy && rule->plannable) {
		struct pgphase_lint_stmt_info info;

		info_for(ctx, st, rule->id, &info);
		if (ctx->opts->strategy(ctx->opts->strategy_arg, &info, &strat)) {
			if (strat.phase != PGPHASE_PHASE_NONE)
				phase = strat.phase;
		} else {
			strat.name = NULL;
		}
	}
	/* contract runs once no old app is left; DOWN runs only on a deliberate rollback */
	if (rule->category == PGPHASE_LINT_DESTRUCTIVE && st &&
	    (st->down || phase == PGPHASE_PHASE_CONTRACT) && sev == PGPHASE_LINT_ERROR)
		sev = PGPHASE_LINT_WARNING;
	else if (strat.name && rule->category != PGPHASE_LINT_DESTRUCTIVE)
		sev = PGPHASE_LINT_INFO;
	if (strat.name) {
		char *m = rule->category == PGPHASE_LINT_DESTRUCTIVE
				  ? xasprintf("%s; pgphase's \"%s\" strategy runs it in the %s phase",
					      message, strat.name, pgphase_phase_name(phase))
				  : xasprintf("%s; pgphase's \"%s\" strategy makes it safe", message,
					      strat.name);

		free(message);
		message = m;
	}
	GROW(res->findings, res->cap, res->n + 1);
	f = &res->findings[res->n];
	memset(f, 0, sizeof(*f));
	f->file = res->files[file_index];
	f->file_index = file_index;
	f->line = pos[0];
	f->column = pos[1];
	f->end_line = pos[2];
	f->end_column = pos[3];
	f->rule = rule;
	f->severity = sev;
	f->phase = phase;
	f->down = st && st->down;
	f->file_level = !st;
	f->strategy = strat.name;
	f->message = message;
	f->help = xstrdup(help);
	f->seq = res->n++;
	res->counts[sev]++;
	if (ctx->pending.key)
		lint_pending_finding(ctx, f->seq);
}

void lint_report(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st, int location,
		 const char *help, const char *fmt, ...)
{
	va_list ap;
	int pos[4];

	if (suppressed(ctx, ctx->rule_index, ctx->rule, st))
		return;
	lint_position(st->sec, lint_offset(st, location), &pos[0], &pos[1]);
	lint_position(st->sec, st->end, &pos[2], &pos[3]);
	va_start(ap, fmt);
	emit(ctx, ctx->rule, ctx->rule_index, lint_file_index(ctx, st->sec->file), pos, st, help,
	     xvasprintf(fmt, ap));
	va_end(ap);
}

void lint_report_file(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_rule *rule,
		      const char *file, int line, int column, const char *help, const char *fmt, ...)
{
	size_t idx = rule_index(rule);
	va_list ap;
	int pos[4];

	if (suppressed(ctx, idx, rule, NULL))
		return;
	pos[0] = pos[2] = line > 0 ? line : 1;
	pos[1] = pos[3] = column > 0 ? column : 1;
	va_start(ap, fmt);
	emit(ctx, rule, idx, lint_file_index(ctx, file), pos, NULL, help, xvasprintf(fmt, ap));
	va_end(ap);
}

void lint_report_unused_ignore(struct pgphase_lint_ctx *ctx, const char *file, int line,
			       int column, const char *id)
{
	lint_report_file(ctx, &lint_rule_ignore_unused, file, line, column,
			 "remove the stale ignore so it cannot hide a future problem",
			 "-- pgphase:ignore %s matches no finding on its statement", id);
}

/* Ignores on statement i naming unknown rules or silencing nothing. */
static void check_ignores(struct pgphase_lint_ctx *ctx, struct lint_section *sec, size_t i)
{
	for (size_t g = lint_first_ignore(sec, i); g < sec->n_ignores && sec->ignores[g].stmt == i;
	     g++) {
		const struct lint_ignore *ig = &sec->ignores[g];

		for (size_t k = 0; k < ig->n_ids; k++) {
			const struct pgphase_lint_rule *r = pgphase_lint_rule_find(ig->ids[k]);

			if (!r)
				lint_report_file(ctx, &lint_rule_ignore_unknown_rule, sec->file,
						 ig->marker->line, ig->marker->column,
						 "run \"pgphase lint --list-rules\" for the rule ids",
						 "-- pgphase:ignore names unknown rule \"%s\"", ig->ids[k]);
			else if (!ig->used[k] && !ctx->disabled[rule_index(r)] &&
				 !lint_pending_defer_ignore(ctx, sec, ig, k))
				lint_report_unused_ignore(ctx, sec->file, ig->marker->line,
							  ig->marker->column, ig->ids[k]);
		}
	}
}

static void track_transaction(struct pgphase_lint_ctx *ctx, const PgQuery__Node *node)
{
	if (ctx->no_transaction) {
		ctx->txn++; /* every statement commits on its own */
		return;
	}
	if (node->node_case != PG_QUERY__NODE__NODE_TRANSACTION_STMT)
		return;
	switch (node->transaction_stmt->kind) {
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
		ctx->in_txn_block = true;
		break;
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
		ctx->in_txn_block = false;
		ctx->txn++;
		break;
	default:
		break;
	}
}

static void run_section(struct pgphase_lint_ctx *ctx, struct lint_section *sec)
{
	enum pgphase_phase phase = PGPHASE_PHASE_NONE;

	ctx->sec = sec;
	ctx->in_txn_block = false;
	ctx->txn++;
	for (size_t i = 0; i < sec->n; i++) {
		const struct pgphase_lint_stmt *st = &sec->stmts[i];

		/* phases run at different times: never in one transaction */
		if (st->phase != phase) {
			phase = st->phase;
			ctx->txn++;
		}

		if (ctx->linting) {
			for (size_t r = 0; pgphase_lint_rules[r]; r++) {
				const struct pgphase_lint_rule *rule = pgphase_lint_rules[r];

				if (!rule->check || ctx->disabled[r] ||
				    (rule->node && rule->node != (int)st->node->node_case))
					continue;
				ctx->rule = rule;
				ctx->rule_index = r;
				rule->check(ctx, st);
			}
			ctx->statements_linted++;
		}
		if (!sec->down)
			lint_model_apply(ctx, st);
		track_transaction(ctx, st->node);
		if (ctx->linting)
			check_ignores(ctx, sec, i);
		lint_pending_next_statement(ctx);
	}
	ctx->sec = NULL;
}

static int lint_mig_seq; /* see run_file */

static void run_file(struct pgphase_lint_ctx *ctx, struct lint_file *f)
{
	ctx->m = f->m->loaded ? f->m : NULL;
	if (!ctx->m)
		return;
	/* unique in the process, not only in this run: rules keep per-migration caches keyed
	   by it, and a later run's migration may sit at the same address */
	ctx->mig_seq = __atomic_add_fetch(&lint_mig_seq, 1, __ATOMIC_RELAXED);
	ctx->linting = f->lint;
	ctx->named = f->named;
	ctx->no_transaction = ctx->m->no_transaction;
	ctx->has_down = f->down.text != NULL && f->down.n > 0;
	run_section(ctx, &f->up);
	run_section(ctx, &f->down);
	/* an orphan .down.sql is its DOWN alone; a file the front end could not split (bad
	 * encoding, unknown template) has said so, and its sections say nothing */
	if (!ctx->linting || !ctx->m->file || !ctx->m->up.text ||
	    (ctx->m->down_file && !ctx->m->down.text))
		return;
	for (size_t r = 0; pgphase_lint_rules[r]; r++) {
		const struct pgphase_lint_rule *rule = pgphase_lint_rules[r];

		if (!rule->check_migration || ctx->disabled[r])
			continue;
		ctx->rule = rule;
		ctx->rule_index = r;
		rule->check_migration(ctx, ctx->m);
	}
}

/*
 * One unit, migration by migration: read it, note its indexes, lint it, release its parse
 * tree (the model keeps copies of what it needs), so memory holds one migration's tree at a
 * time.  Findings that hang on indexes of later migrations settle at the end.
 */
static int run_unit(struct pgphase_lint_ctx *ctx, struct lint_unit *u, struct pgphase_error *err)
{
	lint_map_release(&ctx->model);
	lint_map_release(&ctx->indexes);
	pgphase_arena_free(ctx->model_arena);
	ctx->model_arena = pgphase_arena_new();
	if (lint_unit_list(ctx, u, err) < 0)
		return -1;
	for (size_t i = 0; i < u->n; i++) {
		struct lint_file *f = &u->files[i];

		if (lint_file_load(ctx, f, err) < 0)
			return -1;
		for (size_t k = 0; k < f->up.n; k++)
			lint_model_indexes(ctx, f->up.stmts[k].node);
		run_file(ctx, f);
		lint_file_release(f);
	}
	lint_pending_settle(ctx);
	return 0;
}

/* Apply one NULL-terminated id list from the options; unknown ids are usage errors. */
static int apply_list(struct pgphase_lint_ctx *ctx, char *const *ids, const char *what,
		      int severity, bool disable, struct pgphase_error *err)
{
	for (size_t i = 0; ids && ids[i]; i++) {
		const struct pgphase_lint_rule *r = pgphase_lint_rule_find(ids[i]);

		if (!r) {
			pgphase_error_set(err, PGPHASE_EXIT_USAGE, "%s: unknown lint rule \"%s\"", what,
					  ids[i]);
			pgphase_error_hint(err, "run \"pgphase lint --list-rules\" for the rule ids");
			return -1;
		}
		if (disable)
			ctx->disabled[rule_index(r)] = true;
		else if (severity >= 0)
			ctx->override[rule_index(r)] = (signed char)severity;
	}
	return 0;
}

static int setup(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_options *opts,
		 struct pgphase_error *err)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->opts = opts;
	ctx->pg_version = opts->pg_version ? opts->pg_version : 15;
	ctx->raw = opts->raw;
	while (pgphase_lint_rules[ctx->n_rules])
		ctx->n_rules++;
	ctx->override = xmalloc(ctx->n_rules);
	memset(ctx->override, -1, ctx->n_rules);
	ctx->disabled = xcalloc(ctx->n_rules, sizeof(*ctx->disabled));
	if (opts->only && opts->only[0]) {
		for (size_t i = 0; i < ctx->n_rules; i++)
			ctx->disabled[i] = true;
		for (size_t i = 0; opts->only[i]; i++) {
			const struct pgphase_lint_rule *r = pgphase_lint_rule_find(opts->only[i]);

			if (r)
				ctx->disabled[rule_index(r)] = false;
		}
	}
	if (apply_list(ctx, opts->only, "--rule", -1, false, err) < 0 ||
	    apply_list(ctx, opts->exclude, "--exclude-rule", -1, true, err) < 0 ||
	    apply_list(ctx, opts->disable, "lint.disable", -1, true, err) < 0 ||
	    apply_list(ctx, opts->warning, "lint.warning", PGPHASE_LINT_WARNING, false, err) < 0 ||
	    apply_list(ctx, opts->error, "lint.error", PGPHASE_LINT_ERROR, false, err) < 0)
		return -1;
	if (ctx->pg_version < 9 || ctx->pg_version > 18)
		return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
					 "lint: PostgreSQL version %d is not supported (9 to 18)",
					 ctx->pg_version);
	return 0;
}

static void teardown(struct pgphase_lint_ctx *ctx)
{
	lint_pending_release(ctx);
	pgphase_arena_free(ctx->model_arena);
	lint_map_release(&ctx->model);
	lint_map_release(&ctx->indexes);
	lint_map_release(&ctx->files);
	free(ctx->override);
	free(ctx->disabled);
}

static int cmp_findings(const void *a, const void *b)
{
	const struct pgphase_lint_finding *x = a, *y = b;

	if (x->file_index != y->file_index)
		return x->file_index < y->file_index ? -1 : 1;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->column != y->column)
		return x->column < y->column ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int pgphase_lint_paths(struct pgphase_lint_result *res, const char *const *paths, size_t n,
		       const struct pgphase_lint_options *opts, struct pgphase_error *err)
{
	struct pgphase_lint_ctx ctx;
	struct lint_unit *units = NULL;
	size_t n_units = 0;
	int rc = -1;

	if (setup(&ctx, opts, err) < 0)
		goto cleanup;
	ctx.res = res;
	if (lint_units_build(paths, n, &units, &n_units, err) < 0)
		goto cleanup;
	for (size_t i = 0; i < n_units; i++) {
		if (run_unit(&ctx, &units[i], err) < 0)
			goto cleanup;
		lint_unit_release(&units[i]);
	}
	res->statements += ctx.statements_linted;
	if (res->n)
		qsort(res->findings, res->n, sizeof(*res->findings), cmp_findings);
	rc = 0;
cleanup:
	for (size_t i = 0; i < n_units; i++)
		lint_unit_release(&units[i]);
	free(units);
	teardown(&ctx);
	return rc;
}
