/*
 * Webhook configuration errors and the pure parts of the notifier.  A bad webhook — a
 * malformed URL, a scheme other than http(s), an unknown event name, a secret_env naming an
 * unset variable — is a config error with the file's line, exit 2, before anything is
 * changed: the tests check that not even the state schema was created.  The pure cases check
 * the HMAC against RFC 4231, the signature layout, URL masking and that bodies are
 * deterministic and masked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_webhooks.h"
#include "notify/notify.h"

/* Run migrate with one webhooks block; expect exit 2 naming cfg:line and containing what. */
static void expect_config_error(const char *webhooks, int line, const char *what)
{
	struct wh_scenario sc;
	struct th_run run;
	char where[700];
	char *schema, *table;

	wh_scenario_init(&sc, webhooks);
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 2);
	snprintf(where, sizeof(where), "%s:%d: ", sc.cfg, line);
	th_assert_contains(run.err, where);
	th_assert_contains(run.err, what);
	th_assert_not_contains(run.err, "applying");
	th_run_release(&run);
	schema = th_value("SELECT coalesce(to_regnamespace('pgphase')::text, 'none')");
	table = th_value("SELECT coalesce(to_regclass('wh_users')::text, 'none')");
	ck_assert_str_eq(schema, "none");
	ck_assert_str_eq(table, "none");
	free(schema);
	free(table);
	wh_scenario_release(&sc);
}

START_TEST(test_bad_urls)
{
	expect_config_error("{ url = \"http//example.com/hook\"; }", 3, "webhook url is malformed");
	expect_config_error("{ url = \"not a url\"; }", 3, "webhook url is malformed");
	expect_config_error("{ url = \"http://\"; }", 3, "webhook url");
	expect_config_error("{ url = \"file:///etc/passwd\"; }", 3,
			    "webhook url has scheme \"file\": only http and https are allowed");
	expect_config_error("{ url = \"gopher://127.0.0.1:70/1\"; }", 3,
			    "webhook url has scheme \"gopher\"");
	expect_config_error("{ url = \"ftp://example.com/x\"; }", 3, "scheme \"ftp\"");
}
END_TEST

START_TEST(test_bad_events_and_secrets)
{
	expect_config_error("{ url = \"http://127.0.0.1:9/a\"; events = [ \"phase.complete\" ]; }", 3,
			    "unknown webhook event \"phase.complete\"");
	expect_config_error("{ url = \"http://127.0.0.1:9/a\"; events = [ ]; }", 3,
			    "\"events\" is empty");
	expect_config_error("{ url = \"http://127.0.0.1:9/a\"; secret_env = \"PGPHASE_TEST_UNSET_XYZ\"; }",
			    3, "secret_env names \"PGPHASE_TEST_UNSET_XYZ\", which is not set");
	expect_config_error("{ url = \"http://127.0.0.1:9/a\"; secret = \"x\"; secret_env = \"HOME\"; }",
			    3, "both \"secret\" and \"secret_env\"");
	expect_config_error("{ url = \"http://127.0.0.1:9/a\"; timeout = 0; }", 3,
			    "\"timeout\" must be positive");
	expect_config_error("{ url = \"http://127.0.0.1:9/a\"; },\n { url = \"http://127.0.0.1:9/a\"; }",
			    4, "is also used by the webhook on line 3");
	/* the line is the failing webhook's own, among several */
	expect_config_error("{ url = \"http://127.0.0.1:9/a\"; },\n\n"
			    "  { url = \"http://127.0.0.1:9/b\";\n    events = [ \"nope\" ]; }", 5,
			    "unknown webhook event \"nope\"");
}
END_TEST

