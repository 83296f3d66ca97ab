/*
 * libFuzzer harness: the config loader (libconfig text → strict key and type checks).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgphase/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_config cfg;
	char *text = malloc(size + 1);

	memcpy(text, data, size);
	text[size] = '\0';
	pgphase_config_init(&cfg);
	(void)pgphase_config_load_string(&cfg, "fuzz.cfg", text, &err);
	pgphase_config_release(&cfg);
	pgphase_error_release(&err);
	free(text);
	return 0;
}
