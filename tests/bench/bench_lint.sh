#!/bin/sh
# Linter speed (issue 3).  Two generated corpora of mixed migration statements:
#   A: 20,000 statements in one file;   B: 2,000 files x 10 statements.
# Figures, each a ratio against a baseline measured in this run:
#   pgphase lint / libpg_query parse-only of the same input   (goal <= 1.5)
#   pgphase lint / libpg_query parse + unpack into C structs   (for context)
#   pgphase lint / squawk --reporter json on the same input    (goal <= 1.0)
# The parse-only baseline is a tiny C program (pg_query_parse_protobuf on each file) built
# here; with --unpack it also unpacks each tree with protobuf-c's default allocator, the
# least a C program needs to read the tree.  squawk is installed with npm into /tmp/squawk
# when missing.  pgphase lints with --raw (every statement as written, as squawk does) and
# is timed with text and with JSON output.  Each time is the best of seven runs in CPU time
# (user + system, from wait4's rusage: tests/bench/cputime.py), the compared commands taking
# turns so that a busy machine does not skew the ratios.  Missing cc or npm skips that
# comparison with a reason.
# Usage: tests/bench/bench_lint.sh BUILD/pgphase
set -eu
bin=$1
work=$(mktemp -d /tmp/pgphase-bench-lint.XXXXXX)
trap 'rm -rf "$work"' EXIT
squawk_dir=${SQUAWK_PREFIX:-/tmp/squawk}
squawk=$squawk_dir/node_modules/@squawk-cli/linux-x64/bin/squawk

# Statement i of the corpus: ten kinds in rotation, several of them hazards.
gen() { # gen FIRST COUNT
	awk -v first="$1" -v count="$2" 'BEGIN {
	for (i = first; i < first + count; i++) {
		k = i % 10
		if (k == 0) printf "CREATE TABLE t%d (id bigint PRIMARY KEY, name text, created_at timestamptz DEFAULT now());\n", i
		else if (k == 1) printf "CREATE INDEX t%d_name_idx ON t%d (name);\n", i, i - 1
		else if (k == 2) printf "ALTER TABLE users ADD COLUMN c%d text;\n", i
		else if (k == 3) printf "ALTER TABLE orders ADD CONSTRAINT fk%d FOREIGN KEY (user_id) REFERENCES users (id);\n", i
		else if (k == 4) printf "UPDATE users SET c%d = lower(name) WHERE c%d IS NULL AND id BETWEEN %d AND %d;\n", i - 2, i - 2, i * 100, i * 100 + 99
		else if (k == 5) printf "ALTER TABLE users ALTER COLUMN c%d SET NOT NULL;\n", i - 3
		else if (k == 6) printf "CREATE INDEX CONCURRENTLY users_c%d_idx ON users (c%d);\n", i, i - 4
		else if (k == 7) printf "INSERT INTO audit (kind, detail) VALUES (%d, %s);\n", i, "'\''migration step'\''"
		else if (k == 8) printf "ALTER TABLE users DROP COLUMN IF EXISTS old%d;\n", i
		else printf "COMMENT ON TABLE t%d IS %s;\n", i - 9, "'\''generated table'\''"
	} }'
}

mkdir -p "$work/a" "$work/b"
gen 0 20000 > "$work/a/001_big.sql"
i=0
while [ $i -lt 2000 ]; do
	gen $((i * 10)) 10 > "$work/b/$(printf '%04d' $((i + 1)))_m.sql"
	i=$((i + 1))
done

