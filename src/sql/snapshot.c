/*
 * Schema snapshots (include/pgphase/snapshot.h): a fixed list of catalog queries, each
 * returning one text line per fact, collected, escaped (a newline inside a view or function
 * body becomes "\n") and sorted bytewise so the text does not depend on the server's
 * collation.  Names are printed with quote_ident (or pg_identify_object, which quotes the
 * same way), always schema-qualified, so mixed-case, spaced and unicode names are exact.
 *
 * What is left out, and why: system schemas (pg_catalog, information_schema, pg_toast*,
 * pg_temp*), the excluded schemas (pgphase's state), objects that belong to an extension
 * (they are described by the extension's version), built-in objects (oid < 16384) that are
 * not schemas, the column position unless asked for, and the data (sequence values, rows).
 * This module does not connect, compare data or decide what a difference means.
 */
#include <stdlib.h>
#include <string.h>

#include "pgphase/snapshot.h"
#include "base/util.h"

/*
 * The schemas described: every schema but the system ones and $1 (a text[] of excluded
 * names).  Each query starts with this CTE and joins it to keep its objects.
 */
#define NS_CTE                                                                                 \
	"WITH ns AS (SELECT oid, nspname, nspowner, nspacl FROM pg_namespace"                  \
	" WHERE nspname NOT IN ('pg_catalog', 'information_schema')"                           \
	" AND nspname NOT LIKE 'pg\\_toast%' AND nspname NOT LIKE 'pg\\_temp%'"                \
	" AND NOT nspname = ANY ($1::text[])) "

/* Not a member of an extension (pg_depend deptype 'e'): such objects come with it. */
#define NOT_EXT(cat, oid)                                                                      \
	" NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '" cat "'::regclass"         \
	" AND e.objid = " oid " AND e.deptype = 'e') "

/* Qualified, quoted name of a relation c in schema n. */
#define QREL "quote_ident(n.nspname) || '.' || quote_ident(c.relname)"

/* An ACL as its items sorted (grant order does not matter); NULL means the default. */
#define ACL(acl, kind, owner)                                                                  \
	"(SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(coalesce(" acl          \
	", acldefault('" kind "', " owner "))) x)"

static const char sql_schemas[] = NS_CTE
	"SELECT 'schema ' || quote_ident(n.nspname) || ': owner='"
	" || quote_ident(pg_get_userbyid(n.nspowner)) FROM ns n"
	" WHERE" NOT_EXT("pg_namespace", "n.oid")
	"UNION ALL SELECT 'acl schema ' || quote_ident(n.nspname) || ': ' || "
	ACL("n.nspacl", "n", "n.nspowner") " FROM ns n WHERE" NOT_EXT("pg_namespace", "n.oid")
	"UNION ALL SELECT 'default acl ' || quote_ident(pg_get_userbyid(d.defaclrole))"
	" || coalesce(' in ' || quote_ident(s.nspname), '') || ' on ' || d.defaclobjtype::text"
	"       || ': '"
	" || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(d.defaclacl) x)"
	" FROM pg_default_acl d LEFT JOIN pg_namespace s ON s.oid = d.defaclnamespace"
	" WHERE d.defaclnamespace = 0 OR d.defaclnamespace IN (SELECT oid FROM ns)";

/*
 * Relations: kind, persistence, owner, RLS flags and replica identity (tables and
 * matviews), partition key, parent and bound, plain inheritance, options, tablespace.
 */
