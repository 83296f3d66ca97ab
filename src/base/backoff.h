/*
 * Retrying with exponential backoff and jitter, for every retry loop of pgphase (DDL on
 * lock_timeout, backfill batches, webhook deliveries): wait number n is drawn from
 * [0, min(cap, base * 2^n)] (full jitter), or from its upper half (equal jitter); a wait that
 * would end past the retry budget is not taken, nor one after SIGINT/SIGTERM.  Also the
 * interruptible sleep they use.  What to retry and what to log is the caller's business.
 */
#ifndef PGPHASE_BACKOFF_H
#define PGPHASE_BACKOFF_H

#include <stdbool.h>
#include <stdint.h>

struct pgphase_backoff {
	int64_t base_us;   /* ceiling of the first wait */
	int64_t cap_us;    /* largest ceiling */
	bool equal_jitter; /* wait at least half the ceiling (else anything from 0) */
};

/* min(cap, base * 2^attempt); attempt counts from 0 (a negative one counts as 0). */
int64_t backoff_ceiling(const struct pgphase_backoff *b, int attempt);

/* A random wait for attempt, uniform over [0, ceiling] or, equal jitter, [ceiling/2, ceiling]. */
int64_t backoff_delay(const struct pgphase_backoff *b, int attempt);

/*
 * The wait before retry attempt, or -1 when the run was interrupted or the wait would end
 * after deadline_us (a now_us() time: the retry budget is spent).
 */
int64_t backoff_next(const struct pgphase_backoff *b, int attempt, int64_t deadline_us);

/*
 * Sleep us microseconds in slices of at most 50 ms; between slices stop when the run was
 * interrupted or keep_going(arg) (may be NULL) says false.  True when it slept it all.
 */
bool backoff_sleep(int64_t us, bool (*keep_going)(void *), void *arg);
/* The same until a now_us() time (an absolute schedule: throttling). */
bool backoff_sleep_until(int64_t until_us, bool (*keep_going)(void *), void *arg);

#endif
