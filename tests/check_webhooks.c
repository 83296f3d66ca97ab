/*
 * Webhooks against a real receiver (tests/webhook_receiver.py on 127.0.0.1, started by each
 * test on a free port): what a request carries — headers, the DESIGN §9 body, a signature
 * recomputed here with OpenSSL — the order of events per migration, the Slack format, event
 * filters and several endpoints.  Retries, the outbox and time bounds are in
 * check_webhooks_outbox.c; configuration errors in check_webhooks_config.c.  This file also
 * defines the helpers the three share (check_webhooks.h).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "check_webhooks.h"

/* ---- the receiver ---------------------------------------------------------------------- */

static char *path_in(const char *dir, const char *name)
{
	char *p;

	ck_assert_int_ge(asprintf(&p, "%s/%s", dir, name), 0);
	return p;
}

void wh_receiver_script(struct wh_receiver *r, const char *script)
{
	th_write(r->dir, "script", script);
}

void wh_receiver_start(struct wh_receiver *r, const char *script, int port)
{
	const char *top = getenv("PGPHASE_TEST_TOP");
	char *prog, *log, *portfile, *scriptfile, portarg[16], parent[16];
	FILE *f = NULL;

	if (!r->dir)
		r->dir = th_tmpdir();
	wh_receiver_script(r, script);
	ck_assert_int_ge(asprintf(&prog, "%s/tests/webhook_receiver.py", top ? top : "."), 0);
	log = path_in(r->dir, "log");
	portfile = path_in(r->dir, "port");
	scriptfile = path_in(r->dir, "script");
	unlink(portfile);
	snprintf(portarg, sizeof(portarg), "%d", port);
	snprintf(parent, sizeof(parent), "%d", (int)getpid());
	r->pid = fork();
	ck_assert_int_ge(r->pid, 0);
	if (r->pid == 0) {
		execlp("python3", "python3", prog, "serve", "--log", log, "--port-file", portfile,
		       "--script-file", scriptfile, "--port", portarg, "--parent", parent,
		       "--lifetime", "600", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && !(f = fopen(portfile, "r")); i++)
		usleep(50000);
	ck_assert_msg(f != NULL, "webhook receiver did not start (%s)", prog);
	ck_assert_int_eq(fscanf(f, "%d", &r->port), 1);
	fclose(f);
	snprintf(r->url, sizeof(r->url), "http://127.0.0.1:%d/hook", r->port);
	free(prog);
	free(log);
	free(portfile);
	free(scriptfile);
}

void wh_receiver_stop(struct wh_receiver *r)
{
	if (r->pid > 0) {
		kill(r->pid, SIGTERM);
		waitpid(r->pid, NULL, 0);
	}
	r->pid = 0;
}

void wh_receiver_release(struct wh_receiver *r)
{
	wh_receiver_stop(r);
	free(r->dir);
	r->dir = NULL;
}

json_t *wh_requests(const struct wh_receiver *r)
{
	char *log = path_in(r->dir, "log"), line[1 << 16];
	json_t *arr = json_array();
	FILE *f = fopen(log, "r");

	while (f && fgets(line, sizeof(line), f)) {
		json_error_t e;
		json_t *j = json_loads(line, 0, &e);

		ck_assert_msg(j != NULL, "bad receiver log line: %s", line);
		json_array_append_new(arr, j);
	}
	if (f)
		fclose(f);
	free(log);
	return arr;
}

json_t *wh_body(json_t *requests, size_t i)
{
	json_error_t e;
	const char *text = json_string_value(json_object_get(json_array_get(requests, i), "body"));
	json_t *b;

	ck_assert_msg(text != NULL, "no request %zu", i);
	b = json_loads(text, 0, &e);
	ck_assert_msg(b != NULL, "request body is not JSON: %s", text);
	return b;
}

const char *wh_header(json_t *requests, size_t i, const char *name)
{
	json_t *h = json_object_get(json_array_get(requests, i), "headers");
	const char *key;
	json_t *v;

	json_object_foreach(h, key, v)
		if (strcasecmp(key, name) == 0)
			return json_string_value(v);
	return NULL;
}

/* ---- scenarios ------------------------------------------------------------------------- */

const char *wh_hook(const char *url, const char *extra)
{
	static char ring[4][1024];
	static int next;
	char *buf = ring[next++ % 4];

	snprintf(buf, sizeof(ring[0]), "{ url = \"%s\"; secret_env = \"%s\"; %s }", url,
		 WH_SECRET_ENV, extra ? extra : "");
	return buf;
}

void wh_scenario_config(struct wh_scenario *sc, const char *webhooks)
{
	char text[4096];

	snprintf(text, sizeof(text), "# webhook test\nlock_timeout = \"2s\";\nwebhooks = ( %s );\n",
		 webhooks);
	th_write(sc->dir, "pgphase.cfg", text);
}

void wh_scenario_init(struct wh_scenario *sc, const char *webhooks)
{
	memset(sc, 0, sizeof(*sc));
	sc->dir = th_tmpdir();
	snprintf(sc->cfg, sizeof(sc->cfg), "%s/pgphase.cfg", sc->dir);
	snprintf(sc->mig, sizeof(sc->mig), "%s/migrations", sc->dir);
	sc->conninfo = th_conninfo();
	th_write(sc->dir, "migrations/001_users.sql",
		 "CREATE TABLE wh_users (id bigint PRIMARY KEY, email text);\n"
		 "-- DOWN\nDROP TABLE wh_users;\n");
	wh_scenario_config(sc, webhooks);
}

void wh_keep(struct wh_scenario *sc, const char *text)
{
	size_t n = text ? strlen(text) : 0;

	sc->transcript = realloc(sc->transcript, sc->len + n + 2);
	memcpy(sc->transcript + sc->len, text ? text : "", n);
	sc->len += n;
	sc->transcript[sc->len++] = '\n';
	sc->transcript[sc->len] = '\0';
}

static double seconds_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void wh_run(struct wh_scenario *sc, struct th_run *run, ...)
{
	static const char *const env[] = { WH_SECRET_ENV "=" WH_SECRET, NULL };
	const char *argv[40];
	const char *a;
	va_list ap;
	int n = 0;
	double t0;

	argv[n++] = "-c";
	argv[n++] = sc->cfg;
	argv[n++] = "-d";
	argv[n++] = sc->conninfo;
	argv[n++] = "-m";
	argv[n++] = sc->mig;
	va_start(ap, run);
	while ((a = va_arg(ap, const char *)) && n < 39)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	t0 = seconds_now();
	th_cli(run, NULL, env, argv);
	sc->last_seconds = seconds_now() - t0;
	wh_keep(sc, run->out);
	wh_keep(sc, run->err);
}

/* Fail showing where secret occurs in the transcript (the message stays short). */
static void assert_absent(const struct wh_scenario *sc, const char *secret)
{
	const char *hit = strstr(sc->transcript, secret);
	const char *from = hit && hit - sc->transcript > 300 ? hit - 300 : sc->transcript;

	ck_assert_msg(hit == NULL, "\"%s\" leaked here:\n%.600s", secret, from);
}

void wh_assert_no_leak(const struct wh_scenario *sc, const char *const *extra)
{
	ck_assert_msg(sc->transcript != NULL, "empty transcript");
	assert_absent(sc, WH_SECRET);
	for (size_t i = 0; extra && extra[i]; i++)
		assert_absent(sc, extra[i]);
}

void wh_scenario_release(struct wh_scenario *sc)
{
	free(sc->transcript);
	free(sc->dir);
	memset(sc, 0, sizeof(*sc));
}

char *wh_db_events(void)
{
	return th_value("SELECT string_agg(type || '/' || coalesce(phase, '-') || '/' || "
			"coalesce(version::text, '-'), E'\\n' ORDER BY seq) FROM pgphase.events");
}

/* ---- tests ----------------------------------------------------------------------------- */

/* The signature a receiver expects, computed independently of pgphase's code. */
static void expected_signature(const char *ts, const char *body, char out[80])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *msg;
	int n;

	ck_assert_int_ge(asprintf(&msg, "%s.%s", ts, body), 0);
	HMAC(EVP_sha256(), WH_SECRET, (int)strlen(WH_SECRET), (unsigned char *)msg, strlen(msg), md,
	     &len);
	n = snprintf(out, 80, "sha256=");
	for (unsigned int i = 0; i < len; i++)
		n += snprintf(out + n, 80 - (size_t)n, "%02x", md[i]);
	free(msg);
}

