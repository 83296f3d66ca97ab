/*
 * The application for the zero-downtime benchmark (bench_phases.sh): CLIENTS connections,
 * each in a loop of short autocommit statements on accounts — read a row by key, update its
 * score, insert a new row — until STOPFILE exists.  Every statement is timed; prints the
 * number of statements, the longest one and the 99th percentile, in milliseconds:
 *
 *   ops=N max_ms=X p99_ms=Y errors=E
 *
 * Usage: bench_load CONNINFO CLIENTS STOPFILE
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#define MAX_SAMPLES (4 * 1000 * 1000)

static const char *conninfo, *stopfile;
static double *samples;
static long n_samples, errors;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static const char *const SQL_READ = "SELECT id, email, score FROM accounts WHERE id = $1";
static const char *const SQL_WRITE = "UPDATE accounts SET score = score + 1 WHERE id = $1";
static const char *const SQL_INSERT =
	"INSERT INTO accounts (id, email, name, score, plan_id) "
	"VALUES ($1::bigint, 'e' || $1::text, 'n' || $1::text, 1, 1)"
	" ON CONFLICT DO NOTHING";

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void timed(PGconn *c, const char *sql, long id)
{
	char buf[32];
	const char *params[1] = { buf };
	double t0 = now_ms(), dt;
	PGresult *r;

	snprintf(buf, sizeof(buf), "%ld", id);
	r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
	dt = now_ms() - t0;
	pthread_mutex_lock(&mu);
	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		if (errors++ < 5)
			fprintf(stderr, "bench_load: %s", PQerrorMessage(c));
	}
	if (n_samples < MAX_SAMPLES)
		samples[n_samples++] = dt;
	pthread_mutex_unlock(&mu);
	PQclear(r);
}

static void *client(void *arg)
{
	unsigned seed = (unsigned)(size_t)arg * 7919u + (unsigned)time(NULL);
	PGconn *c = PQconnectdb(conninfo);
	long next_id = 2000000 + (long)(size_t)arg * 10000000L;

	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "bench_load: %s", PQerrorMessage(c));
		exit(1);
	}
	while (access(stopfile, F_OK) != 0) {
		long id = 1 + rand_r(&seed) % 1000000;

		timed(c, SQL_READ, id);
		timed(c, SQL_WRITE, id);
		timed(c, SQL_INSERT, next_id++);
		usleep(2000);
	}
	PQfinish(c);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	int n;

	if (argc != 4) {
		fprintf(stderr, "usage: bench_load CONNINFO CLIENTS STOPFILE\n");
		return 2;
	}
	conninfo = argv[1];
	n = atoi(argv[2]);
	stopfile = argv[3];
	if (n < 1 || n > 64)
		return 2;
	samples = malloc(sizeof(*samples) * MAX_SAMPLES);
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, client, (void *)(size_t)i);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	qsort(samples, (size_t)n_samples, sizeof(*samples), cmp);
	printf("ops=%ld max_ms=%.1f p99_ms=%.2f errors=%ld\n", n_samples,
	       n_samples ? samples[n_samples - 1] : 0.0,
	       n_samples ? samples[(long)((n_samples - 1) * 0.99)] : 0.0, errors);
	free(samples);
	return 0;
}
