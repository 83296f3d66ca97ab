/*
 * SIGINT/SIGTERM.  The handler only sets a flag and calls PQcancel on the cancel handle of
 * the command's session (both async-signal-safe), so a long statement is cancelled on the
 * server and the command records its state before exiting.  Every loop that waits (lock
 * retries, backoffs, throttling, webhook delivery) polls pgphase_interrupted() and stops.
 * Which connection the handle belongs to is db.c's business; nothing here runs SQL.
 */
#include <signal.h>
#include <string.h>

#include "base/interrupt.h"

static volatile sig_atomic_t interrupted;
static PGcancel *volatile active_cancel;

static void on_signal(int sig)
{
	char buf[256];
	PGcancel *c = active_cancel;

	(void)sig;
	interrupted = 1;
	if (c)
		PQcancel(c, buf, sizeof(buf));
}

void pgphase_install_signal_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

bool pgphase_interrupted(void)
{
	return interrupted != 0;
}

PGcancel *interrupt_set_cancel(PGcancel *c)
{
	PGcancel *old = active_cancel;

	active_cancel = c;
	return old;
}
