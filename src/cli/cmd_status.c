/*
 * pgphase status [--format json]: files joined with state rows.  Shows each migration's
 * state, phase times, resume point and last error, and flags applied files that changed or
 * vanished.  JSON follows DESIGN §11 (plus "modified"/"missing"/"last_error" per migration).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "pgphase/backfill.h"
#include "pgphase/log.h"
#include "pgphase/run.h"
#include "pgphase/state.h"

struct entry {
	const struct pgphase_migration *m;   /* NULL when the file is missing */
	const struct pgphase_state_row *row; /* NULL when pending */
};

/* Backfill progress of every step (include/pgphase/backfill.h), for both formats. */
struct backfills {
	struct pgphase_backfill_status *st;
	size_t n;
};

static json_t *backfill_json(const struct backfills *b, int64_t version)
{
	json_t *list = json_array();

	for (size_t i = 0; i < b->n; i++) {
		const struct pgphase_backfill_status *x = &b->st[i];
		json_t *o;

		if (x->version != version)
			continue;
		o = json_object();
		json_object_set_new(o, "step", json_integer(x->step));
		json_object_set_new(o, "table", json_string(x->table));
		json_object_set_new(o, "rows_done", json_integer(x->rows_done));
		json_object_set_new(o, "rows_estimate", json_integer(x->rows_estimate));
		json_object_set_new(o, "rows_swept", json_integer(x->rows_swept));
		json_object_set_new(o, "rows_pending_sweep", json_integer(x->rows_pending_sweep));
		json_object_set_new(o, "batches", json_integer(x->batches));
		json_object_set_new(o, "chunks", json_integer(x->chunks));
		json_object_set_new(o, "chunks_done", json_integer(x->chunks_done));
		json_object_set_new(o, "chunks_active", json_integer(x->chunks_active));
		json_object_set_new(o, "done", json_boolean(x->done));
		json_object_set_new(o, "updated_at", json_string(x->updated_at));
		json_array_append_new(list, o);
	}
	return list;
}

/* "backfill t: 120.0k of ~2.00M rows (6%), chunks 3/100 done, 2 active, ..." per open step */
static void backfill_text(const struct backfills *b, int64_t version)
{
	for (size_t i = 0; i < b->n; i++) {
		const struct pgphase_backfill_status *x = &b->st[i];
		long long est = x->rows_estimate > x->rows_done ? x->rows_estimate : x->rows_done;

		if (x->version != version || x->done)
			continue;
		printf("%16s backfill %s: %lld of ~%lld rows (%.0f%%), chunks %d/%d done, %d active",
		       "", x->table, x->rows_done, est, est ? 100.0 * x->rows_done / est : 100.0,
		       x->chunks_done, x->chunks, x->chunks_active);
		if (x->rows_pending_sweep)
			printf(", %lld locked rows to sweep", x->rows_pending_sweep);
		printf(", last batch %s\n", x->updated_at);
	}
}

static struct entry *join(const struct pgphase_migration_set *set,
			  const struct pgphase_state *st, size_t *n)
{
	struct entry *e = calloc(set->n + st->n + 1, sizeof(*e));
	size_t i = 0, j = 0, k = 0;

	while (i < set->n || j < st->n) {
		if (j >= st->n || (i < set->n && set->items[i].version < st->rows[j].version))
			e[k++] = (struct entry){ &set->items[i++], NULL };
		else if (i >= set->n || st->rows[j].version < set->items[i].version)
			e[k++] = (struct entry){ NULL, &st->rows[j++] };
		else
			e[k++] = (struct entry){ &set->items[i++], &st->rows[j++] };
	}
	*n = k;
	return e;
}

static const char *state_of(const struct entry *e)
{
	return e->row ? pgphase_mstate_name(e->row->state) : "pending";
}

static bool modified(const struct entry *e)
{
	return e->m && e->row && strcmp(e->m->checksum, e->row->checksum) != 0;
}

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *phases_json(const struct pgphase_state_row *row)
{
	json_t *o = json_object();

	for (int p = PGPHASE_PHASE_EXPAND; p <= PGPHASE_PHASE_CONTRACT; p++) {
		json_t *ph = json_object();
		const struct pgphase_phase_times *t = row ? &row->phases[p] : NULL;
		const char *st = !t || !t->started_at ? "pending"
				 : t->finished_at ? "done" : "running";

		json_object_set_new(ph, "state", json_string(st));
		json_object_set_new(ph, "started_at", opt_str(t ? t->started_at : NULL));
		json_object_set_new(ph, "finished_at", opt_str(t ? t->finished_at : NULL));
		json_object_set_new(ph, "duration_ms",
				    t && t->duration_ms >= 0 ? json_integer(t->duration_ms) : json_null());
		json_object_set_new(o, pgphase_phase_name((enum pgphase_phase)p), ph);
	}
	return o;
}

static json_t *next_json(const struct pgphase_next_step *next)
{
	json_t *o = json_object();

	json_object_set_new(o, "action", json_string(next->name));
	json_object_set_new(o, "command", opt_str(next->command));
	json_object_set_new(o, "alternative", opt_str(next->or_else));
	json_object_set_new(o, "text", json_string(next->text));
	return o;
}

