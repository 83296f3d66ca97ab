/*
 * Progress of a long operation on stderr (DESIGN §7.7): a live bar redrawn in place when the
 * stream is a TTY; otherwise one line per interval with the rate computed as the delta since
 * the previous line (pgbench's progress report; git's progress.c).  Monotonic clocks only.
 * Thread-safe: workers add rows, whoever crosses the interval prints.
 */
#ifndef PGPHASE_PROGRESS_H
#define PGPHASE_PROGRESS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum progress_mode { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_LINES };

struct progress {
	pthread_mutex_t mu;
	enum progress_mode mode;
	FILE *out;
	char *title;         /* owned */
	long long estimate;  /* expected total, may be exceeded */
	long long done;      /* rows so far, including earlier runs */
	long long base;      /* done when this run started (rate counts only this run) */
	int64_t start_us, last_us, interval_us;
	long long last_done;
	double rate;         /* rows/s, smoothed (bar) or over the last interval (lines) */
	bool drawn;          /* a bar is on the screen */
};

/*
 * mode: what to draw; interval_ms: lines mode period (bar: redraw period is 200 ms).
 * title is copied.
 */
void progress_init(struct progress *p, enum progress_mode mode, FILE *out, const char *title,
		   long long estimate, long long done_before, long interval_ms);
/* Add rows; prints when the interval has passed. */
void progress_add(struct progress *p, long long rows);
/* Print a log line without tearing the bar (the bar is redrawn on the next update). */
void progress_clear(struct progress *p);
/* Final line ("done"), then release. */
void progress_finish(struct progress *p, bool ok);

/* Human forms: "1.2M", "3m05s". */
void progress_fmt_count(char *buf, size_t n, double v);
void progress_fmt_eta(char *buf, size_t n, double seconds);

#endif
