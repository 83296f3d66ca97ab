/*
 * Backfill throttling: see throttle.h.  The rows/s cap keeps an absolute schedule so the
 * long-run rate is the cap however long each batch takes; the schedule starts at the first
 * batch and may fall behind by at most CATCH_UP_US (a slow batch, a replica-lag pause), so
 * catching up never becomes a burst longer than that.
 */
#include <stdlib.h>

#include "base/backoff.h"
#include "base/db.h"
#include "pgphase/log.h"
#include "backfill/throttle.h"
#include "base/util.h"

#define CATCH_UP_US 100000LL
#define LAG_CHECK_US 250000LL

/*
 * Worst replay lag of the connected standbys, in ms.  replay_lag keeps growing while a
 * standby receives WAL but does not replay it (paused, or conflicting queries); it is NULL
 * once a standby has caught up and nothing is written.
 */
static const char *const SQL_REPLICA_LAG =
	"SELECT coalesce(max(extract(epoch FROM replay_lag) * 1000), 0)::float8"
	"  FROM pg_stat_replication";

void throttle_init(struct throttle *t, const struct pgphase_backfill_config *c)
{
	pthread_mutex_init(&t->mu, NULL);
	t->sleep_ms = c->sleep_ms > 0 ? c->sleep_ms : 0;
	t->max_rows_per_second = c->max_rows_per_second > 0 ? c->max_rows_per_second : 0;
	t->target_batch_time_ms = c->target_batch_time_ms > 0 ? c->target_batch_time_ms : 0;
	t->max_replica_lag_ms = c->max_replica_lag_ms > 0 ? c->max_replica_lag_ms : 0;
	t->next_slot_us = now_us(); /* the schedule starts now, with the first batch */
	t->lag_checked_us = 0;
	t->lag_ms = 0;
	t->paused = false;
	t->max_lag_wait_ms = THROTTLE_MAX_LAG_WAIT_MS;
}

void throttle_release(struct throttle *t)
{
	pthread_mutex_destroy(&t->mu);
}

int64_t throttle_next_start(struct throttle *t, long long rows)
{
	int64_t now = now_us(), start = now + (int64_t)t->sleep_ms * 1000;

	if (t->max_rows_per_second > 0) {
		pthread_mutex_lock(&t->mu);
		if (t->next_slot_us < now - CATCH_UP_US)
			t->next_slot_us = now - CATCH_UP_US;
		t->next_slot_us += (int64_t)((double)rows * 1e6 / (double)t->max_rows_per_second);
		if (t->next_slot_us > start)
			start = t->next_slot_us;
		pthread_mutex_unlock(&t->mu);
	}
	return start;
}

long throttle_adapt(const struct throttle *t, long size, int64_t elapsed_us, long cap)
{
	double want;
	long n;

	if (t->target_batch_time_ms <= 0)
		return size > cap ? cap : size;
	if (elapsed_us < 1000)
		elapsed_us = 1000;
	want = (double)size * (double)t->target_batch_time_ms * 1000.0 / (double)elapsed_us;
	/* move halfway in log terms: damp the noise of single batches */
	want = (want + (double)size) / 2;
	if (want > 2.0 * size)
		want = 2.0 * size;
	if (want < size / 2.0)
		want = size / 2.0;
	n = (long)(want + 0.5);
	if (n > cap)
		n = cap;
	if (n > THROTTLE_MAX_BATCH)
		n = THROTTLE_MAX_BATCH;
	return n < 1 ? 1 : n;
}

static int query_lag(struct throttle *t, struct pgphase_session *s, struct pgphase_error *err)
{
	int64_t now = now_us();
	PGresult *r;
	double lag;

	pthread_mutex_lock(&t->mu);
	if (now - t->lag_checked_us < LAG_CHECK_US) {
		pthread_mutex_unlock(&t->mu);
		return 0;
	}
	t->lag_checked_us = now;
	pthread_mutex_unlock(&t->mu);
	r = db_query(s, SQL_REPLICA_LAG, 0, NULL, PGRES_TUPLES_OK, err);
	if (!r)
		return -1;
	lag = atof(PQgetvalue(r, 0, 0));
	PQclear(r);
	pthread_mutex_lock(&t->mu);
	t->lag_ms = lag;
	pthread_mutex_unlock(&t->mu);
	return 0;
}

int throttle_wait_replicas(struct throttle *t, struct pgphase_session *s,
			   bool (*keep_going)(void *), void *arg, struct pgphase_error *err)
{
	int64_t since = 0;

	if (t->max_replica_lag_ms <= 0)
		return 1;
	for (;;) {
		double lag;
		bool announce = false;

		if (query_lag(t, s, err) < 0)
			return -1;
		pthread_mutex_lock(&t->mu);
		lag = t->lag_ms;
		if (lag > (double)t->max_replica_lag_ms && !t->paused)
			announce = t->paused = true;
		else if (lag <= (double)t->max_replica_lag_ms && t->paused) {
			t->paused = false;
			pgphase_info("backfill: replica lag %.1f s, resuming", lag / 1000);
		}
		pthread_mutex_unlock(&t->mu);
		if (announce)
			pgphase_info("backfill: pausing while replica lag %.1f s exceeds %.1f s",
				     lag / 1000, t->max_replica_lag_ms / 1000.0);
		if (lag <= (double)t->max_replica_lag_ms)
			return 1;
		if (!since)
			since = now_us();
		if (now_us() - since > t->max_lag_wait_ms * 1000LL)
			return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "gave up waiting for replica "
						 "lag to fall below %.1f s: still %.1f s after %.0f s "
						 "(the backfill resumes where it stopped on the next run)",
						 t->max_replica_lag_ms / 1000.0, lag / 1000,
						 t->max_lag_wait_ms / 1000.0);
		if (!backoff_sleep_until(now_us() + LAG_CHECK_US, keep_going, arg)) {
			if (pgphase_interrupted())
				return pgphase_error_set(err, PGPHASE_EXIT_FAILED, "interrupted while "
							 "waiting for replica lag (%.1f s) to fall "
							 "below %.1f s", lag / 1000,
							 t->max_replica_lag_ms / 1000.0);
			return 0;
		}
	}
}
