/*
 * The rule registry: every lint rule, in the order `pgphase lint --list-rules` prints them
 * (destructive, breaking, blocking, hygiene, input).  Rule ids are stable: CI configs,
 * `-- pgphase:ignore` comments and SARIF baselines refer to them.
 *
 * To add a rule:
 *   1. Write it in lint/rule_<family>.c as
 *        const struct pgphase_lint_rule lint_rule_<id> = { .id = "<id>", .severity = ...,
 *            .category = ..., .summary = "...", .node = PG_QUERY__NODE__NODE_..., .check = ... };
 *      with everything else in the file static.  The check reads st->node (never SQL text)
 *      and calls lint_report() with the lock taken (or data lost) and a safe alternative.
 *   2. Declare it below and add it to pgphase_lint_rules[] in its category.
 *   3. Add tests/lint/<id>.sql with the expected findings in tests/lint/<id>.expected,
 *      including statements that must not fire.
 *   4. List it in the README's rule table.
 */
#include <string.h>

#include "lint.h"

extern const struct pgphase_lint_rule
	/* destructive */
	lint_rule_drop_table, lint_rule_drop_column, lint_rule_drop_schema, lint_rule_drop_database,
	lint_rule_drop_object, lint_rule_drop_constraint, lint_rule_drop_not_null, lint_rule_truncate,
	lint_rule_update_without_where, lint_rule_delete_without_where,
	/* breaks the running app */
	lint_rule_rename_column, lint_rule_rename_table, lint_rule_rename_schema,
	lint_rule_rename_enum_value, lint_rule_add_required_column, lint_rule_change_column_type,
	/* blocks or rewrites */
	lint_rule_create_index, lint_rule_drop_index, lint_rule_concurrently_in_transaction,
	lint_rule_reindex, lint_rule_add_foreign_key, lint_rule_add_check,
	lint_rule_validate_in_same_transaction, lint_rule_add_unique_constraint,
	lint_rule_add_primary_key, lint_rule_add_exclusion_constraint, lint_rule_add_column_unique,
	lint_rule_set_not_null, lint_rule_add_column_volatile_default, lint_rule_add_column_rewrite,
	lint_rule_vacuum_full, lint_rule_cluster, lint_rule_lock_table, lint_rule_set_logged,
	lint_rule_set_tablespace, lint_rule_refresh_materialized_view, lint_rule_detach_partition,
	lint_rule_attach_partition, lint_rule_enum_value_ordering,
	/* hygiene */
	lint_rule_json_column, lint_rule_prefer_timestamptz, lint_rule_prefer_bigint,
	lint_rule_prefer_identity, lint_rule_prefer_text, lint_rule_ban_char,
	lint_rule_identifier_too_long, lint_rule_duplicate_column_assignment,
	lint_rule_transaction_control, lint_rule_domain_with_constraint, lint_rule_missing_down,
	lint_rule_fk_without_index, lint_rule_unbatched_data_change,
	lint_rule_backfill_not_idempotent, lint_rule_destructive_in_expand,
	lint_rule_ran_as_written;

const struct pgphase_lint_rule *const pgphase_lint_rules[] = {
	&lint_rule_drop_table,
	&lint_rule_drop_column,
	&lint_rule_drop_schema,
	&lint_rule_drop_database,
	&lint_rule_drop_object,
	&lint_rule_drop_constraint,
	&lint_rule_drop_not_null,
	&lint_rule_truncate,
	&lint_rule_update_without_where,
	&lint_rule_delete_without_where,

	&lint_rule_rename_column,
	&lint_rule_rename_table,
	&lint_rule_rename_schema,
	&lint_rule_rename_enum_value,
	&lint_rule_add_required_column,
	&lint_rule_change_column_type,

	&lint_rule_create_index,
	&lint_rule_drop_index,
	&lint_rule_concurrently_in_transaction,
	&lint_rule_reindex,
	&lint_rule_add_foreign_key,
	&lint_rule_add_check,
	&lint_rule_validate_in_same_transaction,
	&lint_rule_add_unique_constraint,
	&lint_rule_add_primary_key,
	&lint_rule_add_exclusion_constraint,
	&lint_rule_add_column_unique,
	&lint_rule_set_not_null,
	&lint_rule_add_column_volatile_default,
	&lint_rule_add_column_rewrite,
	&lint_rule_vacuum_full,
	&lint_rule_cluster,
	&lint_rule_lock_table,
	&lint_rule_set_logged,
	&lint_rule_set_tablespace,
	&lint_rule_refresh_materialized_view,
	&lint_rule_detach_partition,
	&lint_rule_attach_partition,
	&lint_rule_enum_value_ordering,

	&lint_rule_json_column,
	&lint_rule_prefer_timestamptz,
	&lint_rule_prefer_bigint,
	&lint_rule_prefer_identity,
	&lint_rule_prefer_text,
	&lint_rule_ban_char,
	&lint_rule_identifier_too_long,
	&lint_rule_duplicate_column_assignment,
	&lint_rule_transaction_control,
	&lint_rule_domain_with_constraint,
	&lint_rule_missing_down,
	&lint_rule_fk_without_index,
	&lint_rule_unbatched_data_change,
	&lint_rule_backfill_not_idempotent,
	&lint_rule_destructive_in_expand,
	&lint_rule_ran_as_written,

	&lint_rule_syntax_error,
	&lint_rule_duplicate_version,
	&lint_rule_bad_file_name,
	&lint_rule_unknown_directive,
	&lint_rule_malformed_migration,
	&lint_rule_ignore_unknown_rule,
	&lint_rule_ignore_unused,
	NULL,
};

const struct pgphase_lint_rule *pgphase_lint_rule_find(const char *id)
{
	for (size_t i = 0; pgphase_lint_rules[i]; i++)
		if (strcmp(pgphase_lint_rules[i]->id, id) == 0)
			return pgphase_lint_rules[i];
	return NULL;
}