static void print_json(struct cli *cli, const struct entry *e, size_t n, const struct backfills *b,
		       const struct pgphase_next_step *next)
{
	json_t *root = json_object(), *list = json_array();
	size_t applied = 0, progress = 0, pending = 0;
	char *out;

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();

		if (!e[i].row)
			pending++;
		else if (e[i].row->state == PGPHASE_STATE_COMPLETE)
			applied++;
		else
			progress++;
		json_object_set_new(o, "version", json_integer(e[i].m ? e[i].m->version : e[i].row->version));
		json_object_set_new(o, "name", json_string(e[i].m ? e[i].m->name : e[i].row->name));
		json_object_set_new(o, "file", json_string(e[i].m ? e[i].m->file : e[i].row->file));
		json_object_set_new(o, "state", json_string(state_of(&e[i])));
		json_object_set_new(o, "checksum",
				    json_string(e[i].row ? e[i].row->checksum : e[i].m->checksum));
		json_object_set_new(o, "applied_at", opt_str(e[i].row ? e[i].row->applied_at : NULL));
		json_object_set_new(o, "phases", phases_json(e[i].row));
		json_object_set_new(o, "modified", json_boolean(modified(&e[i])));
		json_object_set_new(o, "missing", json_boolean(e[i].m == NULL));
		json_object_set_new(o, "last_error", opt_str(e[i].row ? e[i].row->last_error : NULL));
		json_object_set_new(o, "backfill", backfill_json(b, e[i].m ? e[i].m->version
									  : e[i].row->version));
		json_array_append_new(list, o);
	}
	json_object_set_new(root, "module", json_string(cli->cfg.module));
	json_object_set_new(root, "applied_count", json_integer((json_int_t)applied));
	json_object_set_new(root, "in_progress_count", json_integer((json_int_t)progress));
	json_object_set_new(root, "pending_count", json_integer((json_int_t)pending));
	json_object_set_new(root, "migrations", list);
	json_object_set_new(root, "next_step", next_json(next));
	out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(out);
	free(out);
	json_decref(root);
}

static void print_text(struct cli *cli, const char *display, const struct entry *e, size_t n,
		       const struct backfills *b, const struct pgphase_next_step *next)
{
	size_t applied = 0, progress = 0, pending = 0;

	printf("module %s on %s\n\n", cli->cfg.module, display);
	if (n == 0)
		printf("no migrations in %s\n", cli->cfg.migrations);
	else
		printf("%-16s %-10s %-24s %s\n", "VERSION", "STATE", "APPLIED", "FILE");
	for (size_t i = 0; i < n; i++) {
		const struct entry *x = &e[i];
		const char *file = x->m ? x->m->file : x->row->file;

		if (!x->row)
			pending++;
		else if (x->row->state == PGPHASE_STATE_COMPLETE)
			applied++;
		else
			progress++;
		printf("%-16s %-10s %-24s %s", x->m ? x->m->version_text : "?", state_of(x),
		       x->row && x->row->applied_at ? x->row->applied_at : "-", file);
		if (modified(x))
			printf("  [MODIFIED since applied]");
		if (!x->m)
			printf("  [FILE MISSING]");
		putchar('\n');
		if (x->row && x->row->current_phase != PGPHASE_PHASE_NONE)
			printf("%16s in %s, resumes at step %d\n", "",
			       pgphase_phase_name(x->row->current_phase), x->row->next_step + 1);
		if (x->row && x->row->last_error)
			printf("%16s last error: %s\n", "", x->row->last_error);
		if (x->row)
			backfill_text(b, x->row->version);
	}
	printf("\n%zu applied, %zu in progress, %zu pending\n", applied, progress, pending);
	printf("next: %s\n", next->text);
	if (next->command || next->or_else)
		printf("      run: %s%s%s\n", next->command ? next->command : next->or_else,
		       next->command && next->or_else ? ", or " : "",
		       next->command && next->or_else ? next->or_else : "");
}

int cmd_status(struct cli *cli, struct pgphase_error *err)
{
	struct pgphase_migration_set set;
	struct pgphase_session s;
	struct pgphase_state st;
	struct backfills b = { NULL, 0 };
	struct entry *e;
	size_t n;
	int rc = -1;

	/* status changes nothing: it shows what it can and names the files' problems */
	if (pgphase_migration_set_read(&set, cli->cfg.migrations,
				       &(struct pgphase_template_vars){ cli->cfg.schema }, err) < 0)
		return -1;
	for (size_t i = 0; i < set.problems.n; i++)
		pgphase_warn("%s:%d: %s", set.problems.v[i].file, set.problems.v[i].line,
			     set.problems.v[i].message);
	if (cli_open(cli, &s, false, err) < 0)
		goto out_set;
	if (pgphase_state_load(&s, &st, err) < 0)
		goto out_session;
	if (pgphase_backfill_status_load(&s, -1, &b.st, &b.n, err) < 0) {
		pgphase_state_release(&st);
		goto out_session;
	}
	e = join(&set, &st, &n);
	if (cli->format == FORMAT_JSON)
		print_json(cli, e, n, &b, pgphase_next_step(&set, &st));
	else
		print_text(cli, s.display, e, n, &b, pgphase_next_step(&set, &st));
	free(e);
	pgphase_backfill_status_free(b.st, b.n);
	pgphase_state_release(&st);
	rc = 0;
out_session:
	pgphase_session_close(&s);
out_set:
	pgphase_migration_set_release(&set);
	return rc;
}
