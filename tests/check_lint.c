/*
 * Lint rules as data: every tests/lint/<name>.sql file or tests/lint/<name>/ directory is
 * linted by the library and its findings compared with tests/lint/<name>.expected, one
 * "line:col rule severity" per line ("file:line:col rule severity" for a directory, file
 * relative to it).  Variants run the same input with other options:
 * <name>.pgNN.expected (--pg-version NN) and <name>.raw.expected (--raw).
 *
 * The suite also checks the catalogue: every registered rule has a fixture, and a rule's
 * fixture makes that rule fire.  Pure: no server.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness.h"
#include "pgphase/lint.h"
#include "pgphase/migration.h"

static char *fixtures_dir(void)
{
	const char *top = getenv("PGPHASE_TEST_TOP");
	char *dir;

	if (asprintf(&dir, "%s/tests/lint", top ? top : ".") < 0)
		abort();
	return dir;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!f)
		return NULL;
	if (getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		buf = strdup("");
	}
	fclose(f);
	return buf;
}

struct lines {
	char **v;
	size_t n;
};

static void lines_add(struct lines *l, const char *s, size_t len)
{
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		len--;
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	if (!len || *s == '#')
		return;
	l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = strndup(s, len);
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Findings of path formatted as expected-file lines; file names relative to a directory. */
static void actual_lines(const char *path, bool is_dir, const struct pgphase_lint_options *opts,
			 struct lines *out)
{
	struct pgphase_lint_result res;
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	const char *paths[1] = { path };
	size_t plen = strlen(path);

	pgphase_lint_result_init(&res);
	ck_assert_msg(pgphase_lint_paths(&res, paths, 1, opts, &err) == 0, "lint %s failed: %s", path,
		      err.message);
	for (size_t i = 0; i < res.n; i++) {
		const struct pgphase_lint_finding *f = &res.findings[i];
		char line[600];
		const char *file = f->file;

		if (is_dir && strncmp(file, path, plen) == 0 && file[plen] == '/')
			file += plen + 1;
		if (is_dir)
			snprintf(line, sizeof(line), "%s:%d:%d %s %s", file, f->line, f->column,
				 f->rule->id, pgphase_lint_severity_name(f->severity));
		else
			snprintf(line, sizeof(line), "%d:%d %s %s", f->line, f->column, f->rule->id,
				 pgphase_lint_severity_name(f->severity));
		lines_add(out, line, strlen(line));
	}
	pgphase_lint_result_release(&res);
	pgphase_error_release(&err);
}

/* Compare one fixture with one expected file; append differences to report. */
static int compare(const char *dir, const char *name, const char *variant, const char *expected,
		   FILE *report)
{
	struct pgphase_lint_options opts;
	struct lines want = { 0 }, got = { 0 };
	char *path, *text = NULL;
	struct stat sb;
	int bad = 0;
	size_t i = 0, k = 0;

	pgphase_lint_options_init(&opts);
	if (variant && strncmp(variant, "pg", 2) == 0)
		opts.pg_version = atoi(variant + 2);
	else if (variant && strcmp(variant, "raw") == 0)
		opts.raw = true;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		free(path);
		if (asprintf(&path, "%s/%s.sql", dir, name) < 0)
			abort();
	}
	actual_lines(path, stat(path, &sb) == 0 && S_ISDIR(sb.st_mode), &opts, &got);
	text = slurp(expected);
	for (const char *p = text ? text : ""; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		lines_add(&want, p, len);
		p += len + (e ? 1 : 0);
	}
	if (want.n)
		qsort(want.v, want.n, sizeof(*want.v), cmp_str);
	if (got.n)
		qsort(got.v, got.n, sizeof(*got.v), cmp_str);
	while (i < want.n || k < got.n) {
		int c = i >= want.n ? 1 : k >= got.n ? -1 : strcmp(want.v[i], got.v[k]);

		if (c == 0) {
			i++;
			k++;
			continue;
		}
		fprintf(report, "%s%s%s: %s %s\n", name, variant ? "." : "", variant ? variant : "",
			c < 0 ? "missing   " : "unexpected", c < 0 ? want.v[i++] : got.v[k++]);
		bad++;
	}
	lines_free(&want);
	lines_free(&got);
	free(text);
	free(path);
	return bad;
}

START_TEST(fixtures_match_expected)
{
	char *dir = fixtures_dir(), *report = NULL;
	size_t report_len = 0;
	FILE *out = open_memstream(&report, &report_len);
	DIR *d = opendir(dir);
	struct dirent *de;
	int bad = 0, checked = 0;

	ck_assert_msg(d != NULL, "cannot open %s", dir);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);
		char *base, *variant, *expected;

		if (len < 10 || strcmp(de->d_name + len - 9, ".expected") != 0)
			continue;
		base = strndup(de->d_name, len - 9);
		variant = strchr(base, '.');
		if (variant)
			*variant++ = '\0';
		if (asprintf(&expected, "%s/%s", dir, de->d_name) < 0)
			abort();
		bad += compare(dir, base, variant, expected, out);
		checked++;
		free(expected);
		free(base);
	}
	closedir(d);
	fclose(out);
	ck_assert_msg(checked > 60, "only %d expected files found in %s", checked, dir);
	ck_assert_msg(bad == 0, "%d finding(s) differ from tests/lint/*.expected:\n%s", bad, report);
	free(report);
	free(dir);
}
END_TEST

