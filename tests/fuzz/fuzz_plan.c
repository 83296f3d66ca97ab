/*
 * libFuzzer harness: the planner and every strategy on arbitrary input, offline.  The input
 * becomes migration 002 next to a fixed 001 that creates tables (so strategies find keys and
 * column types); the plan is printed as text and JSON.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pgphase/plan.h"

static const char *const CREATE =
	"CREATE TABLE t (id bigint PRIMARY KEY, a text NOT NULL DEFAULT 'x', n int);\n"
	"CREATE TABLE k (id int, v text);\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64], p1[96], p2[96];
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_template_vars vars = { "public" };
	struct pgphase_migration_set set;
	FILE *f;

	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/pgphase-fuzz-plan.%d", (int)getpid());
		mkdir(dir, 0700);
		snprintf(p1, sizeof(p1), "%s/001_create.sql", dir);
		snprintf(p2, sizeof(p2), "%s/002_fuzz.sql", dir);
		f = fopen(p1, "w");
		if (!f)
			return 0;
		fputs(CREATE, f);
		fclose(f);
	}
	f = fopen(p2, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (pgphase_migration_set_load(&set, dir, &vars, &err) == 0) {
		if (pgphase_migration_set_parse(&set, &err) == 0) {
			struct pgphase_plan_options opts = { 15, NULL, &set, NULL };

			for (size_t i = 0; i < set.n; i++) {
				struct pgphase_plan plan;
				struct pgphase_error e2 = PGPHASE_ERROR_INIT;

				if (pgphase_plan_migration(&plan, &set.items[i], &opts, &e2) == 0) {
					FILE *null = fopen("/dev/null", "w");
					char *json = pgphase_plan_json(&plan, "pending");

					pgphase_plan_print_text(null, &plan, NULL);
					fclose(null);
					free(json);
					pgphase_plan_release(&plan);
				}
				pgphase_error_release(&e2);
			}
		}
		pgphase_migration_set_release(&set);
	}
	pgphase_error_release(&err);
	return 0;
}