static const char sql_tables[] = NS_CTE
	"SELECT 'table ' || " QREL " || ': kind=' || c.relkind::text || ' persistence='"
	"       || c.relpersistence::text"
	" || ' owner=' || quote_ident(pg_get_userbyid(c.relowner))"
	" || CASE WHEN c.relkind IN ('r', 'p', 'm') THEN ' rls=' || left(c.relrowsecurity::text, 1)"
	"      || ' force_rls=' || left(c.relforcerowsecurity::text, 1) || ' replident='"
	"       || c.relreplident::text"
	"      ELSE '' END"
	" || coalesce(' partkey=' || pg_get_partkeydef(c.oid), '')"
	" || coalesce((SELECT ' partition_of=' || quote_ident(pn.nspname) || '.'"
	"      || quote_ident(p.relname) || ' bound=' || pg_get_expr(c.relpartbound, c.oid)"
	"      FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent"
	"      JOIN pg_namespace pn ON pn.oid = p.relnamespace"
	"      WHERE i.inhrelid = c.oid AND c.relispartition), '')"
	" || coalesce((SELECT ' inherits=' || string_agg(quote_ident(pn.nspname) || '.'"
	"      || quote_ident(p.relname), ',' ORDER BY i.inhseqno)"
	"      FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent"
	"      JOIN pg_namespace pn ON pn.oid = p.relnamespace"
	"      WHERE i.inhrelid = c.oid AND NOT c.relispartition), '')"
	" || coalesce(' options=' || c.reloptions::text, '')"
	" || coalesce(' tablespace=' || (SELECT quote_ident(spcname) FROM pg_tablespace"
	"      WHERE oid = c.reltablespace), '')"
	" FROM pg_class c JOIN ns n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND" NOT_EXT("pg_class", "c.oid")
	"UNION ALL SELECT 'acl ' || CASE c.relkind WHEN 'S' THEN 'sequence ' ELSE 'table ' END"
	" || " QREL " || ': ' || CASE c.relkind WHEN 'S' THEN "
	ACL("c.relacl", "s", "c.relowner") " ELSE " ACL("c.relacl", "r", "c.relowner") " END"
	" FROM pg_class c JOIN ns n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND" NOT_EXT("pg_class", "c.oid");

/*
 * Columns of tables, views, matviews, foreign tables and composite types.  The collation is
 * printed when it is not the type's own, storage when it is not the type's; $2 asks for the
 * position among the live columns (dropped ones do not count).
 */
static const char sql_columns[] = NS_CTE
	"SELECT 'column ' || " QREL " || '.' || quote_ident(a.attname)"
	" || ': type=' || format_type(a.atttypid, a.atttypmod) || ' notnull='"
	"       || left(a.attnotnull::text, 1)"
	" || coalesce(' default=' || pg_get_expr(d.adbin, d.adrelid), '')"
	" || CASE WHEN a.attcollation <> t.typcollation THEN ' collation='"
	"      || quote_ident(cn.nspname) || '.' || quote_ident(co.collname) ELSE '' END"
	" || CASE WHEN a.attidentity <> '' THEN ' identity=' || a.attidentity::text ELSE '' END"
	" || CASE WHEN a.attgenerated <> '' THEN ' generated=' || a.attgenerated::text ELSE '' END"
	" || ' stattarget=' || a.attstattarget"
	" || CASE WHEN a.attstorage <> t.typstorage THEN ' storage='"
	"       || a.attstorage::text ELSE '' END"
	" || CASE WHEN a.attcompression <> '' THEN ' compression=' || a.attcompression::text"
	"      ELSE '' END"
	" || coalesce(' options=' || a.attoptions::text, '')"
	" || CASE WHEN $2::bool THEN ' position=' || row_number() OVER"
	"      (PARTITION BY a.attrelid ORDER BY a.attnum) ELSE '' END"
	" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
	" JOIN ns n ON n.oid = c.relnamespace JOIN pg_type t ON t.oid = a.atttypid"
	" LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
	" LEFT JOIN pg_collation co ON co.oid = a.attcollation"
	" LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace"
	" WHERE a.attnum > 0 AND NOT a.attisdropped"
	" AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'c') AND" NOT_EXT("pg_class", "c.oid")
	"UNION ALL SELECT 'acl column ' || " QREL " || '.' || quote_ident(a.attname) || ': '"
	" || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(a.attacl) x)"
	" FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid"
	" JOIN ns n ON n.oid = c.relnamespace"
	" WHERE a.attnum > 0 AND NOT a.attisdropped AND a.attacl IS NOT NULL"
	" AND cardinality(a.attacl) > 0 AND" NOT_EXT("pg_class", "c.oid");

