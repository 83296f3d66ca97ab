/*
 * A file's own BEGIN ... COMMIT.  pgphase runs a migration in one transaction of its own (it
 * commits the state row with the changes), so the file's transaction control is read, not
 * run: `psql -1` on the same file does the same (its BEGIN inside the -1 transaction is a
 * warning, and on success everything commits).  Prisma writes BEGIN ... COMMIT around an
 * enum change in the middle of a file; golang-migrate and Atlas users wrap whole files.
 *
 *   - a block that is the whole section (first and last statement) is a wrapper: both
 *     statements are skipped, the rest is planned as usual;
 *   - a block inside the section: BEGIN and COMMIT are skipped and the statements between
 *     them run as written, in place, together (the file asked for exactly those to be
 *     atomic; pgphase's phases must not pull them apart);
 *   - a BEGIN never closed takes the rest of the section; a COMMIT closing nothing is
 *     accepted only as the last statement (it ends psql's -1 transaction, nothing follows);
 *   - ROLLBACK, SAVEPOINT, RELEASE, ROLLBACK TO, PREPARE TRANSACTION, COMMIT/ROLLBACK
 *     PREPARED, and a BEGIN inside a block, are refused with their position (exit 2): their
 *     meaning cannot be kept inside pgphase's one transaction.
 *
 * This module only classifies; the planner and rollback act on the roles.
 */
#include <stdlib.h>

#include "pgphase/sql.h"

static const char *kind_name(PgQuery__TransactionStmtKind k)
{
	switch (k) {
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
		return "ROLLBACK";
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
		return "SAVEPOINT";
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
		return "RELEASE";
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
		return "ROLLBACK TO";
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
		return "PREPARE TRANSACTION";
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
		return "COMMIT PREPARED";
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED:
		return "ROLLBACK PREPARED";
	default:
		return "BEGIN";
	}
}

static int refuse(const struct pgphase_stmt *st, const char *file, const char *what,
		  struct pgphase_error *err)
{
	pgphase_error_at(err, PGPHASE_EXIT_USAGE, "transaction-control", file, st->line,
			 st->column, "%s in a migration: pgphase runs each migration in one "
			 "transaction of its own and cannot keep its meaning", what);
	pgphase_error_hint(err, "a BEGIN ... COMMIT block is accepted (its statements run as "
				"written, together); remove ROLLBACK/SAVEPOINT, or split the "
				"migration where the file commits");
	return -1;
}

static void mark_inside(const struct pgphase_sql *sql, size_t from, size_t to,
			struct pgphase_txn_role *roles)
{
	for (size_t k = from; k < to; k++) {
		roles[k].kind = PGPHASE_TXN_ROLE_INSIDE;
		roles[k].begin_line = sql->stmts[from - 1].line;
	}
}

int pgphase_sql_txn_roles(const struct pgphase_sql *sql, const char *file,
			  struct pgphase_txn_role **out, struct pgphase_error *err)
{
	struct pgphase_txn_role *roles = calloc(sql->n ? sql->n : 1, sizeof(*roles));
	size_t open = 0; /* index of the open BEGIN + 1, 0 when none */

	if (!roles)
		abort();
	*out = NULL;
	for (size_t i = 0; i < sql->n; i++) {
		const struct pgphase_stmt *st = &sql->stmts[i];
		PgQuery__TransactionStmtKind k;

		if (!st->transaction_control)
			continue;
		k = st->node->transaction_stmt->kind;
		if (k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN ||
		    k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START) {
			if (open) {
				free(roles);
				return refuse(st, file, "BEGIN inside a BEGIN ... COMMIT block", err);
			}
			roles[i].kind = PGPHASE_TXN_ROLE_BOUNDARY;
			open = i + 1;
		} else if (k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT) {
			if (!open && i + 1 != sql->n) {
				free(roles);
				return refuse(st, file, "COMMIT with statements after it and no BEGIN",
					      err);
			}
			roles[i].kind = PGPHASE_TXN_ROLE_BOUNDARY;
			if (open && !(open == 1 && i + 1 == sql->n))
				mark_inside(sql, open, i, roles);
			open = 0;
		} else {
			free(roles);
			return refuse(st, file, kind_name(k), err);
		}
	}
	if (open > 1) /* never closed: psql -1 keeps the rest in its transaction */
		mark_inside(sql, open, sql->n, roles);
	*out = roles;
	return 0;
}
