/*
 * The linter's library API beyond single rules: every output format (JSON and SARIF parsed
 * back with jansson and checked field by field, GitHub annotations, text), severity
 * overrides and rule filters, version-dependent checks at two versions, the planner hook
 * (info with a strategy; error again under -- pgphase:as-is and --raw; destructive findings
 * placed in contract are warnings), ignores, and positions in files with multibyte text.
 * Pure: no server.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"
#include "pgphase/lint.h"

static const char sample[] =
	"-- UP\n"
	"CREATE INDEX orders_created_idx ON orders (created_at);\n"
	"-- pgphase:as-is\n"
	"CREATE INDEX orders_user_idx ON orders (user_id);\n"
	"ALTER TABLE users ADD COLUMN payload json;\n"
	"-- CONTRACT\n"
	"ALTER TABLE users DROP COLUMN legacy;\n"
	"-- DOWN\n"
	"ALTER TABLE users ADD COLUMN legacy text;\n";

/* Lint content written as dir/name; returns the directory (the test fixture removes it). */
static char *write_migration(const char *name, const char *content)
{
	char *dir = th_tmpdir();

	th_write(dir, name, content);
	return dir;
}

static void lint_dir(struct pgphase_lint_result *res, const char *dir,
		     const struct pgphase_lint_options *opts)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	const char *paths[1] = { dir };

	pgphase_lint_result_init(res);
	ck_assert_msg(pgphase_lint_paths(res, paths, 1, opts, &err) == 0, "lint failed: %s",
		      err.message);
	pgphase_error_release(&err);
}

static const struct pgphase_lint_finding *find(const struct pgphase_lint_result *res,
					       const char *rule, int line)
{
	for (size_t i = 0; i < res->n; i++)
		if (strcmp(res->findings[i].rule->id, rule) == 0 && res->findings[i].line == line)
			return &res->findings[i];
	return NULL;
}

static char *render(const struct pgphase_lint_result *res, enum pgphase_lint_format f, bool color)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);

	ck_assert_int_eq(pgphase_lint_write(out, res, f, color), 0);
	fclose(out);
	return buf;
}

START_TEST(json_round_trip)
{
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	char *dir = write_migration("001_sample.sql", sample), *text;
	json_error_t jerr;
	json_t *root, *list, *f, *sum;
	size_t i;

	pgphase_lint_options_init(&opts);
	lint_dir(&res, dir, &opts);
	text = render(&res, PGPHASE_LINT_JSON, false);
	root = json_loads(text, 0, &jerr);
	ck_assert_msg(root != NULL, "invalid JSON (%s):\n%s", jerr.text, text);
	list = json_object_get(root, "findings");
	ck_assert_int_eq(json_array_size(list), res.n);
	json_array_foreach(list, i, f) {
		const struct pgphase_lint_finding *want = &res.findings[i];

		ck_assert_str_eq(json_string_value(json_object_get(f, "file")), want->file);
		ck_assert_int_eq(json_integer_value(json_object_get(f, "line")), want->line);
		ck_assert_int_eq(json_integer_value(json_object_get(f, "column")), want->column);
		ck_assert_int_eq(json_integer_value(json_object_get(f, "end_line")), want->end_line);
		ck_assert_int_eq(json_integer_value(json_object_get(f, "end_column")), want->end_column);
		ck_assert_str_eq(json_string_value(json_object_get(f, "rule")), want->rule->id);
		ck_assert_str_eq(json_string_value(json_object_get(f, "severity")),
				 pgphase_lint_severity_name(want->severity));
		ck_assert_str_eq(json_string_value(json_object_get(f, "message")), want->message);
		ck_assert_str_eq(json_string_value(json_object_get(f, "help")), want->help);
		ck_assert(json_is_string(json_object_get(f, "phase")));
		ck_assert(json_is_null(json_object_get(f, "strategy")));
	}
	/* the first finding: CREATE INDEX at 2:1, ending just past the statement's last ')' */
	f = json_array_get(list, 0);
	ck_assert_str_eq(json_string_value(json_object_get(f, "rule")), "create-index");
	ck_assert_int_eq(json_integer_value(json_object_get(f, "line")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(f, "column")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(f, "end_line")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(f, "end_column")), 55);
	ck_assert_str_eq(json_string_value(json_object_get(f, "phase")), "unplaced");
	f = json_array_get(list, json_array_size(list) - 1);
	ck_assert_str_eq(json_string_value(json_object_get(f, "rule")), "drop-column");
	ck_assert_str_eq(json_string_value(json_object_get(f, "phase")), "contract");
	ck_assert_str_eq(json_string_value(json_object_get(f, "severity")), "warning");
	sum = json_object_get(root, "summary");
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "files")), 1);
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "statements")), 5);
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "errors")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "warnings")), 2);
	ck_assert_int_eq(json_integer_value(json_object_get(sum, "findings")), res.n);
	json_decref(root);
	free(text);
	pgphase_lint_result_release(&res);
	free(dir);
}
END_TEST

