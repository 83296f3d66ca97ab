-- The schema of the current database as sorted text lines, one fact per line, for
-- tests/realdirs/run.sh (a fast stand-in for pg_dump --schema-only; pgphase's state schema,
-- pg_catalog, information_schema and toast schemas left out). Test tooling, not pgphase.
WITH ns AS (
	SELECT oid, nspname FROM pg_namespace
	WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pgphase')
	AND nspname NOT LIKE 'pg\_toast%' AND nspname NOT LIKE 'pg\_temp%'
), rel AS (
	SELECT c.oid, c.relkind, c.relname, c.relacl, c.relrowsecurity, c.relpersistence,
		c.relreplident, c.oid::regclass::text AS qname
	FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
)
SELECT line FROM (
	SELECT 'schema ' || quote_ident(nspname) AS line FROM ns
	UNION ALL
	SELECT 'relation ' || qname || ' kind=' || relkind::text || ' persistence=' || relpersistence::text
		|| ' rls=' || relrowsecurity::text || ' replident=' || relreplident::text
		|| coalesce(' acl=' || relacl::text, '')
	FROM rel WHERE relkind NOT IN ('i', 'I', 'S', 'c', 't')
	UNION ALL
	SELECT 'column ' || r.qname || '.' || quote_ident(a.attname) || ': '
		|| format_type(a.atttypid, a.atttypmod)
		|| CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
		|| coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
		|| CASE WHEN a.attidentity <> '' THEN ' identity=' || a.attidentity::text ELSE '' END
		|| CASE WHEN a.attgenerated <> '' THEN ' generated' ELSE '' END
		|| CASE WHEN a.attcollation <> 0 AND a.attcollation <> t.typcollation
			THEN ' collate ' || a.attcollation::regcollation::text ELSE '' END
		|| CASE WHEN a.attstattarget >= 0 THEN ' stats=' || a.attstattarget ELSE '' END
		|| coalesce(' acl=' || a.attacl::text, '')
	FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	JOIN pg_type t ON t.oid = a.atttypid
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
	WHERE r.relkind IN ('r', 'p', 'v', 'm', 'f')
	UNION ALL
	SELECT 'column order ' || r.qname || ': '
		|| string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum)
	FROM rel r JOIN pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
	WHERE r.relkind IN ('r', 'p') GROUP BY r.qname
	UNION ALL
	SELECT 'constraint ' || r.qname || '.' || quote_ident(c.conname) || ': '
		|| pg_get_constraintdef(c.oid)
		|| CASE WHEN NOT c.convalidated THEN ' [NOT VALID]' ELSE '' END
	FROM pg_constraint c JOIN rel r ON r.oid = c.conrelid
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
		|| CASE WHEN NOT i.indisvalid THEN ' [INVALID]' ELSE '' END
	FROM pg_index i JOIN rel r ON r.oid = i.indrelid
	UNION ALL
	SELECT 'trigger ' || pg_get_triggerdef(g.oid) || ' enabled=' || g.tgenabled::text
	FROM pg_trigger g JOIN rel r ON r.oid = g.tgrelid WHERE NOT g.tgisinternal
	UNION ALL
	SELECT 'view ' || qname || ': ' || regexp_replace(pg_get_viewdef(oid), '\s+', ' ', 'g')
	FROM rel WHERE relkind IN ('v', 'm')
	UNION ALL
	SELECT 'sequence ' || qname FROM rel WHERE relkind = 'S'
	UNION ALL
	SELECT 'function ' || p.oid::regprocedure::text || ' returns '
		|| pg_get_function_result(p.oid) || ' md5=' || md5(coalesce(p.prosrc, ''))
		|| coalesce(' acl=' || p.proacl::text, '')
	FROM pg_proc p JOIN ns ON ns.oid = p.pronamespace
	WHERE NOT EXISTS (SELECT 1 FROM pg_depend dp WHERE dp.objid = p.oid AND dp.deptype = 'e')
	UNION ALL
	SELECT 'type ' || format_type(t.oid, NULL) || ' ' || t.typtype::text
		|| coalesce(' (' || (SELECT string_agg(quote_literal(e.enumlabel), ', '
			ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid) || ')', '')
	FROM pg_type t JOIN ns ON ns.oid = t.typnamespace
	WHERE t.typtype IN ('e', 'd', 'r', 'm')
	   OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c')
	UNION ALL
	SELECT 'policy ' || r.qname || '.' || quote_ident(p.polname) || ' cmd=' || p.polcmd::text
		|| coalesce(' using=' || pg_get_expr(p.polqual, p.polrelid), '')
		|| coalesce(' check=' || pg_get_expr(p.polwithcheck, p.polrelid), '')
	FROM pg_policy p JOIN rel r ON r.oid = p.polrelid
	UNION ALL
	SELECT 'extension ' || extname FROM pg_extension
	UNION ALL
	SELECT 'comment ' || d.classoid::regclass::text || ' ' || coalesce(r.qname, d.objoid::text)
		|| CASE WHEN d.objsubid > 0 THEN '.' || d.objsubid ELSE '' END || ': ' || d.description
	FROM pg_description d LEFT JOIN rel r ON d.classoid = 'pg_class'::regclass
		AND r.oid = d.objoid
	WHERE d.classoid = 'pg_class'::regclass AND r.oid IS NOT NULL
) s ORDER BY line COLLATE "C";