/* Constraints of tables and of domains: definition, validity, deferrability. */
static const char sql_constraints[] = NS_CTE
	"SELECT 'constraint ' || " QREL " || '.' || quote_ident(k.conname) || ': '"
	" || pg_get_constraintdef(k.oid) || ' validated=' || left(k.convalidated::text, 1)"
	" || ' deferrable=' || left(k.condeferrable::text, 1) || ' deferred='"
	"       || left(k.condeferred::text, 1)"
	" FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid"
	" JOIN ns n ON n.oid = c.relnamespace WHERE" NOT_EXT("pg_class", "c.oid")
	"UNION ALL SELECT 'constraint ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname)"
	" || '.' || quote_ident(k.conname) || ': ' || pg_get_constraintdef(k.oid)"
	" || ' validated=' || left(k.convalidated::text, 1)"
	" FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid"
	" JOIN ns n ON n.oid = t.typnamespace WHERE" NOT_EXT("pg_type", "t.oid");

/* Indexes (their definition names the table), validity, replica identity, clustering. */
static const char sql_indexes[] = NS_CTE
	"SELECT 'index ' || " QREL " || ': ' || pg_get_indexdef(i.indexrelid)"
	" || ' valid=' || left(i.indisvalid::text, 1) || ' ready=' || left(i.indisready::text, 1)"
	" || ' replident=' || left(i.indisreplident::text, 1) || ' clustered='"
	"       || left(i.indisclustered::text, 1)"
	" FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
	" JOIN ns n ON n.oid = c.relnamespace WHERE" NOT_EXT("pg_class", "i.indrelid")
	"UNION ALL SELECT 'statistics ' || quote_ident(n.nspname) || '.' || quote_ident(s.stxname)"
	" || ': ' || pg_get_statisticsobjdef(s.oid) || ' target=' || s.stxstattarget"
	" FROM pg_statistic_ext s JOIN ns n ON n.oid = s.stxnamespace"
	" WHERE" NOT_EXT("pg_statistic_ext", "s.oid");

/* Sequence parameters and the column owning the sequence (serial 'a', identity 'i'). */
static const char sql_sequences[] = NS_CTE
	"SELECT 'sequence ' || " QREL " || ': type=' || format_type(s.seqtypid, NULL)"
	" || ' start=' || s.seqstart || ' increment=' || s.seqincrement || ' min=' || s.seqmin"
	" || ' max=' || s.seqmax || ' cache=' || s.seqcache || ' cycle='"
	"       || left(s.seqcycle::text, 1)"
	" || coalesce((SELECT ' owned_by=' || quote_ident(tn.nspname) || '.'"
	"      || quote_ident(tc.relname) || '.' || quote_ident(ta.attname)"
	"      FROM pg_depend d JOIN pg_class tc ON tc.oid = d.refobjid"
	"      JOIN pg_namespace tn ON tn.oid = tc.relnamespace"
	"      JOIN pg_attribute ta ON ta.attrelid = d.refobjid AND ta.attnum = d.refobjsubid"
	"      WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid"
	"      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1), '')"
	" FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid"
	" JOIN ns n ON n.oid = c.relnamespace WHERE" NOT_EXT("pg_class", "c.oid");

/* View and matview definitions, rules other than a view's own, triggers. */
static const char sql_views[] = NS_CTE
	"SELECT 'view ' || " QREL " || ': ' || pg_get_viewdef(c.oid)"
	" || CASE WHEN c.relkind = 'm' THEN ' populated='"
	"       || left(c.relispopulated::text, 1) ELSE '' END"
	" FROM pg_class c JOIN ns n ON n.oid = c.relnamespace"
	" WHERE c.relkind IN ('v', 'm') AND" NOT_EXT("pg_class", "c.oid")
	"UNION ALL SELECT 'rule ' || " QREL " || '.' || quote_ident(r.rulename) || ': '"
	" || pg_get_ruledef(r.oid) || ' enabled=' || r.ev_enabled::text"
	" FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class"
	" JOIN ns n ON n.oid = c.relnamespace"
	" WHERE r.rulename <> '_RETURN' AND" NOT_EXT("pg_class", "c.oid")
	"UNION ALL SELECT 'trigger ' || " QREL " || '.' || quote_ident(g.tgname) || ': '"
	" || pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text"
	" FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid"
	" JOIN ns n ON n.oid = c.relnamespace"
	" WHERE NOT g.tgisinternal AND" NOT_EXT("pg_class", "c.oid");

