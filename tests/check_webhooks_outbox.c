/*
 * The webhook outbox against a real receiver that misbehaves on purpose: retries with
 * backoff and Retry-After, strict order per endpoint while an event is retried, events kept
 * for `pgphase notify` when the receiver fails or is down, permanent failures, and the time
 * bounds — a stalling receiver, one that never closes, one answering 10 MB — under which a
 * migration still succeeds.  Ends with the leak check: every output of a run with a database
 * password, a URL password and two webhook secrets is grepped for all of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_webhooks.h"
#include "pgphase/notify.h"

static double req_time(json_t *reqs, size_t i)
{
	return json_real_value(json_object_get(json_array_get(reqs, i), "t"));
}

static long count(const char *where)
{
	char sql[512];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pgphase.deliveries WHERE %s", where);
	return th_long(sql);
}

/* Delivery ids of the requests from index from on, comma-separated (malloc'd). */
static char *delivery_ids(json_t *reqs, size_t from)
{
	char buf[4096] = "";

	for (size_t i = from; i < json_array_size(reqs); i++) {
		strncat(buf, i > from ? "," : "", sizeof(buf) - strlen(buf) - 1);
		strncat(buf, wh_header(reqs, i, "X-Pgphase-Delivery"), sizeof(buf) - strlen(buf) - 1);
	}
	return strdup(buf);
}