START_TEST(sarif_round_trip)
{
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	char *dir = write_migration("001_sample file.sql", sample), *text;
	json_error_t jerr;
	json_t *root, *run, *rules, *results, *r, *loc, *region;
	size_t i, n_rules = 0;

	pgphase_lint_options_init(&opts);
	lint_dir(&res, dir, &opts);
	text = render(&res, PGPHASE_LINT_SARIF, false);
	root = json_loads(text, 0, &jerr);
	ck_assert_msg(root != NULL, "invalid SARIF JSON (%s)", jerr.text);
	ck_assert_str_eq(json_string_value(json_object_get(root, "version")), "2.1.0");
	ck_assert(json_is_string(json_object_get(root, "$schema")));
	run = json_array_get(json_object_get(root, "runs"), 0);
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_object_get(run, "tool"), "driver"), "name")),
			 "pgphase");
	rules = json_object_get(json_object_get(json_object_get(run, "tool"), "driver"), "rules");
	while (pgphase_lint_rules[n_rules])
		n_rules++;
	ck_assert_int_eq(json_array_size(rules), n_rules);
	results = json_object_get(run, "results");
	ck_assert_int_eq(json_array_size(results), res.n);
	json_array_foreach(results, i, r) {
		const struct pgphase_lint_finding *want = &res.findings[i];
		size_t idx = (size_t)json_integer_value(json_object_get(r, "ruleIndex"));
		const char *level = json_string_value(json_object_get(r, "level"));

		ck_assert_str_eq(json_string_value(json_object_get(r, "ruleId")), want->rule->id);
		ck_assert_str_eq(json_string_value(json_object_get(json_array_get(rules, idx), "id")),
				 want->rule->id);
		ck_assert_str_eq(level, want->severity == PGPHASE_LINT_ERROR     ? "error"
					: want->severity == PGPHASE_LINT_WARNING ? "warning"
										 : "note");
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "message"), "text")),
				 want->message);
		loc = json_object_get(json_array_get(json_object_get(r, "locations"), 0),
				      "physicalLocation");
		/* the space in the file name is percent-encoded in the URI */
		ck_assert_ptr_nonnull(strstr(json_string_value(json_object_get(
						     json_object_get(loc, "artifactLocation"), "uri")),
					     "001_sample%20file.sql"));
		region = json_object_get(loc, "region");
		ck_assert_int_eq(json_integer_value(json_object_get(region, "startLine")), want->line);
		ck_assert_int_eq(json_integer_value(json_object_get(region, "startColumn")), want->column);
		ck_assert_int_eq(json_integer_value(json_object_get(region, "endLine")), want->end_line);
		ck_assert_int_eq(json_integer_value(json_object_get(region, "endColumn")),
				 want->end_column);
		ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r, "properties"), "help")),
				 want->help);
	}
	json_decref(root);
	free(text);
	pgphase_lint_result_release(&res);
	free(dir);
}
END_TEST

START_TEST(github_and_text)
{
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	char *dir = write_migration("001_sample.sql", sample), *gh, *text, *colored, *want;

	pgphase_lint_options_init(&opts);
	lint_dir(&res, dir, &opts);
	gh = render(&res, PGPHASE_LINT_GITHUB, false);
	if (asprintf(&want, "::error file=%s/001_sample.sql,line=2,col=1,endLine=2,endColumn=55,"
			    "title=create-index::CREATE INDEX on \"orders\"", dir) < 0)
		abort();
	th_assert_contains(gh, want);
	free(want);
	th_assert_contains(gh, "%0Ahint: use CREATE INDEX CONCURRENTLY");
	th_assert_contains(gh, "::warning file=");
	text = render(&res, PGPHASE_LINT_TEXT, false);
	if (asprintf(&want, "%s/001_sample.sql:2:1: error: CREATE INDEX on \"orders\"", dir) < 0)
		abort();
	th_assert_contains(text, want);
	free(want);
	th_assert_contains(text, "[create-index]\n  hint: use CREATE INDEX CONCURRENTLY");
	th_assert_not_contains(text, "\033[");
	colored = render(&res, PGPHASE_LINT_TEXT, true);
	th_assert_contains(colored, "\033[1;31merror:");
	free(colored);
	free(text);
	free(gh);
	pgphase_lint_result_release(&res);
	free(dir);
}
END_TEST