/* Functions and procedures (whole definition), aggregates (their parts), their ACLs. */
static const char sql_functions[] = NS_CTE
	"SELECT 'function ' || quote_ident(n.nspname) || '.' || quote_ident(p.proname) || '('"
	" || pg_get_function_identity_arguments(p.oid) || '): owner='"
	" || quote_ident(pg_get_userbyid(p.proowner)) || ' '"
	" || CASE WHEN p.prokind = 'a' THEN (SELECT 'aggregate sfunc=' || a.aggtransfn"
	"      || ' stype=' || format_type(a.aggtranstype, NULL) || ' final=' || a.aggfinalfn"
	"      || ' init=' || coalesce(a.agginitval, 'NULL')"
	"      FROM pg_aggregate a WHERE a.aggfnoid = p.oid)"
	"      ELSE pg_get_functiondef(p.oid) END"
	" FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace WHERE" NOT_EXT("pg_proc", "p.oid")
	"UNION ALL SELECT 'acl function ' || quote_ident(n.nspname) || '.'"
	"       || quote_ident(p.proname)"
	" || '(' || pg_get_function_identity_arguments(p.oid) || '): ' || "
	ACL("p.proacl", "f", "p.proowner")
	" FROM pg_proc p JOIN ns n ON n.oid = p.pronamespace WHERE" NOT_EXT("pg_proc", "p.oid");

/* Row-level security policies. */
static const char sql_policies[] = NS_CTE
	"SELECT 'policy ' || " QREL " || '.' || quote_ident(p.polname) || ': cmd='"
	"       || p.polcmd::text"
	" || ' permissive=' || left(p.polpermissive::text, 1) || ' roles='"
	"       || (SELECT string_agg(CASE WHEN r = 0"
	"      THEN 'public' ELSE quote_ident(pg_get_userbyid(r)) END, ',' ORDER BY 1)"
	"      FROM unnest(p.polroles) r)"
	" || coalesce(' using=' || pg_get_expr(p.polqual, p.polrelid), '')"
	" || coalesce(' check=' || pg_get_expr(p.polwithcheck, p.polrelid), '')"
	" FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid"
	" JOIN ns n ON n.oid = c.relnamespace WHERE" NOT_EXT("pg_class", "c.oid");

/*
 * Types a user creates: enums (labels in order), domains, ranges, standalone composites,
 * base types.  Array types (another type's typarray), multiranges and table row types come
 * with their owner object and are left out.
 */
static const char sql_types[] = NS_CTE
	"SELECT 'type ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname) || ': kind='"
	" || t.typtype::text || ' owner=' || quote_ident(pg_get_userbyid(t.typowner))"
	" || CASE t.typtype"
	"    WHEN 'e' THEN ' labels=' || coalesce((SELECT string_agg(quote_literal(e.enumlabel),"
	"      ',' ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '')"
	"    WHEN 'd' THEN ' base=' || format_type(t.typbasetype, t.typtypmod)"
	"      || ' notnull=' || left(t.typnotnull::text, 1) || coalesce(' default='"
	"       || t.typdefault, '')"
	"      || CASE WHEN t.typcollation <> 0 THEN ' collation='"
	"       || (SELECT quote_ident(cn.nspname)"
	"      || '.' || quote_ident(co.collname) FROM pg_collation co JOIN pg_namespace cn"
	"      ON cn.oid = co.collnamespace WHERE co.oid = t.typcollation) ELSE '' END"
	"    WHEN 'r' THEN (SELECT ' subtype=' || format_type(r.rngsubtype, NULL)"
	"      FROM pg_range r WHERE r.rngtypid = t.oid)"
	"    ELSE '' END"
	" FROM pg_type t JOIN ns n ON n.oid = t.typnamespace"
	" WHERE t.typtype <> 'm' AND NOT EXISTS (SELECT 1 FROM pg_type o WHERE o.typarray = t.oid)"
	" AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')"
	" AND" NOT_EXT("pg_type", "t.oid")
	"UNION ALL SELECT 'acl type ' || quote_ident(n.nspname) || '.' || quote_ident(t.typname)"
	" || ': ' || " ACL("t.typacl", "T", "t.typowner")
	" FROM pg_type t JOIN ns n ON n.oid = t.typnamespace"
	" WHERE t.typtype <> 'm' AND NOT EXISTS (SELECT 1 FROM pg_type o WHERE o.typarray = t.oid)"
	" AND (t.typrelid = 0 OR (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')"
	" AND" NOT_EXT("pg_type", "t.oid");

