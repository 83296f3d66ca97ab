/*
 * Logger: leveled messages to stderr (or a stream tests choose).  Errors and warnings get a
 * "pgphase: error: " / "warning: " prefix, coloured only when the stream is a TTY and
 * NO_COLOR is unset.  Info lines are printed as given.
 */
#include <stdarg.h>
#include <stdio.h>

#include "pgphase/log.h"

static enum pgphase_log_level current_level = PGPHASE_LOG_INFO;
static FILE *log_stream;
static bool use_color;

void pgphase_log_set_level(enum pgphase_log_level level)
{
	current_level = level;
}

enum pgphase_log_level pgphase_log_get_level(void)
{
	return current_level;
}

void pgphase_log_set_stream(FILE *stream)
{
	log_stream = stream;
}

void pgphase_log_set_color(bool on)
{
	use_color = on;
}

bool pgphase_log_color(void)
{
	return use_color;
}

void pgphase_log(enum pgphase_log_level level, const char *fmt, ...)
{
	FILE *out = log_stream ? log_stream : stderr;
	va_list ap;

	if (level > current_level)
		return;
	if (level == PGPHASE_LOG_ERROR)
		fputs(use_color ? "\033[1;31merror:\033[0m " : "error: ", out);
	else if (level == PGPHASE_LOG_WARNING)
		fputs(use_color ? "\033[1;33mwarning:\033[0m " : "warning: ", out);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
	fflush(out);
}