START_TEST(test_retry_backoff_and_order)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs;
	char *ids, *got, want[1024];

	wh_receiver_start(&r, "500,429:1,200", 0);
	wh_scenario_init(&sc, wh_hook(r.url, "timeout = \"2s\"; max_attempts = 5;"));
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), 6);
	/* the first event three times, same id and bytes; newer events waited behind it */
	ids = th_value("SELECT string_agg(id::text, ',' ORDER BY seq) FROM pgphase.events");
	snprintf(want, sizeof(want), "%.36s,%.36s,%s", ids, ids, ids);
	got = delivery_ids(reqs, 0);
	ck_assert_str_eq(got, want);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(reqs, 0), "body")),
			 json_string_value(json_object_get(json_array_get(reqs, 2), "body")));
	/* backoff: 0.25-0.5 s after the first failure; Retry-After: 1 s after the 429 */
	ck_assert_msg(req_time(reqs, 1) - req_time(reqs, 0) >= 0.2, "no backoff after HTTP 500");
	ck_assert_msg(req_time(reqs, 2) - req_time(reqs, 1) >= 0.95, "Retry-After not honoured");
	ck_assert_int_eq(count("attempts = 3 AND delivered_at IS NOT NULL AND last_status = 200"), 1);
	ck_assert_int_eq(count("attempts = 1 AND delivered_at IS NOT NULL"), 3);
	json_decref(reqs);
	free(ids);
	free(got);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_outbox_redelivery)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs;
	char *ids, *got, want[256];
	size_t before;

	wh_receiver_start(&r, "500", 0);
	wh_scenario_init(&sc, wh_hook(r.url, "timeout = \"1s\"; max_attempts = 2;"));
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.err, "4 webhook deliveries are pending");
	th_assert_contains(run.err, "pgphase notify");
	th_run_release(&run);
	ck_assert_int_eq(count("delivered_at IS NULL AND NOT failed_permanently"), 4);
	ck_assert_int_eq(count("attempts = 2 AND last_status = 500"), 1);
	wh_run(&sc, &run, "history", NULL);
	snprintf(want, sizeof(want), "pending (2 attempts) to %s", r.url);
	th_assert_contains(run.out, want);
	th_run_release(&run);
	/* still failing: notify keeps them and says so */
	wh_run(&sc, &run, "notify", NULL);
	th_assert_exit(&run, 1);
	snprintf(want, sizeof(want), "%s: 0 delivered, 4 pending, 0 failed", r.url);
	th_assert_contains(run.out, want);
	th_run_release(&run);
	/* the receiver comes back */
	before = json_array_size(reqs = wh_requests(&r));
	json_decref(reqs);
	wh_receiver_script(&r, "200");
	wh_run(&sc, &run, "notify", NULL);
	th_assert_exit(&run, 0);
	snprintf(want, sizeof(want), "%s: 4 delivered, 0 pending, 0 failed", r.url);
	th_assert_contains(run.out, want);
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), before + 4);
	ids = th_value("SELECT string_agg(id::text, ',' ORDER BY seq) FROM pgphase.events");
	got = delivery_ids(reqs, before);
	ck_assert_str_eq(got, ids);
	json_decref(reqs);
	/* delivered once: nothing more to send */
	wh_run(&sc, &run, "notify", "--format", "json", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.out, "\"complete\": true");
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), before + 4);
	ck_assert_int_eq(count("attempts = 5 AND delivered_at IS NOT NULL"), 1);
	json_decref(reqs);
	free(ids);
	free(got);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_dead_endpoint)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs;
	char *ids, *got, *err;
	int port;

	wh_receiver_start(&r, "200", 0);
	port = r.port;
	wh_receiver_stop(&r); /* nobody listens on the port now */
	wh_scenario_init(&sc, wh_hook(r.url, "timeout = \"1s\"; max_attempts = 2;"));
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.err, "complete in");
	ck_assert_msg(sc.last_seconds < 5, "dead endpoint held migrate for %.1f s", sc.last_seconds);
	th_run_release(&run);
	ck_assert_int_eq(count("delivered_at IS NULL AND NOT failed_permanently"), 4);
	err = th_value("SELECT last_error FROM pgphase.deliveries WHERE attempts > 0");
	th_assert_contains(err, "onnect");
	free(err);
	wh_receiver_start(&r, "200", port);
	wh_run(&sc, &run, "notify", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	reqs = wh_requests(&r);
	ids = th_value("SELECT string_agg(id::text, ',' ORDER BY seq) FROM pgphase.events");
	got = delivery_ids(reqs, 0);
	ck_assert_str_eq(got, ids);
	json_decref(reqs);
	free(ids);
	free(got);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_stall_is_cut_off)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;

	wh_receiver_start(&r, "stall", 0);
	wh_scenario_init(&sc, wh_hook(r.url, "timeout = \"300ms\"; max_attempts = 3;"));
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.err, "timed out");
	ck_assert_msg(sc.last_seconds < 5, "stalling endpoint held migrate for %.1f s",
		      sc.last_seconds);
	th_run_release(&run);
	ck_assert_int_eq(count("delivered_at IS NULL AND attempts = 3"), 1);
	/* however many attempts are allowed, the whole command stays within the budget */
	wh_scenario_config(&sc, wh_hook(r.url, "timeout = \"3s\"; max_attempts = 100;"));
	wh_run(&sc, &run, "rollback", NULL);
	th_assert_exit(&run, 0);
	ck_assert_msg(sc.last_seconds < PGPHASE_NOTIFY_AFTER_RUN_BUDGET_MS / 1000.0 + 3,
		      "rollback took %.1f s with a stalling endpoint", sc.last_seconds);
	th_run_release(&run);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.migrations"), 0);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_bad_endpoint_does_not_block_others)
{
	struct wh_receiver bad = { 0 }, good = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	char hooks[2048], where[256], *ids, *got;
	json_t *reqs;

	wh_receiver_start(&bad, "stall", 0);
	wh_receiver_start(&good, "200", 0);
	snprintf(hooks, sizeof(hooks), "%s, %s",
		 wh_hook(bad.url, "timeout = \"400ms\"; max_attempts = 3;"), wh_hook(good.url, NULL));
	wh_scenario_init(&sc, hooks);
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	ck_assert_msg(sc.last_seconds < 5, "migrate took %.1f s", sc.last_seconds);
	th_run_release(&run);
	reqs = wh_requests(&good);
	ids = th_value("SELECT string_agg(id::text, ',' ORDER BY seq) FROM pgphase.events");
	got = delivery_ids(reqs, 0);
	ck_assert_str_eq(got, ids);
	snprintf(where, sizeof(where), "endpoint = '%s' AND delivered_at IS NULL", bad.url);
	ck_assert_int_eq(count(where), 4);
	json_decref(reqs);
	free(ids);
	free(got);
	wh_receiver_release(&bad);
	wh_receiver_release(&good);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_huge_and_unclosed_answers)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;

	wh_receiver_start(&r, "huge", 0);
	wh_scenario_init(&sc, wh_hook(r.url, "timeout = \"500ms\";"));
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	ck_assert_msg(sc.last_seconds < 5, "10 MB answers took %.1f s", sc.last_seconds);
	th_run_release(&run);
	ck_assert_int_eq(count("delivered_at IS NOT NULL AND last_status = 200 AND attempts = 1"), 4);
	/* a 2xx status line is an answer even if the body never ends: cut off by the timeout */
	wh_receiver_script(&r, "noclose");
	wh_run(&sc, &run, "rollback", NULL);
	th_assert_exit(&run, 0);
	ck_assert_msg(sc.last_seconds < 5, "an unclosed answer held rollback for %.1f s",
		      sc.last_seconds);
	th_run_release(&run);
	ck_assert_int_eq(count("delivered_at IS NOT NULL AND last_status = 200"), 5);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_permanent_failures)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs;
	char want[256];

	wh_receiver_start(&r, "404", 0);
	wh_scenario_init(&sc, wh_hook(r.url, "max_attempts = 5;"));
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.err, "failed permanently: HTTP 404");
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), 4); /* not retried */
	json_decref(reqs);
	ck_assert_int_eq(count("failed_permanently AND last_status = 404 AND attempts = 1"), 4);
	wh_run(&sc, &run, "history", NULL);
	snprintf(want, sizeof(want), "failed (1 attempt) to %s", r.url);
	th_assert_contains(run.out, want);
	th_run_release(&run);
	/* an explicit notify tries each once more; once the receiver is fixed they go through */
	wh_run(&sc, &run, "notify", NULL);
	th_assert_exit(&run, 1);
	th_run_release(&run);
	wh_receiver_script(&r, "200");
	wh_run(&sc, &run, "notify", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), 12);
	json_decref(reqs);
	ck_assert_int_eq(count("delivered_at IS NOT NULL AND NOT failed_permanently"), 4);
	/* a redirect is not followed: one request, recorded as failed */
	wh_receiver_script(&r, "redirect");
	wh_run(&sc, &run, "rollback", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), 13);
	json_decref(reqs);
	ck_assert_int_eq(count("failed_permanently AND last_status = 302 AND "
			       "last_error LIKE '%redirects are not followed%'"), 1);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

