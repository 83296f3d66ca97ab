/*
 * Runs one statement through the backfill engine (libpgphase), for the backfill benchmark
 * until `pgphase backfill` drives the engine itself.  Built by bench_backfill.sh against
 * build/libpgphase.a.
 *
 *   bench_backfill_driver [-d CONNINFO] [-b BATCH] [-s SLEEP_MS] [-r ROWS_PER_S]
 *       [-t TARGET_MS] [-l MAX_LAG_MS] [-w WORKERS] [-k KEY] [-V VERSION] [-S STEP]
 *       [-T batch-times-file] [-q] [-A] SQL
 *       -A: batches commit with the session's synchronous_commit (default: off per batch)
 *   bench_backfill_driver -N [-d CONNINFO] [-T FILE] SQL
 *       the naive loop: run SQL (autocommit) until it changes no row
 *
 * Prints "rows=N ... peak_rss_kb=N" on stdout; with -T, one batch time (µs) per line.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/time.h>
#include <time.h>

#include <libpq-fe.h>

#include "pgphase/backfill.h"
#include "pgphase/log.h"

static void on_batch(void *arg, const struct pgphase_backfill_batch *b)
{
	if (arg)
		fprintf(arg, "%lld\n", (long long)b->elapsed_us);
}

static long peak_rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "VmHWM:", 6) == 0)
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static long long usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The loop many tools use: the same statement again and again until it changes nothing. */
static int naive(const char *conninfo, const char *sql, FILE *times)
{
	PGconn *c = PQconnectdb(conninfo ? conninfo : "");
	long long rows = 0, batches = 0, t0 = usec();

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "error: %s", PQerrorMessage(c));
		return 3;
	}
	for (;;) {
		long long b0 = usec(), n;
		PGresult *r = PQexec(c, sql);

		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "error: %s", PQerrorMessage(c));
			PQclear(r);
			PQfinish(c);
			return 1;
		}
		n = atoll(PQcmdTuples(r));
		PQclear(r);
		if (n == 0)
			break;
		rows += n;
		batches++;
		if (times)
			fprintf(times, "%lld\n", usec() - b0);
	}
	printf("rows=%lld batches=%lld ms=%lld peak_rss_kb=%ld\n", rows, batches,
	       (usec() - t0) / 1000, peak_rss_kb());
	PQfinish(c);
	return 0;
}

int main(int argc, char **argv)
{
	bool naive_loop = false;
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_config cfg;
	struct pgphase_session s;
	struct pgphase_backfill_options o;
	struct pgphase_backfill_spec spec;
	struct pgphase_backfill_result res;
	struct pgphase_sql sql;
	FILE *times = NULL;
	int c, rc = 1;

	pgphase_config_init(&cfg);
	pgphase_backfill_options_init(&o, &cfg);
	memset(&spec, 0, sizeof(spec));
	spec.version = 1;
	while ((c = getopt(argc, argv, "d:b:s:r:t:l:w:k:V:S:T:qNA")) != -1) {
		switch (c) {
		case 'd': pgphase_config_set(&cfg.database, optarg); break;
		case 'b': o.throttle.batch_size = atol(optarg); break;
		case 's': o.throttle.sleep_ms = atol(optarg); break;
		case 'r': o.throttle.max_rows_per_second = atol(optarg); break;
		case 't': o.throttle.target_batch_time_ms = atol(optarg); break;
		case 'l': o.throttle.max_replica_lag_ms = atol(optarg); break;
		case 'w': o.throttle.workers = atoi(optarg); break;
		case 'k': spec.key = optarg; break;
		case 'V': spec.version = atoll(optarg); break;
		case 'S': spec.step = atoi(optarg); break;
		case 'T': times = fopen(optarg, "w"); break;
		case 'q': o.progress = PGPHASE_PROGRESS_NONE; break;
		case 'N': naive_loop = true; break;
		case 'A': o.async_commit = false; break;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: %s [options] SQL\n", argv[0]);
		return 2;
	}
	if (naive_loop) {
		rc = naive(cfg.database, argv[optind], times);
		if (times)
			fclose(times);
		pgphase_config_release(&cfg);
		return rc;
	}
	o.on_batch = on_batch;
	o.on_batch_arg = times;
	pgphase_install_signal_handlers();
	if (pgphase_sql_parse(&sql, argv[optind], "<sql>", &err) < 0)
		goto out;
	spec.stmt = sql.stmts[0].node;
	if (pgphase_session_open(&s, &cfg, "backfill", &err) == 0) {
		rc = pgphase_backfill_run(&s, &spec, &o, &res, &err) < 0;
		printf("rows=%lld swept=%lld batches=%lld ms=%lld run_rows=%lld max_batch_ms=%lld "
		       "peak_rss_kb=%ld\n", res.rows, res.rows_swept, res.batches,
		       (long long)res.duration_ms, res.rows_run, (long long)res.max_batch_ms,
		       peak_rss_kb());
		pgphase_backfill_result_release(&res);
		pgphase_session_close(&s);
	}
	pgphase_sql_release(&sql);
out:
	if (err.code) {
		fprintf(stderr, "error: %s\n", err.message);
		if (err.detail)
			fprintf(stderr, "%s\n", err.detail);
		if (err.hint)
			fprintf(stderr, "hint: %s\n", err.hint);
		rc = err.code;
	}
	if (times)
		fclose(times);
	pgphase_error_release(&err);
	pgphase_config_release(&cfg);
	return rc;
}
