/*
 * Findings that depend on migrations not read yet.  The linter lints each migration as soon
 * as it is read and then releases its parse tree, so no rule can look ahead; one must:
 * fk-without-index asks whether an index exists anywhere in the directory, and a later
 * migration may still create it.  While such a rule reports (between lint_pending_begin()
 * and lint_pending_end()), the engine records the findings it made and the ignore
 * directives that silenced one; lint_pending_settle(), once the whole unit is read, drops
 * the findings whose index did turn up and reports the ignores that then silenced nothing.
 */
#include <stdlib.h>
#include <string.h>

#include "lint.h"
#include "base/util.h"

void lint_pending_begin(struct pgphase_lint_ctx *ctx, const char *key)
{
	ctx->pending.key = key;
}

void lint_pending_end(struct pgphase_lint_ctx *ctx)
{
	ctx->pending.key = NULL;
}

void lint_pending_finding(struct pgphase_lint_ctx *ctx, size_t seq)
{
	struct lint_pending *p = &ctx->pending;

	GROW(p->findings, p->cap_findings, p->n_findings + 1);
	p->findings[p->n_findings].seq = seq;
	p->findings[p->n_findings++].key = xstrdup(p->key);
}

void lint_pending_use(struct pgphase_lint_ctx *ctx, const struct lint_ignore *ig, size_t k)
{
	struct lint_pending *p = &ctx->pending;

	GROW(p->uses, p->cap_uses, p->n_uses + 1);
	p->uses[p->n_uses].ig = ig;
	p->uses[p->n_uses].k = k;
	p->uses[p->n_uses++].key = xstrdup(p->key);
}

bool lint_pending_defer_ignore(struct pgphase_lint_ctx *ctx, const struct lint_section *sec,
			       const struct lint_ignore *ig, size_t k)
{
	struct lint_pending *p = &ctx->pending;
	struct lint_pending_ignore *pi = NULL;

	for (size_t i = 0; i < p->n_uses; i++) {
		if (p->uses[i].ig != ig || p->uses[i].k != k)
			continue;
		if (!pi) {
			GROW(p->ignores, p->cap_ignores, p->n_ignores + 1);
			pi = &p->ignores[p->n_ignores++];
			memset(pi, 0, sizeof(*pi));
			pi->file = xstrdup(sec->file);
			pi->line = ig->marker->line;
			pi->column = ig->marker->column;
			pi->id = xstrdup(ig->ids[k]);
		}
		pi->keys = xrealloc(pi->keys, (pi->n_keys + 1) * sizeof(*pi->keys));
		pi->keys[pi->n_keys++] = p->uses[i].key;
		p->uses[i].key = NULL;
	}
	return pi != NULL;
}

void lint_pending_next_statement(struct pgphase_lint_ctx *ctx)
{
	struct lint_pending *p = &ctx->pending;

	for (size_t i = 0; i < p->n_uses; i++)
		free(p->uses[i].key);
	p->n_uses = 0;
}

static bool indexed(const struct pgphase_lint_ctx *ctx, const char *key)
{
	return lint_map_get(&ctx->indexes, key) != NULL;
}

/* Remove the findings marked dropped (message NULL) and recount. */
static void compact(struct pgphase_lint_result *res)
{
	size_t n = 0;

	memset(res->counts, 0, sizeof(res->counts));
	for (size_t i = 0; i < res->n; i++) {
		if (!res->findings[i].message)
			continue;
		res->findings[n] = res->findings[i];
		res->counts[res->findings[n++].severity]++;
	}
	res->n = n;
}

void lint_pending_settle(struct pgphase_lint_ctx *ctx)
{
	struct lint_pending *p = &ctx->pending;
	struct pgphase_lint_result *res = ctx->res;
	bool dropped = false;

	for (size_t i = 0; i < p->n_findings; i++) {
		struct pgphase_lint_finding *f = &res->findings[p->findings[i].seq];

		if (indexed(ctx, p->findings[i].key)) {
			free(f->message);
			free(f->help);
			f->message = f->help = NULL;
			dropped = true;
		}
	}
	if (dropped)
		compact(res);
	for (size_t i = 0; i < p->n_ignores; i++) {
		const struct lint_pending_ignore *pi = &p->ignores[i];
		bool silenced = false;

		for (size_t k = 0; k < pi->n_keys; k++)
			silenced |= !indexed(ctx, pi->keys[k]);
		ctx->linting = true;
		if (!silenced)
			lint_report_unused_ignore(ctx, pi->file, pi->line, pi->column, pi->id);
	}
	lint_pending_release(ctx);
}

void lint_pending_release(struct pgphase_lint_ctx *ctx)
{
	struct lint_pending *p = &ctx->pending;

	lint_pending_next_statement(ctx);
	for (size_t i = 0; i < p->n_findings; i++)
		free(p->findings[i].key);
	for (size_t i = 0; i < p->n_ignores; i++) {
		for (size_t k = 0; k < p->ignores[i].n_keys; k++)
			free(p->ignores[i].keys[k]);
		free(p->ignores[i].keys);
		free(p->ignores[i].file);
		free(p->ignores[i].id);
	}
	free(p->findings);
	free(p->uses);
	free(p->ignores);
	memset(p, 0, sizeof(*p));
}