/* Every rule has tests/lint/<id>.sql or tests/lint/<id>/ and its fixture makes it fire. */
START_TEST(every_rule_has_a_fixture)
{
	char *dir = fixtures_dir();

	for (size_t i = 0; pgphase_lint_rules[i]; i++) {
		const char *id = pgphase_lint_rules[i]->id;
		char *expected, *text;

		if (asprintf(&expected, "%s/%s.expected", dir, id) < 0)
			abort();
		text = slurp(expected);
		ck_assert_msg(text != NULL, "rule %s has no fixture (%s)", id, expected);
		ck_assert_msg(strstr(text, id) != NULL, "the fixture of %s does not make it fire", id);
		free(text);
		free(expected);
	}
	free(dir);
}
END_TEST

/*
 * Every problem kind of the front end is a finding of its rule, at the problem's file:line:
 * lint reads files only through the front end and reports each problem it collects.
 */
START_TEST(every_problem_kind_is_a_finding)
{
	static const struct {
		enum pgphase_problem_kind kind;
		const char *file, *content, *rule;
	} cases[] = {
		{ PGPHASE_PROBLEM_BAD_FILE_NAME, "002create.sql", "SELECT 1;\n", "bad-file-name" },
		{ PGPHASE_PROBLEM_DUPLICATE_VERSION, "1_dup.sql", "SELECT 1;\n", "duplicate-version" },
		{ PGPHASE_PROBLEM_BAD_ENCODING, "003_enc.sql", "SELECT 'a\xff';\n",
		  "malformed-migration" },
		{ PGPHASE_PROBLEM_UNKNOWN_TEMPLATE, "004_tpl.sql", "SELECT * FROM {{nope}};\n",
		  "unknown-directive" },
		{ PGPHASE_PROBLEM_BAD_DIRECTIVE, "005_dir.sql", "-- pgphase:frobnicate\nSELECT 1;\n",
		  "unknown-directive" },
		{ PGPHASE_PROBLEM_DANGLING_DIRECTIVE, "006_dangle.sql", "SELECT 1;\n-- pgphase:as-is\n",
		  "unknown-directive" },
		{ PGPHASE_PROBLEM_MISPLACED_MARKER, "007_marker.sql",
		  "-- UP\nSELECT 1;\n-- UP\nSELECT 2;\n", "malformed-migration" },
		{ PGPHASE_PROBLEM_EMPTY_MIGRATION, "008_empty.sql", "-- UP\n-- DOWN\nSELECT 1;\n",
		  "malformed-migration" },
		{ PGPHASE_PROBLEM_SYNTAX_ERROR, "009_syntax.sql", "SELEC 1;\n", "syntax-error" },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct pgphase_migration_set set;
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	char *dir = th_tmpdir();
	const char *paths[1] = { dir };

	ck_assert_int_eq(n, PGPHASE_PROBLEM_KINDS);
	th_write(dir, "001_a.sql", "SELECT 1;\n");
	for (size_t i = 0; i < n; i++)
		th_write(dir, cases[i].file, cases[i].content);
	ck_assert_msg(pgphase_migration_set_read(&set, dir, NULL, &err) == 0, "%s", err.message);
	ck_assert_int_eq(set.problems.n, n);
	pgphase_lint_options_init(&opts);
	pgphase_lint_result_init(&res);
	ck_assert_msg(pgphase_lint_paths(&res, paths, 1, &opts, &err) == 0, "%s", err.message);
	for (size_t k = 0; k < set.problems.n; k++) {
		const struct pgphase_problem *p = &set.problems.v[k];
		const char *rule = NULL;
		bool found = false;

		for (size_t i = 0; i < n; i++)
			if (cases[i].kind == p->kind)
				rule = cases[i].rule;
		ck_assert_msg(rule != NULL, "kind %d has no case", p->kind);
		for (size_t i = 0; i < res.n && !found; i++)
			found = strcmp(res.findings[i].file, p->file) == 0 &&
				res.findings[i].line == p->line &&
				strcmp(res.findings[i].rule->id, rule) == 0 &&
				res.findings[i].rule->category == PGPHASE_LINT_INPUT;
		ck_assert_msg(found, "%s problem at %s:%d is no %s finding",
			      pgphase_problem_kind_name(p->kind), p->file, p->line, rule);
	}
	pgphase_lint_result_release(&res);
	pgphase_migration_set_release(&set);
	pgphase_error_release(&err);
	free(dir);
}
END_TEST

/* Rule ids are unique, lower-case-with-dashes, and every rule is described. */
START_TEST(registry_is_well_formed)
{
	for (size_t i = 0; pgphase_lint_rules[i]; i++) {
		const struct pgphase_lint_rule *r = pgphase_lint_rules[i];

		ck_assert_msg(r->summary && r->summary[0], "rule %s has no summary", r->id);
		for (const char *p = r->id; *p; p++)
			ck_assert_msg((*p >= 'a' && *p <= 'z') || *p == '-', "bad rule id \"%s\"", r->id);
		for (size_t k = 0; k < i; k++)
			ck_assert_msg(strcmp(pgphase_lint_rules[k]->id, r->id) != 0, "duplicate id %s",
				      r->id);
		ck_assert_ptr_eq(pgphase_lint_rule_find(r->id), r);
	}
	ck_assert_ptr_null(pgphase_lint_rule_find("no-such-rule"));
}
END_TEST

Suite *lint_suite(void)
{
	Suite *s = suite_create("lint");
	TCase *tc = th_pure_tcase("rules");

	tcase_add_test(tc, fixtures_match_expected);
	tcase_add_test(tc, every_rule_has_a_fixture);
	tcase_add_test(tc, registry_is_well_formed);
	tcase_add_test(tc, every_problem_kind_is_a_finding);
	suite_add_tcase(s, tc);
	return s;
}
