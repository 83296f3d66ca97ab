/*
 * Replays every input kept under tests/fuzz/regressions/<harness>/ through the same code
 * the libFuzzer harnesses run, in the normal (and the sanitizer) test build.  Each input
 * once crashed or leaked; the test fails if it crashes again.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define LLVMFuzzerTestOneInput fuzz_parse_input
#include "fuzz/fuzz_parse.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_loader_input
#include "fuzz/fuzz_loader.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_input
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput

static int replay(const char *harness, int (*fn)(const uint8_t *, size_t))
{
	const char *top = getenv("PGPHASE_TEST_TOP");
	char dir[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%s", top ? top : ".", harness);
	d = opendir(dir);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char path[2048], *buf;
		FILE *f;
		long len;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		f = fopen(path, "rb");
		ck_assert_ptr_nonnull(f);
		fseek(f, 0, SEEK_END);
		len = ftell(f);
		fseek(f, 0, SEEK_SET);
		buf = malloc((size_t)len + 1);
		ck_assert_int_eq(fread(buf, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		fn((const uint8_t *)buf, (size_t)len);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

START_TEST(replay_all)
{
	int n = replay("parse", fuzz_parse_input) + replay("loader", fuzz_loader_input) +
		replay("config", fuzz_config_input);

	ck_assert_msg(n >= 1, "no regression inputs found (PGPHASE_TEST_TOP=%s)",
		      getenv("PGPHASE_TEST_TOP"));
}
END_TEST

/* The seed corpora must load without crashing too. */
START_TEST(replay_seeds)
{
	const char *top = getenv("PGPHASE_TEST_TOP");
	static const char *const names[] = { "parse", "loader", "config" };
	int (*fns[])(const uint8_t *, size_t) = { fuzz_parse_input, fuzz_loader_input, fuzz_config_input };

	for (int i = 0; i < 3; i++) {
		char dir[1024];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top ? top : ".", names[i]);
		d = opendir(dir);
		ck_assert_msg(d != NULL, "missing corpus %s", dir);
		while ((de = readdir(d))) {
			char path[2048], buf[65536];
			FILE *f;
			size_t len;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			f = fopen(path, "rb");
			len = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			fns[i]((const uint8_t *)buf, len);
		}
		closedir(d);
	}
}
END_TEST

Suite *fuzz_regressions_suite(void)
{
	Suite *s = suite_create("fuzz_regressions");
	TCase *tc = th_pure_tcase("fuzz_regressions");

	tcase_add_test(tc, replay_all);
	tcase_add_test(tc, replay_seeds);
	suite_add_tcase(s, tc);
	return s;
}
