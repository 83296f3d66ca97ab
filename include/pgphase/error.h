/*
 * Error objects and exit codes.
 *
 * Library functions never exit: a fallible function returns 0 on success and -1 on failure
 * after filling a struct pgphase_error.  The error carries the exit code the command line
 * should use (DESIGN §11), a one-line message (lowercase, no trailing period, `file:line: `
 * first when a file is at fault) and optional detail and hint lines.
 */
#ifndef PGPHASE_ERROR_H
#define PGPHASE_ERROR_H

#include <stdarg.h>

enum pgphase_exit {
	PGPHASE_EXIT_OK = 0,
	PGPHASE_EXIT_FAILED = 1,  /* work failed; state recorded; lint found errors */
	PGPHASE_EXIT_USAGE = 2,   /* usage, configuration or input error; nothing changed */
	PGPHASE_EXIT_CONNECT = 3, /* database unreachable or authentication failed */
	PGPHASE_EXIT_LOCKED = 4,  /* another run holds the lock */
};

struct pgphase_error {
	int code;      /* enum pgphase_exit; 0 while no error is set */
	char *message; /* owned; includes "file:line:col: " when a file is at fault */
	char *detail;  /* owned, may be NULL */
	char *hint;    /* owned, may be NULL */
	/* Where and what, for tools that report errors as findings (lint).  kind is a static
	 * string such as "syntax-error", "unknown-directive", "bad-file-name", or NULL. */
	const char *kind;
	char *file; /* owned, may be NULL */
	int line, column;
};

#define PGPHASE_ERROR_INIT { 0, NULL, NULL, NULL, NULL, NULL, 0, 0 }

void pgphase_error_init(struct pgphase_error *err);
/* Frees the strings; the struct may be reused after pgphase_error_init(). */
void pgphase_error_release(struct pgphase_error *err);

/* Set code and message (replacing any previous error).  Always returns -1. */
int pgphase_error_set(struct pgphase_error *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int pgphase_error_setv(struct pgphase_error *err, int code, const char *fmt, va_list ap);
void pgphase_error_detail(struct pgphase_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pgphase_error_hint(struct pgphase_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/*
 * Set an error located in a file: the message becomes "file:line:column: <fmt>" (":column"
 * omitted when column is 0) and kind/file/line/column are recorded.  Returns -1.
 */
int pgphase_error_at(struct pgphase_error *err, int code, const char *kind, const char *file,
		     int line, int column, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* Prefix the message with "prefix: " (used to add context on the way up). */
void pgphase_error_prefix(struct pgphase_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Move src into dst (dst's old content is released); src is left empty. */
void pgphase_error_move(struct pgphase_error *dst, struct pgphase_error *src);

#endif