START_TEST(test_secret_needed_only_to_send)
{
	struct wh_scenario sc;
	struct th_run run;

	wh_scenario_init(&sc, "{ url = \"http://127.0.0.1:9/a\"; secret_env = \"PGPHASE_TEST_UNSET_XYZ\"; }");
	/* read-only commands work without the secret ... */
	wh_run(&sc, &run, "status", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	wh_run(&sc, &run, "migrate", "--dry-run", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	/* ... commands that send refuse before connecting */
	wh_run(&sc, &run, "notify", NULL);
	th_assert_exit(&run, 2);
	th_assert_contains(run.err, "which is not set");
	th_run_release(&run);
	wh_run(&sc, &run, "rollback", NULL);
	th_assert_exit(&run, 2);
	th_run_release(&run);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_notify_without_webhooks)
{
	struct th_run run;
	char *dir = th_tmpdir();

	th_pgphase(&run, dir, "notify", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.err, "no webhooks configured");
	th_run_release(&run);
	free(dir);
}
END_TEST

/* ---- pure ------------------------------------------------------------------------------ */

START_TEST(test_hmac_rfc4231)
{
	char hex[65], expect[80], *sig;
	const char *data = "what do ya want for nothing?";

	notify_hmac_hex("Jefe", data, strlen(data), hex);
	ck_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* the signature covers timestamp + "." + body */
	sig = notify_signature("k", "1700000000", "{\"a\":1}");
	notify_hmac_hex("k", "1700000000.{\"a\":1}", 18, hex);
	snprintf(expect, sizeof(expect), "sha256=%s", hex);
	ck_assert_str_eq(sig, expect);
	free(sig);
}
END_TEST

START_TEST(test_url_display)
{
	static const char *const cases[][2] = {
		{ "http://user:pw@hooks.example.com:8080/p/q?token=abc", "http://***@hooks.example.com:8080/p/q?***" },
		{ "https://hooks.example.com", "https://hooks.example.com/" },
		{ "http://127.0.0.1:9/hook", "http://127.0.0.1:9/hook" },
		{ "::nonsense::", "(invalid url)" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *got = pgphase_notify_url_display(cases[i][0]);

		ck_assert_str_eq(got, cases[i][1]);
		free(got);
	}
	ck_assert(pgphase_notify_event_known("phase.completed"));
	ck_assert(pgphase_notify_event_known("backfill.progress"));
	ck_assert(!pgphase_notify_event_known("phase.complete"));
}
END_TEST

START_TEST(test_body_deterministic_and_masked)
{
	struct notify_event ev = { 0 };
	struct notify_db db = { "db1", 5432, "app" };
	const char *masks[] = { "hunter2", NULL };
	char *a, *b, *slack;

	ev.id = "0b5c7f5e-0000-4000-8000-000000000001";
	ev.type = "phase.failed";
	ev.occurred_at = "2026-11-22T10:00:00Z";
	ev.module = "default";
	ev.version = 3;
	ev.name = "add_email";
	ev.file = "003_add_email.sql";
	ev.phase = "expand";
	ev.status = "failed";
	ev.error = "003_add_email.sql:2:1: password \"hunter2\" rejected\nsecond line";
	ev.run_id = "0b5c7f5e-0000-4000-8000-000000000002";
	ev.run_host = "deploy-1";
	ev.run_user = "ci";
	ev.duration_ms = 123;
	ev.rows = -1;
	a = notify_body(&ev, &db, false, masks);
	b = notify_body(&ev, &db, false, masks);
	ck_assert_str_eq(a, b);
	th_assert_contains(a, "{\"id\":\"0b5c7f5e-0000-4000-8000-000000000001\",\"type\":\"phase.failed\","
			      "\"occurred_at\":\"2026-11-22T10:00:00Z\",\"module\":\"default\","
			      "\"migration\":{\"version\":3,\"name\":\"add_email\",\"file\":\"003_add_email.sql\"},"
			      "\"phase\":\"expand\",\"status\":\"failed\",\"duration_ms\":123,\"rows\":null,");
	th_assert_contains(a, "\"database\":{\"host\":\"db1\",\"port\":5432,\"name\":\"app\"},"
			      "\"run\":{\"id\":\"0b5c7f5e-0000-4000-8000-000000000002\",\"host\":\"deploy-1\","
			      "\"user\":\"ci\"}}");
	th_assert_not_contains(a, "hunter2");
	th_assert_contains(a, "password \\\"*****\\\" rejected\\nsecond line");
	slack = notify_body(&ev, &db, true, masks);
	th_assert_contains(slack, "{\"text\":\"pgphase: phase.failed expand of 003_add_email.sql");
	th_assert_contains(slack, "rejected second line");
	th_assert_not_contains(slack, "\\n");
	th_assert_not_contains(slack, "hunter2");
	free(a);
	free(b);
	free(slack);
}
END_TEST

Suite *webhooks_config_suite(void)
{
	Suite *s = suite_create("webhooks_config");
	TCase *db = th_db_tcase("config");
	TCase *pure = th_pure_tcase("payload");

	tcase_add_test(db, test_bad_urls);
	tcase_add_test(db, test_bad_events_and_secrets);
	tcase_add_test(db, test_secret_needed_only_to_send);
	tcase_add_test(db, test_notify_without_webhooks);
	tcase_add_test(pure, test_hmac_rfc4231);
	tcase_add_test(pure, test_url_display);
	tcase_add_test(pure, test_body_deterministic_and_masked);
	suite_add_tcase(s, db);
	suite_add_tcase(s, pure);
	return s;
}
