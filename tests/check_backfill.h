/*
 * Helpers shared by the backfill suites (tests/check_backfill*.c), defined in
 * tests/check_backfill.c: run one statement through the engine on the test database with a
 * session of its own (in this process, a thread or a forked child), and a standard table
 * whose BEFORE UPDATE trigger counts how often each row was changed.
 */
#ifndef PGPHASE_TEST_BACKFILL_H
#define PGPHASE_TEST_BACKFILL_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "harness.h"
#include "pgphase/backfill.h"

struct bft {
	struct pgphase_config cfg;
	struct pgphase_sql sql;
	struct pgphase_backfill_spec spec;
	struct pgphase_backfill_options o;
	struct pgphase_backfill_result res;
	struct pgphase_error err;
	int rc;
};

/* Parse sql; options with progress off, batch 1000, one worker; version 1, step 0. */
void bft_init(struct bft *b, const char *sql);
/* Open a session, run, close it.  Returns the engine's return code (also in b->rc). */
int bft_run(struct bft *b);
void bft_release(struct bft *b);
/* Run in a forked child (exits with the engine's exit code); returns its pid. */
pid_t bft_fork(struct bft *b);

/*
 * Table NAME(id bigint PRIMARY KEY, old_col int NOT NULL, new_col int, touched int NOT NULL
 * DEFAULT 0) with rows 1..n; a trigger adds 1 to touched on every UPDATE.
 */
void bft_table(const char *name, long n);
/* The standard change: SET new_col = old_col * 2 + 1 WHERE new_col IS NULL. */
#define BFT_UPDATE(t) "UPDATE " t " SET new_col = old_col * 2 + 1 WHERE new_col IS NULL"
/* Rows not changed exactly once to the right value (0 when the backfill is right). */
long bft_wrong_rows(const char *name);
/* sum(rows_done) over the progress rows of version v. */
long bft_rows_done(long v);

/*
 * pgphase_backfill_check() of the first statement of sql, placed at x.sql:LINE:1 (err is
 * cleared first).
 */
int bft_check(const char *sql, int line, struct pgphase_error *err);

/* An application transaction open on conn; bft_commit_later (a thread body) commits it
 * after hold_ms and notes when in released_us. */
struct bft_app_txn {
	PGconn *conn;
	int hold_ms;
	int64_t released_us;
};
void *bft_commit_later(void *arg);

/* What bft_on_batch (an on_batch hook, arg: the stats) saw of the batches. */
struct bft_walk_stats {
	pthread_mutex_t mu;
	int64_t max_walk_us;      /* slowest walk batch */
	int64_t last_walk_end_us; /* when the last walk batch ended */
	int64_t first_sweep_us;   /* when the first sweep batch that changed rows ended */
};
#define BFT_WALK_STATS_INIT { PTHREAD_MUTEX_INITIALIZER, 0, 0, 0 }
void bft_on_batch(void *arg, const struct pgphase_backfill_batch *b);

#endif