/* Extensions (their schema must not be excluded; pg_catalog is fine: plpgsql lives there). */
static const char sql_extensions[] =
	"SELECT 'extension ' || quote_ident(x.extname) || ': version=' || x.extversion"
	" || ' schema=' || quote_ident(n.nspname)"
	" FROM pg_extension x JOIN pg_namespace n ON n.oid = x.extnamespace"
	" WHERE NOT n.nspname = ANY ($1::text[])";

/*
 * Comments on every object in a described schema (pg_identify_object names it, and its
 * schema, quoted the way PostgreSQL quotes: "table column public.\"T\".\"C\"", "table
 * constraint \"k\" on app.t"), on the described schemas themselves, and on user objects
 * outside schemas.
 */
static const char sql_comments[] = NS_CTE
	"SELECT 'comment ' || o.type || ' ' || o.identity || ': ' || d.description"
	" FROM pg_description d, LATERAL pg_identify_object(d.classoid, d.objoid, d.objsubid) o"
	" WHERE CASE WHEN d.classoid = 'pg_namespace'::regclass"
	"      THEN d.objoid IN (SELECT oid FROM ns)"
	"    WHEN o.schema IS NOT NULL THEN o.schema IN (SELECT quote_ident(nspname) FROM ns)"
	"    ELSE d.objoid >= 16384 END"
	" AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = d.classoid"
	"      AND e.objid = d.objoid AND e.deptype = 'e')";

struct snapshot_query {
	const char *what, *sql;
	int nparams; /* $1 the excluded schemas, $2 the column-order flag */
};

static const struct snapshot_query queries[] = {
	{ "schemas", sql_schemas, 1 },       { "tables", sql_tables, 1 },
	{ "columns", sql_columns, 2 },       { "constraints", sql_constraints, 1 },
	{ "indexes", sql_indexes, 1 },       { "sequences", sql_sequences, 1 },
	{ "views", sql_views, 1 },           { "functions", sql_functions, 1 },
	{ "policies", sql_policies, 1 },     { "types", sql_types, 1 },
	{ "extensions", sql_extensions, 1 }, { "comments", sql_comments, 1 },
};

/* The excluded schemas as a text[] literal: {"a","b\"c"} (array-literal quoting). */
static char *exclude_literal(const char *const *names)
{
	struct sbuf sb = SBUF_INIT;

	sbuf_adds(&sb, "{");
	for (int i = 0; names && names[i]; i++) {
		sbuf_adds(&sb, i ? ",\"" : "\"");
		for (const char *p = names[i]; *p; p++) {
			if (*p == '"' || *p == '\\')
				sbuf_add(&sb, "\\", 1);
			sbuf_add(&sb, p, 1);
		}
		sbuf_adds(&sb, "\"");
	}
	sbuf_adds(&sb, "}");
	return sbuf_detach(&sb);
}

/* One line per fact: a newline or backslash inside a definition is escaped. */
static char *escape_line(const char *s)
{
	struct sbuf sb = SBUF_INIT;

	for (; *s; s++) {
		if (*s == '\n')
			sbuf_adds(&sb, "\\n");
		else if (*s == '\r')
			sbuf_adds(&sb, "\\r");
		else if (*s == '\\')
			sbuf_adds(&sb, "\\\\");
		else
			sbuf_add(&sb, s, 1);
	}
	return sbuf_detach(&sb);
}

