/*
 * pgphase notify [--format json]: deliver what the webhook outbox still holds — events a
 * dead or failing endpoint did not take when they happened — with the same retries as after
 * a migration but a longer time budget.  Deliveries that failed permanently (a 4xx answer)
 * are not retried automatically; this explicit command tries each of them once more, so an
 * operator who fixed the receiver gets them through.  Prints one line per endpoint (or a
 * JSON report) on stdout.  Exit 0 when every event is delivered, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli/cli.h"
#include "pgphase/log.h"
#include "pgphase/notify.h"

static void print_text(const struct pgphase_notify_report *rep)
{
	for (size_t i = 0; i < rep->n; i++) {
		const struct pgphase_notify_endpoint_report *e = &rep->endpoints[i];

		printf("%s: %zu delivered, %zu pending, %zu failed\n", e->endpoint, e->delivered,
		       e->pending, e->failed);
	}
}

static void print_json(const struct pgphase_notify_report *rep)
{
	json_t *arr = json_array(), *o;
	char *out;

	for (size_t i = 0; i < rep->n; i++) {
		const struct pgphase_notify_endpoint_report *e = &rep->endpoints[i];

		json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:I}",
						     "endpoint", e->endpoint,
						     "delivered", (json_int_t)e->delivered,
						     "pending", (json_int_t)e->pending,
						     "failed", (json_int_t)e->failed,
						     "attempts", (json_int_t)e->attempts));
	}
	o = json_pack("{s:b, s:o}", "complete", rep->pending == 0 && rep->failed == 0 && !rep->skipped,
		      "endpoints", arr);
	out = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	puts(out);
	free(out);
	json_decref(o);
}

int cmd_notify(struct cli *cli, struct pgphase_error *err)
{
	struct pgphase_notify_options o = { PGPHASE_NOTIFY_COMMAND_BUDGET_MS, true };
	struct pgphase_notify_report rep = { 0 };
	struct pgphase_session s;
	int rc = -1;

	/* secrets are needed to sign: check them before connecting */
	if (pgphase_notify_check_config(&cli->cfg, true, err) < 0)
		return -1;
	if (cli->cfg.n_webhooks == 0) {
		pgphase_info("no webhooks configured: nothing to deliver");
		return 0;
	}
	if (cli_open(cli, &s, false, err) < 0)
		return -1;
	if (pgphase_notify_deliver(&s, &o, &rep, err) < 0)
		goto cleanup;
	if (cli->format == FORMAT_JSON)
		print_json(&rep);
	else
		print_text(&rep);
	rc = rep.pending || rep.failed || rep.skipped ? PGPHASE_EXIT_FAILED : PGPHASE_EXIT_OK;
cleanup:
	pgphase_notify_report_release(&rep);
	pgphase_session_close(&s);
	return rc;
}
