/*
 * Small private helpers: allocation that aborts on out-of-memory (a migration tool that
 * half-runs because malloc failed is worse than one that stops), a growable string buffer,
 * file reading, and monotonic clocks.  Not part of the public API.
 */
#ifndef PGPHASE_UTIL_H
#define PGPHASE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
char *xvasprintf(const char *fmt, va_list ap);

/* Grow *arr (element size elem) so that it holds at least need elements. */
void grow_array(void **arr, size_t *cap, size_t need, size_t elem);
#define GROW(arr, cap, need) grow_array((void **)&(arr), &(cap), (need), sizeof(*(arr)))

struct sbuf {
	char *buf; /* always NUL-terminated once anything was added */
	size_t len, cap;
};
#define SBUF_INIT { NULL, 0, 0 }
void sbuf_add(struct sbuf *sb, const char *s, size_t n);
void sbuf_adds(struct sbuf *sb, const char *s);
void sbuf_addf(struct sbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Returns the buffer (owned by the caller; never NULL) and resets sb. */
char *sbuf_detach(struct sbuf *sb);
void sbuf_release(struct sbuf *sb);

/* Read a whole file; *out is NUL-terminated and owned by the caller.  0 / -1 (errno set). */
int read_file(const char *path, char **out, size_t *len);

/*
 * Sorted names of the entries of dir, hidden ones (".…") left out.  Returns a malloc'd array
 * of malloc'd strings (never NULL on success, even when empty), or NULL with errno set when
 * the directory cannot be read.
 */
char **list_dir_sorted(const char *dir, size_t *n);

/* Monotonic clock in microseconds. */
int64_t now_us(void);

/* Always-quoted SQL identifier: "a""b".  Used where no connection exists yet (templates). */
char *quote_ident_always(const char *ident);

/* 1-based line and column (in characters) of byte offset off in text. */
/* FNV-1a hash of a NUL-terminated string (hash tables, caches). */
uint64_t str_hash(const char *s);

void text_position(const char *text, size_t off, int *line, int *column);

/* Incremental text_position for increasing offsets (linear over a whole file). */
struct text_cursor {
	size_t off;
	int line, column;
};
#define TEXT_CURSOR_INIT { 0, 1, 1 }
void text_cursor_to(const char *text, struct text_cursor *c, size_t off, int *line, int *column);

#endif