#define DB_PASSWORD "dbpw-Kx4-never-shown-5521"
#define URL_PASSWORD "urlpw-Mm3-never-shown-9034"
#define LITERAL_SECRET "litsec-Pp7-never-shown-1290"

static void keep_sql(struct wh_scenario *sc, const char *sql)
{
	char *v = th_value(sql);

	wh_keep(sc, v);
	free(v);
}

START_TEST(test_no_secret_leaks)
{
	static const char *const secrets[] = { DB_PASSWORD, URL_PASSWORD, LITERAL_SECRET, NULL };
	struct wh_receiver a = { 0 }, b = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	char role[64], sql[256], conninfo[512], url[256], hooks[2048], *log;
	json_t *reqs;

	snprintf(role, sizeof(role), "wh_leak_%d", (int)getpid());
	snprintf(sql, sizeof(sql), "CREATE ROLE %s LOGIN PASSWORD '%s'", role, DB_PASSWORD);
	th_exec(sql);
	snprintf(sql, sizeof(sql), "ALTER DATABASE %s OWNER TO %s", th_dbname(), role);
	th_exec(sql);
	snprintf(conninfo, sizeof(conninfo), "host=127.0.0.1 port=%s user=%s password=%s dbname=%s",
		 getenv("PGPORT"), role, DB_PASSWORD, th_dbname());
	wh_receiver_start(&a, "500,200", 0);
	wh_receiver_start(&b, "404,200", 0);
	snprintf(url, sizeof(url), "http://hook:%s@127.0.0.1:%d/hook?token=%s", URL_PASSWORD, a.port,
		 URL_PASSWORD);
	snprintf(hooks, sizeof(hooks), "%s, { url = \"%s\"; secret = \"%s\"; format = \"slack\"; }",
		 wh_hook(url, NULL), b.url, LITERAL_SECRET);
	wh_scenario_init(&sc, hooks);
	sc.conninfo = conninfo;
	th_write(sc.dir, "migrations/002_broken.sql", "INSERT INTO wh_missing VALUES (1);\n");
	wh_run(&sc, &run, "-v", "migrate", NULL);
	th_assert_exit(&run, 1);
	th_assert_contains(run.err, "http://***@127.0.0.1:");
	th_run_release(&run);
	wh_run(&sc, &run, "history", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.out, "?***");
	th_run_release(&run);
	wh_run(&sc, &run, "history", "--format", "json", NULL);
	th_run_release(&run);
	wh_run(&sc, &run, "-v", "notify", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	wh_run(&sc, &run, "status", NULL);
	th_run_release(&run);
	/* what the receivers got, bodies and headers (the path is the receiver's own URL) */
	for (int i = 0; i < 2; i++) {
		reqs = wh_requests(i == 0 ? &a : &b);
		ck_assert_int_ge(json_array_size(reqs), 5);
		for (size_t j = 0; j < json_array_size(reqs); j++)
			json_object_del(json_array_get(reqs, j), "path");
		log = json_dumps(reqs, 0);
		wh_keep(&sc, log);
		free(log);
		json_decref(reqs);
	}
	keep_sql(&sc, "SELECT string_agg(d::text, E'\\n') FROM pgphase.deliveries d");
	keep_sql(&sc, "SELECT string_agg(e::text, E'\\n') FROM pgphase.events e");
	keep_sql(&sc, "SELECT string_agg(m::text, E'\\n') FROM pgphase.meta m");
	keep_sql(&sc, "SELECT string_agg(m::text, E'\\n') FROM pgphase.migrations m");
	/* a bad URL holding a password is reported without it */
	snprintf(hooks, sizeof(hooks), "{ url = \"gopher://u:%s@127.0.0.1/x\"; }", URL_PASSWORD);
	wh_scenario_config(&sc, hooks);
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 2);
	th_run_release(&run);
	wh_assert_no_leak(&sc, secrets);
	wh_receiver_release(&a);
	wh_receiver_release(&b);
	wh_scenario_release(&sc);
}
END_TEST

Suite *webhooks_outbox_suite(void)
{
	Suite *s = suite_create("webhooks_outbox");
	TCase *tc = th_db_tcase("outbox");

	tcase_add_test(tc, test_retry_backoff_and_order);
	tcase_add_test(tc, test_outbox_redelivery);
	tcase_add_test(tc, test_dead_endpoint);
	tcase_add_test(tc, test_stall_is_cut_off);
	tcase_add_test(tc, test_bad_endpoint_does_not_block_others);
	tcase_add_test(tc, test_huge_and_unclosed_answers);
	tcase_add_test(tc, test_permanent_failures);
	tcase_add_test(tc, test_no_secret_leaks);
	suite_add_tcase(s, tc);
	return s;
}
