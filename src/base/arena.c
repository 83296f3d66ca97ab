/*
 * Arenas: a list of blocks, each used front to back, all freed at once.  Parse trees are
 * unpacked into one (unpacking and freeing node by node dominated the cost of big files),
 * and a plan keeps its steps' text and its planning scratch in one, so no planner or
 * strategy code frees pieces by hand.  Not thread-safe: one arena per thread of use.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/util.h"

#define ARENA_BLOCK_MIN (4 * 1024)
#define ARENA_BLOCK_MAX (1024 * 1024)

struct pgphase_arena *pgphase_arena_new(void)
{
	struct pgphase_arena *a = xcalloc(1, sizeof(*a));

	a->refs = 1;
	a->next = ARENA_BLOCK_MIN;
	return a;
}

void *arena_alloc_block(struct pgphase_arena *a, size_t size)
{
	size_t want = size > a->next ? size : a->next;
	struct arena_block *b;

	if (a->next < ARENA_BLOCK_MAX)
		a->next *= 2;
	b = xmalloc(sizeof(*b) + want);
	b->next = a->head;
	b->used = size;
	b->size = want;
	a->head = b;
	return b->data;
}

void *arena_alloc_cb(void *data, size_t size)
{
	return arena_alloc(data, size);
}

void arena_free_cb(void *data, void *ptr)
{
	(void)data;
	(void)ptr; /* released all at once by pgphase_arena_free */
}

void *pgphase_arena_alloc(struct pgphase_arena *a, size_t size)
{
	return arena_alloc(a, size ? size : 1);
}

void pgphase_arena_free(struct pgphase_arena *a)
{
	if (!a || --a->refs > 0)
		return;
	while (a->head) {
		struct arena_block *next = a->head->next;

		free(a->head);
		a->head = next;
	}
	free(a);
}

void arena_ref(struct pgphase_arena *a)
{
	a->refs++;
}

void arena_hint(struct pgphase_arena *a, size_t size)
{
	if (size > a->next)
		a->next = size;
}

char *arena_strndup(struct pgphase_arena *a, const char *s, size_t n)
{
	char *p = pgphase_arena_alloc(a, n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct pgphase_arena *a, const char *s)
{
	return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(struct pgphase_arena *a, const char *fmt, va_list ap)
{
	va_list again;
	char small[256];
	int n;
	char *p;

	va_copy(again, ap);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		va_end(again);
		return arena_strdup(a, "");
	}
	p = pgphase_arena_alloc(a, (size_t)n + 1);
	if ((size_t)n < sizeof(small))
		memcpy(p, small, (size_t)n + 1);
	else
		vsnprintf(p, (size_t)n + 1, fmt, again);
	va_end(again);
	return p;
}

char *arena_printf(struct pgphase_arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

char *arena_take(struct pgphase_arena *a, char *malloced)
{
	char *p = arena_strdup(a, malloced);

	free(malloced);
	return p;
}
