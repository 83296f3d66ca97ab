/*
 * Migration hygiene — over-long identifiers, transaction control in a file pgphase wraps, a
 * missing DOWN section — and the rules for problems with the file itself, which the loader
 * and the engine report (they have no check function): syntax errors, bad file names,
 * duplicate versions, unknown directives, malformed sections, and ignore directives that
 * name unknown rules or silence nothing.
 */
#include <string.h>

#include "lint.h"

/*
 * The parser truncates identifiers to 63 bytes (the scanner's NOTICE is all it says), so
 * the tree holds at most 63 bytes.  A truncated name is 60-63 bytes long (truncation stops
 * on a character boundary); only statements holding such a string are re-scanned to find
 * identifier tokens that were longer.
 */
static enum sql_walk_next may_be_truncated(ProtobufCMessage *msg, ProtobufCMessage **slot,
					    void *arg)
{
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	bool *found = arg;

	(void)slot;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *s;
		size_t len;

		if (f->type != PROTOBUF_C_TYPE_STRING || f->label == PROTOBUF_C_LABEL_REPEATED)
			continue;
		s = *(const char *const *)((const char *)msg + f->offset);
		if (!s)
			continue;
		len = strlen(s);
		if (len >= LINT_NAMEDATALEN - 4 && len < LINT_NAMEDATALEN) {
			*found = true;
			return SQL_WALK_STOP;
		}
	}
	return SQL_WALK_CONTINUE;
}

struct long_ident {
	struct pgphase_lint_ctx *ctx;
};

static void report_long(const struct pgphase_lint_stmt *st, size_t off, size_t len, void *arg)
{
	struct long_ident *li = arg;
	const char *text = st->sec->text + off;

	lint_report(li->ctx, st, (int)(off - st->base),
		    "shorten it to at most 63 bytes",
		    "identifier %.20s... is %zu bytes long: PostgreSQL silently truncates it to 63 "
		    "bytes, so the name in the catalog differs from the one written and two long "
		    "names can collide", text, len);
}

/*
 * Could the text of st spell an identifier of 64 bytes or more?  Only through a quoted
 * identifier or a run of 64 identifier bytes; most statements have neither, and skip the
 * tree walk.
 */
static bool may_hold_long_identifier(const struct pgphase_lint_stmt *st)
{
	const unsigned char *p = (const unsigned char *)st->sec->text + st->offset;
	size_t run = 0;

	for (size_t i = st->offset; i < st->end; i++, p++) {
		unsigned char c = *p;

		if (c == '"')
			return true;
		if (((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		    c == '$' || c >= 0x80) {
			if (++run >= LINT_NAMEDATALEN)
				return true;
		} else {
			run = 0;
		}
	}
	return false;
}

static void check_identifier_length(struct pgphase_lint_ctx *ctx, const struct pgphase_lint_stmt *st)
{
	struct long_ident li = { ctx };
	bool found = false;

	if (!may_hold_long_identifier(st))
		return;
	sql_tree_walk(&st->node->base, 0, may_be_truncated, &found);
	if (found)
		lint_long_identifiers(st, report_long, &li);
}

static void check_transaction_control(struct pgphase_lint_ctx *ctx,
				      const struct pgphase_lint_stmt *st)
{
	static const char *const kinds[] = {
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN] = "BEGIN",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START] = "START TRANSACTION",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT] = "COMMIT",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK] = "ROLLBACK",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT] = "SAVEPOINT",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE] = "RELEASE",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO] = "ROLLBACK TO",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE] = "PREPARE TRANSACTION",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED] = "COMMIT PREPARED",
		[PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED] = "ROLLBACK PREPARED",
	};
	unsigned k = (unsigned)st->node->transaction_stmt->kind;
	const char *kind = k < sizeof(kinds) / sizeof(kinds[0]) && kinds[k] ? kinds[k] : "transaction control";

	if (ctx->raw)
		return;
	/* a BEGIN ... COMMIT block is read, not run: pgphase's own transaction is it (src/sql/
	   txn_blocks.c); an inner block's statements get the planner's ran-as-written finding */
	if (k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN ||
	    k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START ||
	    k == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT)
		return;
	lint_report(ctx, st, -1,
		    "remove it; use -- pgphase:no-transaction for statements that must run outside "
		    "a transaction (pgphase detects most of them itself)",
		    "%s in a migration: pgphase runs each migration in its own transaction and records "
		    "it in the same commit, so an explicit %s breaks that bookkeeping and the resume point",
		    kind, kind);
}

static void check_missing_down(struct pgphase_lint_ctx *ctx, const struct pgphase_migration *m)
{
	if (!ctx->named || ctx->raw || ctx->has_down)
		return;
	lint_report_file(ctx, ctx->rule, m->file, 1, 1,
			 "add a -- DOWN section (or a .down.sql file) that reverses the UP statements",
			 "migration has no DOWN statements: \"pgphase rollback\" and \"pgphase verify\" "
			 "cannot undo it");
}

const struct pgphase_lint_rule lint_rule_identifier_too_long = {
	.id = "identifier-too-long", .severity = PGPHASE_LINT_WARNING,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "identifier longer than 63 bytes (silently truncated)",
	.check = check_identifier_length,
};
const struct pgphase_lint_rule lint_rule_transaction_control = {
	.id = "transaction-control", .severity = PGPHASE_LINT_ERROR,
	.category = PGPHASE_LINT_HYGIENE,
	.summary = "BEGIN / COMMIT / ROLLBACK in a migration pgphase wraps in a transaction",
	.node = PG_QUERY__NODE__NODE_TRANSACTION_STMT, .check = check_transaction_control,
};
const struct pgphase_lint_rule lint_rule_missing_down = {
	.id = "missing-down", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_HYGIENE,
	.summary = "migration without a DOWN section", .check_migration = check_missing_down,
};

/* Reported by the loader and the engine. */
const struct pgphase_lint_rule lint_rule_syntax_error = {
	.id = "syntax-error", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_INPUT,
	.summary = "statement PostgreSQL cannot parse (the rest of the file is still linted)",
};
const struct pgphase_lint_rule lint_rule_duplicate_version = {
	.id = "duplicate-version", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_INPUT,
	.summary = "two migrations with the same version",
};
const struct pgphase_lint_rule lint_rule_bad_file_name = {
	.id = "bad-file-name", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_INPUT,
	.summary = "near-miss migration file name (.SQL, missing '_', orphan .down.sql)",
};
const struct pgphase_lint_rule lint_rule_unknown_directive = {
	.id = "unknown-directive", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_INPUT,
	.summary = "unknown or misplaced -- pgphase: directive or {{template}}",
};
const struct pgphase_lint_rule lint_rule_malformed_migration = {
	.id = "malformed-migration", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_INPUT,
	.summary = "misplaced section or phase marker, empty UP section, bad encoding",
};
const struct pgphase_lint_rule lint_rule_ignore_unknown_rule = {
	.id = "ignore-unknown-rule", .severity = PGPHASE_LINT_ERROR, .category = PGPHASE_LINT_INPUT,
	.summary = "-- pgphase:ignore names a rule that does not exist",
};
const struct pgphase_lint_rule lint_rule_ignore_unused = {
	.id = "ignore-unused", .severity = PGPHASE_LINT_WARNING, .category = PGPHASE_LINT_INPUT,
	.summary = "-- pgphase:ignore silences nothing on its statement",
};