# best COMMAND [:: COMMAND ...]: best CPU time (user + system) of seven runs of each, in
# milliseconds, the commands taking turns
best() { python3 "$(dirname "$0")/cputime.py" 7 "$@"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# ---- baseline: libpg_query alone ----
parse_only=
if command -v cc > /dev/null 2>&1; then
	cat > "$work/parse_only.c" <<'EOF'
/*
 * Parse each file named on the command line with libpg_query, nothing else.  With
 * --unpack first, also unpack each parse tree into protobuf-c's C structs: what any C
 * program must do before it can read the tree.
 */
#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int unpack = argc > 1 && strcmp(argv[1], "--unpack") == 0;

	for (int i = 1 + unpack; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		char *buf;
		long n;

		if (!f)
			return 2;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc((size_t)n + 1);
		if (fread(buf, 1, (size_t)n, f) != (size_t)n)
			return 2;
		buf[n] = '\0';
		fclose(f);
		PgQueryProtobufParseResult r = pg_query_parse_protobuf(buf);
		if (r.error)
			fprintf(stderr, "%s: %s\n", argv[i], r.error->message);
		else if (unpack)
			pg_query__parse_result__free_unpacked(
				pg_query__parse_result__unpack(NULL, r.parse_tree.len,
							       (const uint8_t *)r.parse_tree.data),
				NULL);
		pg_query_free_protobuf_parse_result(r);
		free(buf);
	}
	return 0;
}
EOF
	# shellcheck disable=SC2046
	if cc -O2 -o "$work/parse_only" "$work/parse_only.c" -lpg_query \
		$(pkg-config --libs libprotobuf-c) 2> "$work/cc.err"; then
		parse_only="$work/parse_only"
	else
		echo "parse-only baseline skipped: cannot build it ($(head -1 "$work/cc.err"))"
	fi
else
	echo "parse-only baseline skipped: no C compiler"
fi

# ---- squawk ----
if [ ! -x "$squawk" ]; then
	if command -v npm > /dev/null 2>&1; then
		npm install --silent --prefix "$squawk_dir" squawk-cli > "$work/npm.log" 2>&1 ||
			echo "squawk comparison skipped: npm install squawk-cli failed ($(tail -1 "$work/npm.log"))"
	else
		echo "squawk comparison skipped: npm is not installed"
	fi
fi
[ -x "$squawk" ] || squawk=

# corpus LABEL FILE_OR_DIR FILES...: time pgphase lint (text and JSON output), the
# parse-only baseline and squawk on one corpus, and print the ratios
corpus() {
	label=$1 target=$2
	shift 2
	if [ -n "$parse_only" ]; then
		# shellcheck disable=SC2046
		set -- $(best "$bin" lint --raw "$target" :: "$bin" lint --raw --format json "$target" \
			:: "$parse_only" "$@" :: "$parse_only" --unpack "$@")
		text=$1 json=$2 parse=$3 unpacked=$4
		echo "$label: pgphase lint ${text} ms (text), ${json} ms (json);" \
			"parse-only ${parse} ms: ratio text $(ratio "$text" "$parse"), json $(ratio "$json" "$parse") (goal <= 1.5);" \
			"parse + unpack ${unpacked} ms: ratio text $(ratio "$text" "$unpacked"), json $(ratio "$json" "$unpacked")"
	else
		set -- $(best "$bin" lint --raw "$target" :: "$bin" lint --raw --format json "$target")
		text=$1 json=$2
		echo "$label: pgphase lint ${text} ms (text), ${json} ms (json)"
	fi
}

# squawk LABEL TARGET FILES...: pgphase's JSON output against squawk's, same input
squawk_vs() {
	label=$1 target=$2
	shift 2
	[ -n "$squawk" ] || return 0
	# shellcheck disable=SC2046
	set -- $(best "$bin" lint --raw --format json "$target" :: "$squawk" --reporter json "$@")
	echo "$label: pgphase lint --format json ${1} ms; squawk --reporter json ${2} ms:" \
		"ratio $(ratio "$1" "$2") (goal <= 1.0)"
}

echo "times are CPU time (user + system), best of 7, commands taking turns;" \
	"--raw: every statement as written"
corpus "A: 20,000 statements, 1 file" "$work/a" "$work/a/001_big.sql"
corpus "B: 2,000 files x 10 statements" "$work/b" "$work"/b/*.sql
squawk_vs "A" "$work/a" "$work/a/001_big.sql"
squawk_vs "B" "$work/b" "$work"/b/*.sql
