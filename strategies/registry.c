/*
 * The strategy registry: every zero-downtime rewrite, NULL-terminated, in the order the
 * planner asks them (the first match wins).  Specific strategies come before general ones:
 * DROP INDEX before the generic destructive-statement deferral, the volatile-default column
 * before the required column (it also handles NOT NULL).
 *
 * To add a strategy: see the steps at the top of strategies/strategy.h.
 */
#include "strategy.h"

const struct pgphase_strategy *const pgphase_strategies[] = {
	&strategy_create_index_concurrently,
	&strategy_drop_index_concurrently,
	&strategy_add_foreign_key_not_valid,
	&strategy_add_check_not_valid,
	&strategy_set_not_null_via_check,
	&strategy_add_column_volatile_default,
	&strategy_add_required_column,
	&strategy_add_unique_using_index,
	&strategy_defer_destructive_to_contract,
	&strategy_rename_column_via_sync_trigger,
	&strategy_rename_table_via_view,
	&strategy_change_column_type_via_shadow_column,
	&strategy_data_change_to_backfill,
	NULL,
};
