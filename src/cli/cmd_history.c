/*
 * pgphase history [--limit N] [--format json]: the event history of the module, oldest
 * first, with durations and webhook delivery state.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli/cli.h"
#include "pgphase/state.h"

static void print_json(const struct pgphase_history_entry *h, size_t n)
{
	json_t *arr = json_array();
	char *out;

	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:s, s:I, s:s?, s:s?, s:s?, s:s, s:s?, s:s?, s:s?}",
				      "occurred_at", h[i].occurred_at, "type", h[i].type,
				      "version", (json_int_t)h[i].version, "name", h[i].name,
				      "file", h[i].file, "phase", h[i].phase, "status", h[i].status,
				      "error", h[i].error, "host", h[i].run_host, "delivery", h[i].delivery);

		json_object_set_new(o, "duration_ms",
				    h[i].duration_ms >= 0 ? json_integer(h[i].duration_ms) : json_null());
		json_object_set_new(o, "rows", h[i].rows >= 0 ? json_integer(h[i].rows) : json_null());
		json_array_append_new(arr, o);
	}
	out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(out);
	free(out);
	json_decref(arr);
}

static void print_text(const struct pgphase_history_entry *h, size_t n)
{
	if (n == 0) {
		puts("no events yet");
		return;
	}
	printf("%-24s %-20s %-9s %-10s %10s  %s\n", "TIME", "EVENT", "PHASE", "STATUS", "DURATION",
	       "MIGRATION");
	for (size_t i = 0; i < n; i++) {
		char dur[32] = "-";

		if (h[i].duration_ms >= 0)
			snprintf(dur, sizeof(dur), "%ld ms", h[i].duration_ms);
		printf("%-24s %-20s %-9s %-10s %10s  %s\n", h[i].occurred_at, h[i].type,
		       h[i].phase ? h[i].phase : "-", h[i].status, dur, h[i].file ? h[i].file : "-");
		if (h[i].error)
			printf("%24s error: %s\n", "", h[i].error);
		if (h[i].delivery)
			printf("%24s webhook: %s\n", "", h[i].delivery);
	}
}

int cmd_history(struct cli *cli, struct pgphase_error *err)
{
	struct pgphase_history_entry *h = NULL;
	struct pgphase_session s;
	size_t n = 0;
	int rc = -1;

	if (cli_open(cli, &s, false, err) < 0)
		return -1;
	if (pgphase_history_load(&s, cli->limit, &h, &n, err) == 0) {
		if (cli->format == FORMAT_JSON)
			print_json(h, n);
		else
			print_text(h, n);
		rc = 0;
	}
	pgphase_history_release(h, n);
	pgphase_session_close(&s);
	return rc;
}
