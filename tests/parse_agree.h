/*
 * The one-pass parse (pgphase_sql_parse_all) must agree exactly with the scanner-based
 * path (pgphase_sql_comments + pgphase_sql_parse) on every text both accept: same
 * comments, same statements at the same positions.  Shared by check_parse and the parser
 * fuzzer.  Returns NULL when they agree (or the text does not parse), else what differs.
 */
#ifndef PGPHASE_TESTS_PARSE_AGREE_H
#define PGPHASE_TESTS_PARSE_AGREE_H

#include <pg_query.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pgphase/sql.h"

static inline const char *parse_agree(const char *text)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_comment *ca = NULL, *cb = NULL;
	struct pgphase_sql a, b;
	size_t na = 0, nb = 0;
	const char *diff = NULL;
	int ra = pgphase_sql_parse_all(&a, &ca, &na, text, "agree.sql", &err);
	int rb;

	pgphase_error_release(&err);
	rb = pgphase_sql_parse(&b, text, "agree.sql", &err);
	pgphase_error_release(&err);
	if (ra != rb) {
		diff = "one parse failed, the other did not";
		goto out;
	}
	if (ra < 0)
		goto out;
	if (pgphase_sql_comments(text, "agree.sql", &cb, &nb, &err) < 0) {
		diff = "the scanner failed on a text that parses";
		goto out;
	}
	if (na != nb)
		diff = "comment count";
	for (size_t i = 0; !diff && i < na; i++)
		if (ca[i].offset != cb[i].offset || ca[i].len != cb[i].len ||
		    ca[i].line != cb[i].line || ca[i].column != cb[i].column ||
		    ca[i].line_comment != cb[i].line_comment ||
		    ca[i].alone_on_line != cb[i].alone_on_line || ca[i].alone_after != cb[i].alone_after)
			diff = "a comment's position or kind";
	if (!diff && a.n != b.n)
		diff = "statement count";
	for (size_t i = 0; !diff && i < a.n; i++)
		if (a.stmts[i].offset != b.stmts[i].offset || a.stmts[i].len != b.stmts[i].len ||
		    a.stmts[i].line != b.stmts[i].line || a.stmts[i].column != b.stmts[i].column ||
		    a.stmts[i].end_line != b.stmts[i].end_line)
			diff = "a statement's position";
out:
	if (ra == 0)
		pgphase_sql_release(&a);
	if (rb == 0)
		pgphase_sql_release(&b);
	pgphase_error_release(&err);
	free(ca);
	free(cb);
	return diff;
}

/*
 * The tree a parse takes from libpg_query without its protobuf round trip
 * (pgphase_sql_tree_copied) must encode to exactly the bytes libpg_query itself produces
 * for text.  Returns NULL when they agree (or the text does not parse), else what differs.
 */
static inline const char *tree_agree(const char *text)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	PgQueryProtobufParseResult want;
	struct pgphase_sql sql;
	const char *diff = NULL;
	int rc = pgphase_sql_parse(&sql, text, "agree.sql", &err);
	/* refused as too deeply nested: libpg_query alone would recurse over it (and protobuf-c
	   with it) on this stack, which is what the refusal is for */
	bool deep = rc < 0 && err.message && strstr(err.message, "nested too deeply");

	pgphase_error_release(&err);
	if (deep)
		return NULL;
	want = pg_query_parse_protobuf(text);
	if ((rc < 0) != (want.error != NULL)) {
		diff = "libpg_query and pgphase_sql_parse disagree on whether the text parses";
	} else if (rc == 0) {
		size_t len = pg_query__parse_result__get_packed_size(sql.tree);
		uint8_t *got = malloc(len ? len : 1);

		pg_query__parse_result__pack(sql.tree, got);
		if (len != want.parse_tree.len)
			diff = "the encoded tree's length";
		else if (memcmp(got, want.parse_tree.data, len) != 0)
			diff = "the encoded tree's bytes";
		free(got);
		pgphase_sql_release(&sql);
	}
	pg_query_free_protobuf_parse_result(want);
	return diff;
}

#endif
