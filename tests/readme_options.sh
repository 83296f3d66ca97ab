#!/bin/sh
# Rewrite README.md's option lists from the option table (src/base/options.c): the text
# between "<!-- pgphase --help=F -->" and "<!-- end -->" becomes the output of
# `pgphase --help=F`.  tests/check_options.c fails while they differ.
# Usage: tests/readme_options.sh [path/to/pgphase]   (default build/pgphase)
set -eu
cd "$(dirname "$0")/.."
bin=${1:-build/pgphase}
tmp=$(mktemp)
awk -v bin="$bin" '
/^<!-- pgphase --help=[a-z-]+ -->$/ {
	print; fflush()
	fmt = $0; sub(/^<!-- pgphase --help=/, "", fmt); sub(/ -->$/, "", fmt)
	if (system(bin " --help=" fmt) != 0) exit 1
	skip = 1; next
}
/^<!-- end -->$/ { skip = 0 }
!skip { print; fflush() }
' README.md > "$tmp"
cat "$tmp" > README.md
rm -f "$tmp"