START_TEST(rules_catalogue)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	json_t *list;

	ck_assert_int_eq(pgphase_lint_write_rules(out, PGPHASE_LINT_TEXT), 0);
	fclose(out);
	th_assert_contains(buf, "drop-column");
	th_assert_contains(buf, "set-not-null                  error    blocking");
	free(buf);
	out = open_memstream(&buf, &len);
	ck_assert_int_eq(pgphase_lint_write_rules(out, PGPHASE_LINT_JSON), 0);
	fclose(out);
	list = json_loads(buf, 0, NULL);
	ck_assert(json_is_array(list));
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(list, 0), "id")),
			 pgphase_lint_rules[0]->id);
	json_decref(list);
	free(buf);
}
END_TEST

START_TEST(config_overrides)
{
	char *disable[] = { "json-column", NULL }, *error[] = { "drop-column", "prefer-text", NULL };
	char *warning[] = { "create-index", NULL }, *bogus[] = { "no-such-rule", NULL };
	char *only[] = { "create-index", NULL };
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	char *dir = write_migration("001_sample.sql", sample);
	const char *paths[1] = { dir };

	pgphase_lint_options_init(&opts);
	opts.disable = disable;
	opts.error = error;
	opts.warning = warning;
	lint_dir(&res, dir, &opts);
	ck_assert_ptr_null(find(&res, "json-column", 5));
	ck_assert_int_eq(find(&res, "create-index", 2)->severity, PGPHASE_LINT_WARNING);
	ck_assert_int_eq(find(&res, "create-index", 4)->severity, PGPHASE_LINT_WARNING);
	/* overridden to error, then contract makes a destructive statement a warning again */
	ck_assert_int_eq(find(&res, "drop-column", 7)->severity, PGPHASE_LINT_WARNING);
	ck_assert(!pgphase_lint_failed(&res));
	pgphase_lint_result_release(&res);

	pgphase_lint_options_init(&opts);
	opts.only = only;
	lint_dir(&res, dir, &opts);
	ck_assert_int_eq(res.n, 2);
	pgphase_lint_result_release(&res);

	pgphase_lint_options_init(&opts);
	opts.exclude = only;
	lint_dir(&res, dir, &opts);
	ck_assert_ptr_null(find(&res, "create-index", 2));
	pgphase_lint_result_release(&res);

	pgphase_lint_options_init(&opts);
	opts.disable = bogus;
	pgphase_lint_result_init(&res);
	ck_assert_int_eq(pgphase_lint_paths(&res, paths, 1, &opts, &err), -1);
	ck_assert_int_eq(err.code, PGPHASE_EXIT_USAGE);
	th_assert_contains(err.message, "lint.disable: unknown lint rule \"no-such-rule\"");
	pgphase_error_release(&err);
	pgphase_lint_result_release(&res);

	pgphase_lint_options_init(&opts);
	opts.pg_version = 8;
	pgphase_lint_result_init(&res);
	ck_assert_int_eq(pgphase_lint_paths(&res, paths, 1, &opts, &err), -1);
	pgphase_error_release(&err);
	pgphase_lint_result_release(&res);
	free(dir);
}
END_TEST

/* A planner stand-in: CREATE INDEX is made safe by "fake-concurrently"; DROP COLUMN goes to
 * contract. */
static bool fake_planner(void *arg, const struct pgphase_lint_stmt_info *info,
			 struct pgphase_lint_strategy *out)
{
	int *calls = arg;

	(*calls)++;
	ck_assert_ptr_nonnull(info->migration);
	ck_assert_ptr_nonnull(info->note);
	ck_assert(!info->note->as_is);
	if (strcmp(info->rule, "create-index") == 0) {
		out->name = "fake-concurrently";
		out->phase = PGPHASE_PHASE_EXPAND;
		return true;
	}
	if (strcmp(info->rule, "drop-column") == 0) {
		out->name = "fake-defer";
		out->phase = PGPHASE_PHASE_CONTRACT;
		return true;
	}
	return false;
}