/* Keys appear in the DESIGN §9 order. */
static void assert_key_order(const char *body)
{
	static const char *const keys[] = { "\"id\":", "\"type\":", "\"occurred_at\":",
					    "\"module\":", "\"migration\":", "\"phase\":",
					    "\"status\":", "\"duration_ms\":", "\"rows\":",
					    "\"database\":", "\"run\":", NULL };
	const char *prev = body;

	for (size_t i = 0; keys[i]; i++) {
		const char *at = strstr(prev, keys[i]);

		ck_assert_msg(at != NULL, "key %s missing or out of order in %s", keys[i], body);
		prev = at;
	}
}

START_TEST(test_signed_payload)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs;
	char *ids, *run_id, sql[512];
	time_t now = time(NULL);

	wh_receiver_start(&r, "200", 0);
	wh_scenario_init(&sc, wh_hook(r.url, NULL));
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.err, "delivered 4 events");
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), 4);
	ids = th_value("SELECT string_agg(id::text, ',' ORDER BY seq) FROM pgphase.events");
	run_id = th_value("SELECT min(run_id::text) FROM pgphase.events");
	for (size_t i = 0; i < 4; i++) {
		const char *raw = json_string_value(json_object_get(json_array_get(reqs, i), "body"));
		const char *ts = wh_header(reqs, i, "X-Pgphase-Timestamp");
		json_t *b = wh_body(reqs, i), *m = json_object_get(b, "migration");
		const char *id = json_string_value(json_object_get(b, "id"));
		const char *occurred = json_string_value(json_object_get(b, "occurred_at"));
		char sig[80];

		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(reqs, i), "method")),
				 "POST");
		ck_assert_str_eq(wh_header(reqs, i, "Content-Type"), "application/json");
		ck_assert_str_eq(wh_header(reqs, i, "User-Agent"), "pgphase/" PGPHASE_VERSION);
		ck_assert_str_eq(wh_header(reqs, i, "X-Pgphase-Event"),
				 json_string_value(json_object_get(b, "type")));
		ck_assert_str_eq(wh_header(reqs, i, "X-Pgphase-Delivery"), id);
		th_assert_contains(ids, id);
		ck_assert_ptr_nonnull(ts);
		ck_assert_msg(labs(atol(ts) - (long)now) < 300, "timestamp %s is not now", ts);
		expected_signature(ts, raw, sig);
		ck_assert_str_eq(wh_header(reqs, i, "X-Pgphase-Signature"), sig);
		assert_key_order(raw);
		ck_assert_str_eq(json_string_value(json_object_get(b, "module")), "default");
		ck_assert_int_eq(json_integer_value(json_object_get(m, "version")), 1);
		ck_assert_str_eq(json_string_value(json_object_get(m, "name")), "users");
		th_assert_contains(json_string_value(json_object_get(m, "file")), "001_users.sql");
		ck_assert_str_eq(json_string_value(json_object_get(b, "status")), "succeeded");
		ck_assert(json_is_integer(json_object_get(b, "duration_ms")));
		ck_assert(json_is_null(json_object_get(b, "rows")));
		ck_assert_msg(occurred && strlen(occurred) == 20 && occurred[19] == 'Z',
			      "occurred_at \"%s\" is not YYYY-MM-DDTHH:MM:SSZ", occurred);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "database"),
								   "name")), th_dbname());
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "run"), "id")),
				 run_id);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "run"), "user")),
				 "postgres");
		json_decref(b);
	}
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM pgphase.deliveries WHERE endpoint = '%s' "
		 "AND delivered_at IS NOT NULL AND attempts = 1 AND last_status = 200", r.url);
	ck_assert_int_eq(th_long(sql), 4);
	wh_run(&sc, &run, "history", NULL);
	th_assert_exit(&run, 0);
	snprintf(sql, sizeof(sql), "webhook: delivered (1 attempt) to %s", r.url);
	th_assert_contains(run.out, sql);
	th_run_release(&run);
	wh_assert_no_leak(&sc, NULL);
	json_decref(reqs);
	free(ids);
	free(run_id);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_event_order)
{
	static const char *const want =
		"phase.completed/expand/1\nphase.completed/backfill/1\nphase.completed/contract/1\n"
		"migration.completed/-/1\n"
		"phase.completed/expand/2\nphase.completed/backfill/2\nphase.completed/contract/2\n"
		"migration.completed/-/2\n"
		"rollback.completed/-/2\nrollback.completed/-/1";
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs;
	char got[2048] = "", *db, *ids, delivered[2048] = "";

	wh_receiver_start(&r, "200", 0);
	wh_scenario_init(&sc, wh_hook(r.url, NULL));
	th_write(sc.dir, "migrations/002_orders.sql",
		 "CREATE TABLE wh_orders (id bigint PRIMARY KEY);\n-- DOWN\nDROP TABLE wh_orders;\n");
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	wh_run(&sc, &run, "rollback", "--steps", "2", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	reqs = wh_requests(&r);
	for (size_t i = 0; i < json_array_size(reqs); i++) {
		json_t *b = wh_body(reqs, i);
		json_t *phase = json_object_get(b, "phase");
		char line[128];

		snprintf(line, sizeof(line), "%s%s/%s/%lld", i ? "\n" : "",
			 json_string_value(json_object_get(b, "type")),
			 json_is_null(phase) ? "-" : json_string_value(phase),
			 (long long)json_integer_value(json_object_get(json_object_get(b, "migration"),
								       "version")));
		strncat(got, line, sizeof(got) - strlen(got) - 1);
		snprintf(line, sizeof(line), "%s%s", i ? "," : "", wh_header(reqs, i, "X-Pgphase-Delivery"));
		strncat(delivered, line, sizeof(delivered) - strlen(delivered) - 1);
		json_decref(b);
	}
	db = wh_db_events();
	ck_assert_str_eq(db, want);
	ck_assert_str_eq(got, want);
	ids = th_value("SELECT string_agg(id::text, ',' ORDER BY seq) FROM pgphase.events");
	ck_assert_str_eq(delivered, ids);
	json_decref(reqs);
	free(db);
	free(ids);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_slack_format)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs, *b;
	const char *text;
	size_t n;

	wh_receiver_start(&r, "200", 0);
	wh_scenario_init(&sc, wh_hook(r.url, "format = \"slack\";"));
	th_write(sc.dir, "migrations/002_broken.sql", "INSERT INTO wh_missing VALUES (1);\n");
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 1);
	th_run_release(&run);
	reqs = wh_requests(&r);
	n = json_array_size(reqs);
	ck_assert_int_eq(n, 5); /* 001: three phases + migration.completed; 002: phase.failed */
	b = wh_body(reqs, 0);
	ck_assert_int_eq(json_object_size(b), 1);
	text = json_string_value(json_object_get(b, "text"));
	ck_assert_ptr_nonnull(text);
	th_assert_contains(text, "phase.completed expand of ");
	th_assert_contains(text, "001_users.sql");
	th_assert_contains(text, "succeeded in ");
	th_assert_contains(text, th_dbname());
	ck_assert_ptr_null(strchr(text, '\n'));
	ck_assert_str_eq(wh_header(reqs, 0, "Content-Type"), "application/json");
	ck_assert_ptr_nonnull(wh_header(reqs, 0, "X-Pgphase-Signature"));
	json_decref(b);
	b = wh_body(reqs, n - 1);
	text = json_string_value(json_object_get(b, "text"));
	th_assert_contains(text, "phase.failed expand of ");
	th_assert_contains(text, "002_broken.sql");
	th_assert_contains(text, "wh_missing");
	ck_assert_ptr_null(strchr(text, '\n'));
	ck_assert_str_eq(wh_header(reqs, n - 1, "X-Pgphase-Event"), "phase.failed");
	json_decref(b);
	json_decref(reqs);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

