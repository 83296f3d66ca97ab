/*
 * Schema snapshots (layer sql; src/sql/snapshot.c): one set of catalog queries describing
 * everything a migration can change, as canonical text, so two databases can be compared
 * ("does pgphase end in the schema psql -1 gives?").  Used by the equivalence tests and,
 * later, by `pgphase verify`.
 *
 * The text has one fact per line, sorted, with names quoted as PostgreSQL would print them
 * (quote_ident), e.g.
 *   column app."Users".email: type=character varying(200) notnull=t default=... collation=...
 *   index app."Users_email_key": CREATE UNIQUE INDEX ... valid=t
 *   constraint app."Users"."Users_org_fkey": FOREIGN KEY (...) REFERENCES ... validated=t
 * Covered: schemas, tables (kind, persistence, partitioning, RLS flags, replica identity),
 * columns (type, default, NOT NULL, collation, identity, generated, statistics target),
 * constraints (definition, validity, deferrability), indexes (definition, validity),
 * sequences, views and materialized views (definition), functions, triggers (definition,
 * enabled), comments on every object above, privileges (ACLs, column ACLs), RLS policies,
 * types/enums/domains, extensions.  Column order (attnum) is not part of the text unless
 * asked for: pgphase's column rewrites append the new column, a documented difference.
 * Objects in pg_catalog, information_schema, pg_toast, temporary schemas and the excluded
 * schemas (pgphase's state schema) are left out.
 */
#ifndef PGPHASE_SNAPSHOT_H
#define PGPHASE_SNAPSHOT_H

#include <stdbool.h>

#include <libpq-fe.h>

#include "pgphase/error.h"

struct pgphase_snapshot_options {
	const char *const *exclude_schemas; /* NULL-terminated, or NULL */
	bool column_order;                  /* include each column's position */
};

/* The snapshot of conn's database as text (malloc'd), or NULL with err set. */
char *pgphase_snapshot_take(PGconn *conn, const struct pgphase_snapshot_options *opts,
			    struct pgphase_error *err);

/*
 * The difference of two snapshots: "- line" for each line only in a, "+ line" for each line
 * only in b, in sorted order (malloc'd); NULL when they are equal.
 */
char *pgphase_snapshot_diff(const char *a, const char *b);

#endif