START_TEST(planner_hook)
{
	static const char sql[] = "CREATE INDEX a_idx ON orders (a);\n"
				  "-- pgphase:as-is\n"
				  "CREATE INDEX b_idx ON orders (b);\n"
				  "ALTER TABLE users DROP COLUMN legacy;\n"
				  "ALTER TABLE users ADD COLUMN c json;\n";
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	char *dir = write_migration("001_hook.sql", sql);
	const struct pgphase_lint_finding *f;
	int calls = 0;

	pgphase_lint_options_init(&opts);
	opts.strategy = fake_planner;
	opts.strategy_arg = &calls;
	lint_dir(&res, dir, &opts);
	f = find(&res, "create-index", 1);
	ck_assert_int_eq(f->severity, PGPHASE_LINT_INFO);
	ck_assert_str_eq(f->strategy, "fake-concurrently");
	th_assert_contains(f->message, "\"fake-concurrently\" strategy makes it safe");
	ck_assert_int_eq(f->phase, PGPHASE_PHASE_EXPAND);
	/* as-is: the planner is not asked, the hazard stays an error */
	f = find(&res, "create-index", 3);
	ck_assert_int_eq(f->severity, PGPHASE_LINT_ERROR);
	ck_assert_ptr_null(f->strategy);
	/* destructive, placed in contract by the planner: a warning naming the strategy */
	f = find(&res, "drop-column", 4);
	ck_assert_int_eq(f->severity, PGPHASE_LINT_WARNING);
	ck_assert_int_eq(f->phase, PGPHASE_PHASE_CONTRACT);
	/* hygiene findings are never the planner's business */
	ck_assert_int_eq(find(&res, "json-column", 5)->severity, PGPHASE_LINT_WARNING);
	ck_assert_int_eq(calls, 2);
	ck_assert(pgphase_lint_failed(&res));
	pgphase_lint_result_release(&res);

	/* --raw: SQL as written, nothing is made safe */
	opts.raw = true;
	calls = 0;
	lint_dir(&res, dir, &opts);
	ck_assert_int_eq(calls, 0);
	ck_assert_int_eq(find(&res, "create-index", 1)->severity, PGPHASE_LINT_ERROR);
	ck_assert_int_eq(find(&res, "drop-column", 4)->severity, PGPHASE_LINT_ERROR);
	pgphase_lint_result_release(&res);
	free(dir);
}
END_TEST

START_TEST(version_dependent)
{
	static const char sql[] = "-- UP\n"
				  "REINDEX INDEX CONCURRENTLY a_idx;\n"
				  "ALTER TABLE t ADD COLUMN c text DEFAULT 'x';\n"
				  "ALTER TABLE p DETACH PARTITION p1 CONCURRENTLY;\n"
				  "-- DOWN\n"
				  "SELECT 1;\n";
	static const struct {
		int version;
		size_t n;
	} cases[] = { { 15, 0 }, { 14, 0 }, { 13, 1 }, { 11, 2 }, { 10, 3 } };
	char *dir = write_migration("001_versions.sql", sql);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pgphase_lint_options opts;
		struct pgphase_lint_result res;

		pgphase_lint_options_init(&opts);
		opts.pg_version = cases[i].version;
		lint_dir(&res, dir, &opts);
		ck_assert_msg(res.n == cases[i].n, "PostgreSQL %d: %zu findings, expected %zu",
			      cases[i].version, res.n, cases[i].n);
		pgphase_lint_result_release(&res);
	}
	free(dir);
}
END_TEST

/* Columns count characters, not bytes; a broken statement does not hide the next one. */
START_TEST(positions_and_recovery)
{
	static const char sql[] = "-- UP\n"
				  "COMMENT ON TABLE t IS 'déjà vu'; DROP TABLE orders;\n"
				  "CREATE TABLE (oops);\n"
				  "  DROP   TABLE \"naïve\";\n"
				  "-- DOWN\n"
				  "SELECT 1;\n";
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	char *dir = write_migration("001_positions.sql", sql);
	const struct pgphase_lint_finding *f;

	pgphase_lint_options_init(&opts);
	lint_dir(&res, dir, &opts);
	ck_assert_ptr_nonnull(f = find(&res, "drop-table", 2));
	ck_assert_int_eq(f->column, 34);
	ck_assert_ptr_nonnull(f = find(&res, "syntax-error", 3));
	ck_assert_int_eq(f->column, 14);
	ck_assert_ptr_nonnull(f = find(&res, "drop-table", 4));
	ck_assert_int_eq(f->column, 3);
	ck_assert_int_eq(f->end_column, 23);
	pgphase_lint_result_release(&res);
	free(dir);
}
END_TEST

Suite *lint_output_suite(void)
{
	Suite *s = suite_create("lint_output");
	TCase *tc = th_pure_tcase("formats");

	tcase_add_test(tc, json_round_trip);
	tcase_add_test(tc, sarif_round_trip);
	tcase_add_test(tc, github_and_text);
	tcase_add_test(tc, rules_catalogue);
	suite_add_tcase(s, tc);
	tc = th_pure_tcase("options");
	tcase_add_test(tc, config_overrides);
	tcase_add_test(tc, planner_hook);
	tcase_add_test(tc, version_dependent);
	tcase_add_test(tc, positions_and_recovery);
	suite_add_tcase(s, tc);
	return s;
}