static size_t count_type(json_t *reqs, const char *type)
{
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(reqs); i++)
		n += strcmp(wh_header(reqs, i, "X-Pgphase-Event"), type) == 0;
	return n;
}

START_TEST(test_filters_and_endpoints)
{
	struct wh_receiver a = { 0 }, b = { 0 }, c = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *ra, *rb, *rc;
	char hooks[2048], want[512];

	wh_receiver_start(&a, "200", 0);
	wh_receiver_start(&b, "200", 0);
	wh_receiver_start(&c, "200", 0);
	snprintf(hooks, sizeof(hooks), "%s, %s, %s",
		 wh_hook(a.url, "events = [ \"migration.completed\", \"rollback.completed\" ];"),
		 wh_hook(b.url, NULL),
		 wh_hook(c.url, "events = [ \"backfill.progress\" ]; insecure = true;"));
	wh_scenario_init(&sc, hooks);
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	/* turning TLS verification off is said on every run */
	snprintf(want, sizeof(want), "webhook %s: TLS certificate verification is off", c.url);
	th_assert_contains(run.err, want);
	th_run_release(&run);
	wh_run(&sc, &run, "rollback", NULL);
	th_assert_exit(&run, 0);
	th_assert_contains(run.err, want);
	th_run_release(&run);
	ra = wh_requests(&a);
	rb = wh_requests(&b);
	rc = wh_requests(&c);
	ck_assert_int_eq(json_array_size(ra), 2);
	ck_assert_int_eq(count_type(ra, "migration.completed"), 1);
	ck_assert_int_eq(count_type(ra, "rollback.completed"), 1);
	ck_assert_int_eq(json_array_size(rb), 5); /* every type but the opt-in backfill.progress */
	ck_assert_int_eq(count_type(rb, "phase.completed"), 3);
	ck_assert_int_eq(json_array_size(rc), 0);
	ck_assert_int_eq(th_long("SELECT count(*) FROM pgphase.deliveries"), 7);
	/* the same event id reaches both endpoints */
	ck_assert_str_eq(wh_header(ra, 0, "X-Pgphase-Delivery"), wh_header(rb, 3, "X-Pgphase-Delivery"));
	wh_run(&sc, &run, "history", NULL);
	snprintf(want, sizeof(want), "delivered (1 attempt) to %s; delivered (1 attempt) to %s",
		 strcmp(a.url, b.url) < 0 ? a.url : b.url, strcmp(a.url, b.url) < 0 ? b.url : a.url);
	th_assert_contains(run.out, want);
	th_run_release(&run);
	json_decref(ra);
	json_decref(rb);
	json_decref(rc);
	wh_receiver_release(&a);
	wh_receiver_release(&b);
	wh_receiver_release(&c);
	wh_scenario_release(&sc);
}
END_TEST

