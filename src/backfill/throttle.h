/*
 * Backfill throttling (DESIGN §7.5), shared by the workers of one process: a fixed sleep
 * between batches, a rows-per-second cap kept on an absolute schedule (next slot = previous
 * slot + rows / rate, like pgbench --rate), batch sizes adapted to a target batch time, and
 * a pause while any standby's replay lag exceeds a limit.  Knows nothing of chunks or SQL
 * beyond the one replica-lag query.
 */
#ifndef PGPHASE_THROTTLE_H
#define PGPHASE_THROTTLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgphase/config.h"
#include "pgphase/session.h"

/* How long a replica-lag pause may last before the backfill fails (naming the lag): a
 * standby that stopped replaying must not hold a run forever. */
#define THROTTLE_MAX_LAG_WAIT_MS (30L * 60 * 1000)

/* Largest batch the adaptive mode may choose. */
#define THROTTLE_MAX_BATCH 100000L

struct throttle {
	pthread_mutex_t mu;
	long sleep_ms;
	long max_rows_per_second;
	long target_batch_time_ms;
	long max_replica_lag_ms;
	int64_t next_slot_us;   /* rows/s schedule: when the next batch may start */
	int64_t lag_checked_us; /* last replica-lag query (at most one per LAG_CHECK_US) */
	double lag_ms;          /* its answer */
	bool paused;            /* announced a replica-lag pause */
	long max_lag_wait_ms;   /* longest pause (THROTTLE_MAX_LAG_WAIT_MS; tests shorten it) */
};

void throttle_init(struct throttle *t, const struct pgphase_backfill_config *c);
void throttle_release(struct throttle *t);

/*
 * Account for a committed batch that changed rows: returns the absolute time (now_us clock)
 * before which the worker must not start its next batch (sleep and rows/s schedule).
 */
int64_t throttle_next_start(struct throttle *t, long long rows);

/*
 * Adaptive batch size: the size that would have taken target_batch_time for a batch of size
 * rows that took elapsed_us; changes by at most 2x per batch, stays within [1, cap].
 * Returns size unchanged when no target is set.
 */
long throttle_adapt(const struct throttle *t, long size, int64_t elapsed_us, long cap);

/*
 * Wait while any standby's replay lag exceeds the limit (no-op without a limit).
 * keep_going(arg) is polled; returns 1 to go on, 0 when keep_going said stop, -1 on a query
 * failure, on SIGINT/SIGTERM or when the lag stayed too high for max_lag_wait_ms (err says
 * which, naming the lag).
 */
int throttle_wait_replicas(struct throttle *t, struct pgphase_session *s,
			   bool (*keep_going)(void *), void *arg, struct pgphase_error *err);


#endif
