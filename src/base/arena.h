/*
 * The private side of arenas (include/pgphase/arena.h): the allocator callbacks protobuf-c
 * takes, reference counts for trees shared between statement lists, a size hint for the
 * next block, and string helpers for code that builds text into an arena.
 */
#ifndef PGPHASE_BASE_ARENA_H
#define PGPHASE_BASE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "pgphase/arena.h"

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

struct pgphase_arena {
	struct arena_block *head;
	size_t next; /* size of the next block: doubling up to ARENA_BLOCK_MAX, or a hint */
	int refs;    /* owners (pgphase_sql values sharing a tree: pgphase_sql_take) */
};

/* A new block for at least size bytes (the slow path of arena_alloc). */
void *arena_alloc_block(struct pgphase_arena *a, size_t size);

/*
 * size bytes from a; inline because copying a parse tree allocates once per node and
 * field, on the hot path of `pgphase lint`.
 */
static inline void *arena_alloc(struct pgphase_arena *a, size_t size)
{
	struct arena_block *b = a->head;

	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	if (!b || b->used + size > b->size)
		return arena_alloc_block(a, size);
	b->used += size;
	return (char *)b->data + b->used - size;
}

/* protobuf-c's ProtobufCAllocator callbacks: data is the arena; free does nothing. */
void *arena_alloc_cb(void *data, size_t size);
void arena_free_cb(void *data, void *ptr);

/* One more owner: pgphase_arena_free then needs one more call before it frees. */
void arena_ref(struct pgphase_arena *a);
/* Make the next block at least size bytes (a caller that knows how much is coming). */
void arena_hint(struct pgphase_arena *a, size_t size);

char *arena_strdup(struct pgphase_arena *a, const char *s);     /* NULL stays NULL */
char *arena_strndup(struct pgphase_arena *a, const char *s, size_t n);
char *arena_printf(struct pgphase_arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
char *arena_vprintf(struct pgphase_arena *a, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));
/* Copy a malloc'd string into the arena and free the original (NULL stays NULL). */
char *arena_take(struct pgphase_arena *a, char *malloced);

#endif