START_TEST(test_new_endpoint_gets_no_history)
{
	struct wh_receiver r = { 0 };
	struct wh_scenario sc;
	struct th_run run;
	json_t *reqs;

	wh_receiver_start(&r, "200", 0);
	wh_scenario_init(&sc, "");
	wh_run(&sc, &run, "migrate", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	/* an endpoint added later starts with the next event, not with the whole history */
	wh_scenario_config(&sc, wh_hook(r.url, NULL));
	wh_run(&sc, &run, "notify", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	wh_run(&sc, &run, "rollback", NULL);
	th_assert_exit(&run, 0);
	th_run_release(&run);
	reqs = wh_requests(&r);
	ck_assert_int_eq(json_array_size(reqs), 1);
	ck_assert_str_eq(wh_header(reqs, 0, "X-Pgphase-Event"), "rollback.completed");
	json_decref(reqs);
	wh_receiver_release(&r);
	wh_scenario_release(&sc);
}
END_TEST

Suite *webhooks_suite(void)
{
	Suite *s = suite_create("webhooks");
	TCase *tc = th_db_tcase("delivery");

	tcase_add_test(tc, test_signed_payload);
	tcase_add_test(tc, test_event_order);
	tcase_add_test(tc, test_slack_format);
	tcase_add_test(tc, test_filters_and_endpoints);
	tcase_add_test(tc, test_new_endpoint_gets_no_history);
	suite_add_tcase(s, tc);
	return s;
}
