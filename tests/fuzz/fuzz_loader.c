/*
 * libFuzzer harness: the migration loader on arbitrary bytes — file names (the first line
 * of the input), sections, markers, directives, templates, UTF-8 and NUL checks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgphase/migration.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgphase_template_vars vars = { "app" };
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_migration m;
	const uint8_t *nl = memchr(data, '\n', size);
	size_t name_len = nl ? (size_t)(nl - data) : 0;
	char name[256], *vtext = NULL, *desc = NULL;
	enum pgphase_name_style style;
	const char *why = NULL;
	int64_t version;
	int part;

	if (name_len >= sizeof(name) || (name_len && memchr(data, '\0', name_len)))
		name_len = 0;
	memcpy(name, data, name_len);
	name[name_len] = '\0';
	if (pgphase_parse_file_name(name, &version, &vtext, &desc, &style, &part, &why) > 0) {
		free(vtext);
		free(desc);
	}
	if (pgphase_migration_load_text(&m, "001_fuzz.sql", (const char *)data, size, &vars, &err) == 0) {
		(void)pgphase_migration_parse(&m, &err);
		pgphase_migration_release(&m);
	}
	pgphase_error_release(&err);
	return 0;
}
