/*
 * Printing plans: text for people (one block per step: number, phase, transaction mode,
 * strategy, origin, why it runs as written when pgphase could not make it safer, then the
 * SQL and its undo indented) and JSON for tools (one object per
 * migration, built with jansson).  Both are deterministic: the same files and catalog give
 * the same bytes.  A backfill step shows its key and the batch statements the engine's
 * generator rendered (the planner stored them); nothing here renders SQL.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pgphase/plan.h"
#include "base/util.h"

/* Print text with every line after the first indented by indent spaces. */
static void print_indented(FILE *out, const char *text, int indent)
{
	for (const char *p = text; *p; p++) {
		fputc(*p, out);
		if (*p == '\n')
			fprintf(out, "%*s", indent, "");
	}
	fputc('\n', out);
}

/* "$7" or "$7..$8": the n parameters from first on. */
static void params(FILE *out, int first, int n)
{
	if (n == 1)
		fprintf(out, "$%d", first);
	else
		fprintf(out, "$%d..$%d", first, first + n - 1);
}

/* Key, batch size, then the engine's two walk statements. */
static void print_backfill(FILE *out, const struct pgphase_step *st)
{
	fputs("      key (", out);
	for (int i = 0; i < st->key.n; i++)
		fprintf(out, "%s%s %s", i ? ", " : "", st->key.cols[i], st->key.types[i]);
	if (st->batch_size > 0)
		fprintf(out, "), batches of %ld rows\n", st->batch_size);
	else
		fputs("), batches of backfill.batch_size rows\n", out);
	fputs("      each batch, claiming its chunk:\n      ", out);
	print_indented(out, st->sql, 6);
	fputs("      first and last chunk (cursor ", out);
	params(out, 7, st->key.n);
	fputs(", upper bound ", out);
	params(out, 7 + st->key.n, st->key.n);
	fputs("; an open bound's condition left out):\n      ", out);
	print_indented(out, st->open_sql, 6);
}

void pgphase_plan_print_text(FILE *out, const struct pgphase_plan *plan, const char *state)
{
	const struct pgphase_migration *m = plan->migration;

	fprintf(out, "%s %s  (%s%s%s)\n", m->version_text, m->name, m->file, state ? ", " : "",
		state ? state : "");
	if (plan->n == 0)
		fputs("  (no statements)\n", out);
	for (size_t i = 0; i < plan->n; i++) {
		const struct pgphase_step *st = &plan->steps[i];

		fprintf(out, "  %2zu. %-8s %-4s %-36s %s:%d:%d\n", i + 1, pgphase_phase_name(st->phase),
			pgphase_txn_mode_name(st->txn), st->strategy, st->file, st->line, st->column);
		if (st->reason) {
			fputs(st->reason_offline ? "      why as written (offline: the database may "
						   "know a key): " : "      why as written: ", out);
			print_indented(out, st->reason, 6);
		}
		if (st->kind == PGPHASE_STEP_BACKFILL && st->key.n > 0) {
			print_backfill(out, st);
			continue; /* no undo: a data change is undone by DOWN only */
		}
		if (st->kind == PGPHASE_STEP_CHECK_NULLS) {
			fputs("      must be 0: ", out);
		} else {
			fputs("      ", out);
		}
		print_indented(out, st->sql, 6);
		if (st->kind == PGPHASE_STEP_INDEX)
			fprintf(out, "      then: check pg_index.indisvalid of %s; rebuild if INVALID\n",
				st->target);
		if (st->undo_sql) {
			fputs("      undo: ", out);
			print_indented(out, st->undo_sql, 6);
		}
	}
}

static json_t *step_json(const struct pgphase_step *st)
{
	json_t *o = json_object();

	json_object_set_new(o, "phase", json_string(pgphase_phase_name(st->phase)));
	json_object_set_new(o, "txn", json_string(pgphase_txn_mode_name(st->txn)));
	json_object_set_new(o, "kind", json_string(pgphase_step_kind_name(st->kind)));
	json_object_set_new(o, "strategy", json_string(st->strategy));
	json_object_set_new(o, "file", json_string(st->file));
	json_object_set_new(o, "line", json_integer(st->line));
	json_object_set_new(o, "column", json_integer(st->column));
	json_object_set_new(o, "sql", json_string(st->sql));
	json_object_set_new(o, "undo_sql", st->undo_sql ? json_string(st->undo_sql) : json_null());
	json_object_set_new(o, "retry_lock", json_boolean(st->retry_lock));
	json_object_set_new(o, "reason", st->reason ? json_string(st->reason) : json_null());
	if (st->reason_offline)
		json_object_set_new(o, "reason_offline", json_true());
	if (st->target)
		json_object_set_new(o, "target", json_string(st->target));
	if (st->kind == PGPHASE_STEP_BACKFILL) {
		json_t *key = json_array();

		for (int i = 0; i < st->key.n; i++)
			json_array_append_new(key, json_pack("{s:s,s:s}", "column", st->key.cols[i],
							     "type", st->key.types[i]));
		json_object_set_new(o, "open_chunk_sql", st->open_sql ? json_string(st->open_sql)
								      : json_null());
		json_object_set_new(o, "statement", json_string(st->dml));
		json_object_set_new(o, "key", key);
		json_object_set_new(o, "key_columns", json_integer(st->key.n));
		json_object_set_new(o, "batch_size", st->batch_size ? json_integer(st->batch_size)
								    : json_null());
	}
	return o;
}

char *pgphase_plan_json(const struct pgphase_plan *plan, const char *state)
{
	const struct pgphase_migration *m = plan->migration;
	json_t *o = json_object(), *steps = json_array();
	char *out;

	json_object_set_new(o, "version", json_integer((json_int_t)m->version));
	json_object_set_new(o, "name", json_string(m->name));
	json_object_set_new(o, "file", json_string(m->file));
	json_object_set_new(o, "state", state ? json_string(state) : json_null());
	for (size_t i = 0; i < plan->n; i++)
		json_array_append_new(steps, step_json(&plan->steps[i]));
	json_object_set_new(o, "steps", steps);
	out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return out;
}
