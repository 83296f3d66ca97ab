/*
 * Exponential backoff with jitter and the interruptible sleep (see backoff.h).  Random bits
 * come from OpenSSL (thread-safe, unlike rand()), with rand() only if it fails.  Knows
 * nothing of what is retried.
 */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "base/backoff.h"
#include "base/util.h"
#include "pgphase/session.h"

#define SLEEP_SLICE_US 50000 /* how often a sleep looks at the interrupt flag */

int64_t backoff_ceiling(const struct pgphase_backoff *b, int attempt)
{
	int64_t c = b->base_us > 0 ? b->base_us : 0;

	/* doubling stops at the cap, so a large attempt cannot overflow */
	for (int i = 0; i < attempt && c < b->cap_us; i++)
		c *= 2;
	return c < b->cap_us ? c : b->cap_us;
}

static uint64_t random_u64(void)
{
	uint64_t r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = ((uint64_t)(unsigned)rand() << 32) ^ (uint64_t)(unsigned)rand();
	return r;
}

int64_t backoff_delay(const struct pgphase_backoff *b, int attempt)
{
	int64_t c = backoff_ceiling(b, attempt), low = b->equal_jitter ? c / 2 : 0;

	if (c <= 0)
		return 0;
	return low + (int64_t)(random_u64() % (uint64_t)(c - low + 1));
}

int64_t backoff_next(const struct pgphase_backoff *b, int attempt, int64_t deadline_us)
{
	int64_t wait = backoff_delay(b, attempt);

	if (now_us() + wait > deadline_us || pgphase_interrupted())
		return -1;
	return wait;
}

bool backoff_sleep(int64_t us, bool (*keep_going)(void *), void *arg)
{
	return backoff_sleep_until(now_us() + us, keep_going, arg);
}

bool backoff_sleep_until(int64_t until, bool (*keep_going)(void *), void *arg)
{
	for (;;) {
		int64_t left = until - now_us();

		if (pgphase_interrupted() || (keep_going && !keep_going(arg)))
			return false;
		if (left <= 0)
			return true;
		usleep((useconds_t)(left < SLEEP_SLICE_US ? left : SLEEP_SLICE_US));
	}
}
