/*
 * libFuzzer harness: the SQL splitter and parser wrapper (statements, positions,
 * classification, comments, deparse of every statement), and the one-pass parse must agree
 * with the scanner-based one on every input, and the tree pgphase takes from libpg_query
 * must encode to libpg_query's own bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pgphase/sql.h"
#include "../parse_agree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pgphase_error err = PGPHASE_ERROR_INIT;
	struct pgphase_comment *cs = NULL;
	struct pgphase_sql sql;
	char *text = malloc(size + 1);
	size_t n = 0;

	memcpy(text, data, size);
	text[size] = '\0';
	if (pgphase_sql_parse(&sql, text, "fuzz.sql", &err) == 0) {
		for (size_t i = 0; i < sql.n; i++) {
			char *d = pgphase_node_deparse(sql.stmts[i].node, &err);

			(void)pgphase_node_kind(sql.stmts[i].node);
			free(d);
			if (sql.stmts[i].offset + sql.stmts[i].len > strlen(text))
				abort(); /* a statement range outside the text is a bug */
		}
		pgphase_sql_release(&sql);
	}
	if (pgphase_sql_comments(text, "fuzz.sql", &cs, &n, &err) == 0)
		free(cs);
	if (parse_agree(text))
		abort(); /* the one-pass parse saw different comments or statements */
	if (tree_agree(text))
		abort(); /* the tree taken without the protobuf round trip differs */
	pgphase_error_release(&err);
	free(text);
	return 0;
}
