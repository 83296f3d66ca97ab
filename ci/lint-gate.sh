#!/bin/sh
# CI lint gate for a migrations directory: fails (exit 1) on error-severity findings.
# On GitHub Actions the findings become pull-request annotations (--format github).
#   PGPHASE=path/to/pgphase ci/lint-gate.sh [DIR]      (default DIR: migrations)
set -u
bin=${PGPHASE:-pgphase}
dir=${1:-migrations}
if [ -n "${GITHUB_ACTIONS:-}" ]; then
	exec "$bin" lint --format github "$dir"
fi
exec "$bin" lint "$dir"
