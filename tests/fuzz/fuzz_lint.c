/*
 * libFuzzer harness: the linter on arbitrary input — every rule, the planner hook, and all
 * four output formats.  The input becomes one migration file in a private directory.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgphase/lint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], path[96];
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_lint_options opts;
	struct pgphase_lint_result res;
	const char *paths[1] = { path };
	FILE *f;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/pgphase-fuzz-lint.%d", (int)getpid());
		mkdir(dir, 0700);
		snprintf(path, sizeof(path), "%s/001_fuzz.sql", dir);
	}
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	pgphase_lint_options_init(&opts);
	opts.raw = size > 0 && (data[0] & 1);
	opts.pg_version = size > 1 ? 10 + data[1] % 8 : 15;
	opts.strategy = pgphase_lint_planner;
	pgphase_lint_result_init(&res);
	if (pgphase_lint_paths(&res, paths, 1, &opts, &err) == 0) {
		FILE *null = fopen("/dev/null", "w");

		for (int fmt = PGPHASE_LINT_TEXT; fmt <= PGPHASE_LINT_SARIF; fmt++)
			pgphase_lint_write(null, &res, (enum pgphase_lint_format)fmt, fmt == 0);
		fclose(null);
	}
	pgphase_lint_result_release(&res);
	pgphase_error_release(&err);
	return 0;
}