static int cmp_lines(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *join_lines(char **lines, size_t n)
{
	struct sbuf sb = SBUF_INIT;

	for (size_t i = 0; i < n; i++) {
		sbuf_adds(&sb, lines[i]);
		sbuf_adds(&sb, "\n");
	}
	return sbuf_detach(&sb);
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Run one query and append its lines; 0 / -1 with err set. */
static int collect(PGconn *conn, const struct snapshot_query *q, const char *const *params,
		   char ***lines, size_t *n, size_t *cap, struct pgphase_error *err)
{
	PGresult *r = PQexecParams(conn, q->sql, q->nparams, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "snapshot of %s failed: %s", q->what,
				  PQerrorMessage(conn));
		PQclear(r);
		return -1;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if (PQgetisnull(r, i, 0))
			continue; /* cannot happen with the coalesces above; never print "(null)" */
		GROW(*lines, *cap, *n + 1);
		(*lines)[(*n)++] = escape_line(PQgetvalue(r, i, 0));
	}
	PQclear(r);
	return 0;
}

static int run_plain(PGconn *conn, const char *sql, struct pgphase_error *err)
{
	PGresult *r = PQexec(conn, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		pgphase_error_set(err, PGPHASE_EXIT_FAILED, "snapshot: %s failed: %s", sql,
				  PQerrorMessage(conn));
	PQclear(r);
	return ok ? 0 : -1;
}

char *pgphase_snapshot_take(PGconn *conn, const struct pgphase_snapshot_options *opts,
			    struct pgphase_error *err)
{
	char *exclude = exclude_literal(opts ? opts->exclude_schemas : NULL);
	const char *params[2] = { exclude, opts && opts->column_order ? "true" : "false" };
	/* one consistent view of the catalogs, unless the caller is already in a transaction */
	bool own_txn = PQtransactionStatus(conn) == PQTRANS_IDLE;
	char **lines = NULL, *text = NULL;
	size_t n = 0, cap = 0;

	/* search_path pg_catalog only: every name in a definition comes out schema-qualified,
	 * whatever the caller's path (the caller's own transaction is left as it is) */
	if (own_txn && run_plain(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err) < 0)
		goto cleanup;
	if (own_txn && run_plain(conn, "SET LOCAL search_path TO pg_catalog", err) < 0)
		goto cleanup;
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++)
		if (collect(conn, &queries[i], params, &lines, &n, &cap, err) < 0)
			goto cleanup;
	qsort(lines, n, sizeof(*lines), cmp_lines);
	text = join_lines(lines, n);
cleanup:
	if (own_txn && PQtransactionStatus(conn) != PQTRANS_IDLE) {
		PGresult *r = PQexec(conn, text ? "COMMIT" : "ROLLBACK");

		PQclear(r);
	}
	free_lines(lines, n);
	free(exclude);
	return text;
}

/* Split text into a sorted array of its lines (copies). */
static char **split_sorted(const char *text, size_t *n)
{
	char **lines = NULL;
	size_t cap = 0;

	*n = 0;
	while (text && *text) {
		const char *nl = strchr(text, '\n');
		size_t len = nl ? (size_t)(nl - text) : strlen(text);

		GROW(lines, cap, *n + 1);
		lines[(*n)++] = xstrndup(text, len);
		text += len + (nl ? 1 : 0);
	}
	if (*n)
		qsort(lines, *n, sizeof(*lines), cmp_lines);
	return lines;
}

char *pgphase_snapshot_diff(const char *a, const char *b)
{
	size_t na, nb, i = 0, j = 0;
	char **la = split_sorted(a, &na), **lb = split_sorted(b, &nb);
	struct sbuf sb = SBUF_INIT;

	/* a merge of two sorted lists; equal lines pair off one to one (multiset difference) */
	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(la[i], lb[j]);

		if (c == 0) {
			i++;
			j++;
		} else if (c < 0) {
			sbuf_addf(&sb, "- %s\n", la[i++]);
		} else {
			sbuf_addf(&sb, "+ %s\n", lb[j++]);
		}
	}
	free_lines(la, na);
	free_lines(lb, nb);
	if (sb.len == 0) {
		sbuf_release(&sb);
		return NULL;
	}
	return sbuf_detach(&sb);
}
