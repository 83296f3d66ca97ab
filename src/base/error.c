/*
 * struct pgphase_error: message, detail and hint strings plus the exit code the CLI maps the
 * failure to.  Nothing here prints; src/cli/main.c decides how an error is shown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgphase/error.h"
#include "base/util.h"

void pgphase_error_init(struct pgphase_error *err)
{
	err->code = 0;
	err->message = err->detail = err->hint = NULL;
	err->kind = NULL;
	err->file = NULL;
	err->line = err->column = 0;
}

void pgphase_error_release(struct pgphase_error *err)
{
	free(err->message);
	free(err->detail);
	free(err->hint);
	free(err->file);
	pgphase_error_init(err);
}

int pgphase_error_setv(struct pgphase_error *err, int code, const char *fmt, va_list ap)
{
	if (!err)
		return -1;
	pgphase_error_release(err);
	err->code = code;
	err->message = xvasprintf(fmt, ap);
	return -1;
}

int pgphase_error_set(struct pgphase_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pgphase_error_setv(err, code, fmt, ap);
	va_end(ap);
	return -1;
}

void pgphase_error_detail(struct pgphase_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	free(err->detail);
	err->detail = xvasprintf(fmt, ap);
	va_end(ap);
}

void pgphase_error_hint(struct pgphase_error *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	va_start(ap, fmt);
	free(err->hint);
	err->hint = xvasprintf(fmt, ap);
	va_end(ap);
}

void pgphase_error_prefix(struct pgphase_error *err, const char *fmt, ...)
{
	va_list ap;
	char *prefix, *joined;

	if (!err || !err->message)
		return;
	va_start(ap, fmt);
	prefix = xvasprintf(fmt, ap);
	va_end(ap);
	joined = xasprintf("%s: %s", prefix, err->message);
	free(prefix);
	free(err->message);
	err->message = joined;
}

void pgphase_error_move(struct pgphase_error *dst, struct pgphase_error *src)
{
	pgphase_error_release(dst);
	*dst = *src;
	pgphase_error_init(src);
}

int pgphase_error_at(struct pgphase_error *err, int code, const char *kind, const char *file,
		     int line, int column, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	if (!err)
		return -1;
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (column > 0)
		pgphase_error_set(err, code, "%s:%d:%d: %s", file, line, column, msg);
	else
		pgphase_error_set(err, code, "%s:%d: %s", file, line, msg);
	free(msg);
	err->kind = kind;
	err->file = xstrdup(file);
	err->line = line;
	err->column = column;
	return -1;
}
