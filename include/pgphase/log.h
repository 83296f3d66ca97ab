/*
 * Logging to stderr.  stdout carries the product (plan, status, findings, JSON); everything
 * else — progress, notices, warnings, verbose SQL echo — goes through here.
 */
#ifndef PGPHASE_LOG_H
#define PGPHASE_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum pgphase_log_level {
	PGPHASE_LOG_ERROR = 0,
	PGPHASE_LOG_WARNING = 1,
	PGPHASE_LOG_INFO = 2,    /* default: what a command did */
	PGPHASE_LOG_VERBOSE = 3, /* -v: SQL echo, server notices */
};

void pgphase_log_set_level(enum pgphase_log_level level);
enum pgphase_log_level pgphase_log_get_level(void);
/* Redirect log output (default stderr); NULL restores stderr. */
void pgphase_log_set_stream(FILE *stream);
void pgphase_log_set_color(bool on);
bool pgphase_log_color(void);

void pgphase_log(enum pgphase_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
#define pgphase_warn(...) pgphase_log(PGPHASE_LOG_WARNING, __VA_ARGS__)
#define pgphase_info(...) pgphase_log(PGPHASE_LOG_INFO, __VA_ARGS__)
#define pgphase_verbose(...) pgphase_log(PGPHASE_LOG_VERBOSE, __VA_ARGS__)

#endif
