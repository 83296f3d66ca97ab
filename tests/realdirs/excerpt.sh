#!/bin/sh
# Copy the first N migrations of a corpus project (after run.sh or layout.py renamed them
# into PROJECTDIR/pgphase) into tests/fixtures/real/NAME/migrations, with a NOTICE naming the
# project, URL, commit, license and every original file, and the project's license text
# (read from the git mirror the corpus was exported from). Contents are not modified.
#
#   excerpt.sh PROJECTDIR N [NAME]
set -eu
proj=$1 n=$2
name=${3:-$(basename "$proj")}
here=$(cd "$(dirname "$0")" && pwd)
dest=$here/../fixtures/real/$name
src() { sed -n "s/^$1=//p" "$proj/SOURCE"; }
rm -rf "$dest"
mkdir -p "$dest/migrations"
head -n "$n" "$proj/pgphase/files.tsv" | while IFS='	' read -r file orig mode; do
	cp "$proj/pgphase/$file" "$dest/migrations/"
	case "$file" in *.up.sql) cp "$proj/pgphase/${file%.up.sql}.down.sql" "$dest/migrations/" ;; esac
done
{
	echo "Excerpt of $(src url) (commit $(src commit)), $(src path)/"
	echo "License: $(src license) (the project's; see its repository). Written by $(src kind)."
	echo "Files were only renamed into pgphase's layout (NNNN_name.sql, .up/.down pairs);"
	echo "their contents are unmodified, except that a goose/dbmate/sql-migrate file keeps"
	if grep -q '\.up\.sql	' "$proj/pgphase/files.tsv"; then
		echo "only its Up section. Each NNNN_name.down.sql is the original's down file of the same"
		printf '%s %s\n' "name (up.sql -> down.sql), also unmodified; tests/check_realdirs.c" \
			"runs them newest first"
		printf '%s %s\n' "(psql against pgphase rollback). Used by tests/check_realdirs.c." \
			"Files (new name <- original):"
	else
		echo "only its Up section. Used by tests/check_realdirs.c. Files (new name <- original):"
	fi
	head -n "$n" "$proj/pgphase/files.tsv" | while IFS='	' read -r file orig mode; do
		echo "  $file <- $orig"
	done
} >"$dest/NOTICE"
# the project's license text travels with the excerpt
mirror=/work/.mirror/$(src url | sed 's#https://github.com/##; s#/#+#')/repo
for lic in LICENSE LICENSE-MIT LICENSE.md; do
	if git -C "$mirror" cat-file -e "$(src commit):$lic" 2>/dev/null; then
		git -C "$mirror" show "$(src commit):$lic" >"$dest/LICENSE"
		break
	fi
done
[ -f "$dest/LICENSE" ] || echo "excerpt.sh: no license file found in $mirror" >&2
find "$dest" -type f -printf '%s\n' | awk '{s += $1} END {print s " bytes"}'

