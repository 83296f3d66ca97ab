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
#define LLVMFuzzerTestOneInput fuzz_lint_input
#include "fuzz/fuzz_lint.c"
#undef LLVMFuzzerTestOneInput

/* Feed every file of tests/fuzz/<sub>/<harness>/ to fn; returns how many. */
static int replay(const char *sub, const char *harness, int (*fn)(const uint8_t *, size_t))
{
	const char *top = getenv("PGPHASE_TEST_TOP");
	char dir[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/tests/fuzz/%s/%s", top ? top : ".", sub, harness);
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

static int replay_dir(const char *sub)
{
	return replay(sub, "parse", fuzz_parse_input) + replay(sub, "loader", fuzz_loader_input) +
	       replay(sub, "config", fuzz_config_input) + replay(sub, "lint", fuzz_lint_input);
}

/* Inputs that once crashed or leaked must not crash again. */
START_TEST(replay_regressions)
{
	ck_assert_msg(replay_dir("regressions") >= 1, "no regression inputs found (PGPHASE_TEST_TOP=%s)",
		      getenv("PGPHASE_TEST_TOP"));
}
END_TEST

/* The seed corpora must load without crashing too. */
START_TEST(replay_seeds)
{
	ck_assert_int_ge(replay_dir("corpus"), 6);
}
END_TEST

Suite *fuzz_regressions_suite(void)
{
	Suite *s = suite_create("fuzz_regressions");
	TCase *tc = th_pure_tcase("fuzz_regressions");

	tcase_add_test(tc, replay_regressions);
	tcase_add_test(tc, replay_seeds);
	suite_add_tcase(s, tc);
	return s;
}
