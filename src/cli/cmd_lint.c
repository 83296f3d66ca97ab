/*
 * pgphase lint [PATH...] [--raw] [--list-rules] [--pg-version N] [--format F]: the CI gate.
 * Lints the paths (default: the configured migrations directory) with the library linter
 * (lint/), prints the findings on stdout in the chosen format and a one-line summary on
 * stderr, and exits 1 when an error-severity finding remains.  Unknown rule ids in the config
 * and unreadable paths are usage errors (exit 2).  A reader that closes the pipe early (e.g.
 * `| head`) ends the output quietly.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "pgphase/lint.h"
#include "pgphase/log.h"

static enum pgphase_lint_format lint_format(enum cli_format f)
{
	switch (f) {
	case FORMAT_JSON:
		return PGPHASE_LINT_JSON;
	case FORMAT_GITHUB:
		return PGPHASE_LINT_GITHUB;
	case FORMAT_SARIF:
		return PGPHASE_LINT_SARIF;
	default:
		return PGPHASE_LINT_TEXT;
	}
}

static void summary(const struct cli *cli, const struct pgphase_lint_result *res)
{
	const size_t *c = res->counts;

	if (cli->quiet)
		return;
	if (!res->n) {
		pgphase_info("pgphase lint: no findings in %zu file%s (%zu statement%s)", res->n_files,
			     res->n_files == 1 ? "" : "s", res->statements,
			     res->statements == 1 ? "" : "s");
		return;
	}
	pgphase_info("pgphase lint: %zu error%s, %zu warning%s, %zu info in %zu file%s "
		     "(%zu statement%s)",
		     c[PGPHASE_LINT_ERROR], c[PGPHASE_LINT_ERROR] == 1 ? "" : "s",
		     c[PGPHASE_LINT_WARNING], c[PGPHASE_LINT_WARNING] == 1 ? "" : "s",
		     c[PGPHASE_LINT_INFO], res->n_files, res->n_files == 1 ? "" : "s",
		     res->statements, res->statements == 1 ? "" : "s");
}

static int write_failed(struct pgphase_error *err)
{
	if (errno == EPIPE)
		return 0; /* the reader went away: nothing left to say */
	return pgphase_error_set(err, PGPHASE_EXIT_USAGE, "cannot write findings: %s",
				 strerror(errno));
}

#define LINT_HEAP_KEEP (256 * 1024 * 1024)

int cmd_lint(struct cli *cli, struct pgphase_error *err)
{
	enum pgphase_lint_format format = lint_format(cli->format);
	struct pgphase_template_vars vars = { cli->cfg.schema, true };
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	const char *default_path[1] = { cli->cfg.migrations ? cli->cfg.migrations : "migrations" };
	bool color = cli->color && format == PGPHASE_LINT_TEXT && isatty(STDOUT_FILENO);
	int rc;

	if (cli->list_rules) {
		if (cli->nargs)
			return pgphase_error_set(err, PGPHASE_EXIT_USAGE,
						 "lint --list-rules takes no paths");
		return pgphase_lint_write_rules(stdout, format) < 0 ? write_failed(err) : 0;
	}
	/* Each file's parse builds and frees big buffers (libpg_query's tree, its protobuf
	 * form, the unpacked tree): keep freed memory in the heap for the next file instead of
	 * handing it back to the kernel and faulting fresh pages in again (measured: half the
	 * page faults, about a tenth of the CPU time of a lint run). */
	mallopt(M_MMAP_THRESHOLD, LINT_HEAP_KEEP);
	mallopt(M_TRIM_THRESHOLD, 2 * LINT_HEAP_KEEP);
	pgphase_lint_options_init(&opts);
	opts.pg_version = cli->cfg.lint.pg_version;
	opts.raw = cli->raw;
	opts.only = cli->only_rules;
	opts.exclude = cli->exclude_rules;
	opts.disable = cli->cfg.lint.disable;
	opts.error = cli->cfg.lint.error;
	opts.warning = cli->cfg.lint.warning;
	opts.vars = &vars;
	/* lint what pgphase will run: the planner says which strategy makes a hazard safe
	 * (never asked under --raw or -- pgphase:as-is) */
	opts.strategy = pgphase_lint_planner;
	pgphase_lint_result_init(&res);
	if (pgphase_lint_paths(&res, cli->nargs ? (const char *const *)cli->args : default_path,
			       cli->nargs ? (size_t)cli->nargs : 1, &opts, err) < 0) {
		pgphase_lint_result_release(&res);
		return -1;
	}
	if (pgphase_lint_write(stdout, &res, format, color) < 0) {
		rc = write_failed(err);
		if (rc == 0)
			rc = pgphase_lint_failed(&res) ? PGPHASE_EXIT_FAILED : PGPHASE_EXIT_OK;
		pgphase_lint_result_release(&res);
		return rc;
	}
	summary(cli, &res);
	rc = pgphase_lint_failed(&res) ? PGPHASE_EXIT_FAILED : PGPHASE_EXIT_OK;
	pgphase_lint_result_release(&res);
	return rc;
}
