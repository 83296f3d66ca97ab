/*
 * Progress display: see progress.h.  Lines mode prints the rate over the last interval (a
 * delta, like pgbench -P), so a slowdown shows at once; the bar smooths the rate over recent
 * redraws so its ETA does not jump.  Nothing here knows what is being counted.
 */
#include <stdlib.h>
#include <string.h>

#include "base/progress.h"
#include "base/util.h"

#define BAR_REDRAW_US 200000LL
#define BAR_WIDTH 24

void progress_fmt_count(char *buf, size_t n, double v)
{
	if (v >= 1e9)
		snprintf(buf, n, "%.2fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(buf, n, "%.2fM", v / 1e6);
	else if (v >= 1e4)
		snprintf(buf, n, "%.1fk", v / 1e3);
	else
		snprintf(buf, n, "%.0f", v);
}

void progress_fmt_eta(char *buf, size_t n, double s)
{
	long t = (long)(s + 0.5);

	if (s < 0 || s > 1e8)
		snprintf(buf, n, "?");
	else if (t >= 3600)
		snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
	else if (t >= 60)
		snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
	else
		snprintf(buf, n, "%lds", t);
}

void progress_init(struct progress *p, enum progress_mode mode, FILE *out, const char *title,
		   long long estimate, long long done_before, long interval_ms)
{
	memset(p, 0, sizeof(*p));
	pthread_mutex_init(&p->mu, NULL);
	p->mode = mode;
	p->out = out ? out : stderr;
	p->title = xstrdup(title);
	p->estimate = estimate;
	p->done = p->base = p->last_done = done_before;
	p->start_us = p->last_us = now_us();
	p->interval_us = (mode == PROGRESS_BAR ? BAR_REDRAW_US
			  : (int64_t)(interval_ms > 0 ? interval_ms : 10000) * 1000);
}

/* "920.0k/~2.00M rows (46%), 150.0k rows/s, eta 7s" */
static void describe(struct progress *p, char *buf, size_t n, double *frac)
{
	char d[32], e[32], r[32], eta[32];
	long long est = p->estimate > p->done ? p->estimate : p->done;
	double left = (double)(est - p->done);

	*frac = est > 0 ? (double)p->done / (double)est : 1.0;
	progress_fmt_count(d, sizeof(d), (double)p->done);
	progress_fmt_count(e, sizeof(e), (double)est);
	progress_fmt_count(r, sizeof(r), p->rate);
	progress_fmt_eta(eta, sizeof(eta), p->rate > 0 ? left / p->rate : -1);
	snprintf(buf, n, "%s/~%s rows (%.0f%%), %s rows/s, eta %s", d, e, *frac * 100, r, eta);
}

static void draw(struct progress *p, int64_t now)
{
	double secs = (double)(now - p->last_us) / 1e6, inst, frac;
	char text[160];

	inst = secs > 0 ? (double)(p->done - p->last_done) / secs : 0;
	if (p->mode == PROGRESS_BAR)
		p->rate = p->rate > 0 ? 0.7 * p->rate + 0.3 * inst : inst;
	else
		p->rate = inst;
	describe(p, text, sizeof(text), &frac);
	if (p->mode == PROGRESS_BAR) {
		char bar[BAR_WIDTH + 1];
		int fill = (int)(frac * BAR_WIDTH);

		for (int i = 0; i < BAR_WIDTH; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[BAR_WIDTH] = '\0';
		fprintf(p->out, "\r\033[K%s [%s] %s", p->title, bar, text);
		p->drawn = true;
	} else {
		fprintf(p->out, "%s: %s, %.0f s elapsed\n", p->title, text,
			(double)(now - p->start_us) / 1e6);
	}
	fflush(p->out);
	p->last_us = now;
	p->last_done = p->done;
}

void progress_add(struct progress *p, long long rows)
{
	int64_t now = now_us();

	pthread_mutex_lock(&p->mu);
	p->done += rows;
	if (p->mode != PROGRESS_NONE && now - p->last_us >= p->interval_us)
		draw(p, now);
	pthread_mutex_unlock(&p->mu);
}

void progress_clear(struct progress *p)
{
	pthread_mutex_lock(&p->mu);
	if (p->drawn) {
		fputs("\r\033[K", p->out);
		fflush(p->out);
		p->drawn = false;
	}
	pthread_mutex_unlock(&p->mu);
}

void progress_finish(struct progress *p, bool ok)
{
	int64_t now = now_us();

	if (p->mode != PROGRESS_NONE && p->title) {
		double secs = (double)(now - p->start_us) / 1e6;
		char d[32], r[32];

		progress_fmt_count(d, sizeof(d), (double)p->done);
		progress_fmt_count(r, sizeof(r), secs > 0 ? (double)(p->done - p->base) / secs : 0);
		if (p->drawn)
			fputs("\r\033[K", p->out);
		fprintf(p->out, "%s: %s rows %s in %.1f s (%s rows/s)\n", p->title, d,
			ok ? "done" : "so far", secs, r);
		fflush(p->out);
	}
	free(p->title);
	p->title = NULL;
	pthread_mutex_destroy(&p->mu);
}
