#!/bin/sh
# Copy one project's migration directory out of a git mirror into the corpus.
#
#   export.sh GITDIR PATH KIND LICENSE URL DEST
#
# GITDIR is a bare mirror (such as /work/.mirror/owner+name/repo), PATH the migrations
# directory inside it at HEAD. DEST/src receives the files as they are, DEST/SOURCE records
# project, URL, commit, path, kind (see layout.py) and license. Test tooling, not pgphase.
set -eu
gitdir=$1 path=$2 kind=$3 license=$4 url=$5 dest=$6
commit=$(git -C "$gitdir" rev-parse HEAD)
rm -rf "$dest/src"
mkdir -p "$dest/src"
git -C "$gitdir" archive "$commit" "$path" | tar -x -C "$dest/src" --strip-components="$(echo "$path" | awk -F/ '{print NF}')"
cat >"$dest/SOURCE" <<SRC
project=$(basename "$dest")
url=$url
commit=$commit
path=$path
kind=$kind
license=$license
SRC
echo "$dest: $(find "$dest/src" -type f | wc -l) files from $url@$commit:$path"
