/*
 * Arenas: memory handed out in blocks and released all at once.  Parse trees live in one
 * (one malloc per block instead of one per node), and so does everything a plan holds.
 * Nothing allocated from an arena is freed on its own.
 */
#ifndef PGPHASE_ARENA_H
#define PGPHASE_ARENA_H

#include <stddef.h>

struct pgphase_arena;

/* A new arena (never NULL: allocation failure aborts); release with pgphase_arena_free. */
struct pgphase_arena *pgphase_arena_new(void);
/* Drop one reference (see src/base/arena.h); the last one frees every block.  NULL is ok. */
void pgphase_arena_free(struct pgphase_arena *a);
/* size bytes, aligned for any type, valid until the arena is freed. */
void *pgphase_arena_alloc(struct pgphase_arena *a, size_t size);

#endif
