#!/bin/sh
# make install PREFIX=…: binary, libraries, headers and pkg-config file land where expected,
# and a program built against the installed pgphase.pc links and runs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
prefix=$(mktemp -d /tmp/pgphase-install.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
make -s -C "$top" install PREFIX="$prefix" >/dev/null
for f in bin/pgphase lib/libpgphase.a lib/libpgphase.so include/pgphase/migration.h \
	 include/pgphase/sql.h lib/pkgconfig/pgphase.pc; do
	[ -e "$prefix/$f" ] || { echo "install: missing $f" >&2; exit 1; }
done
"$prefix/bin/pgphase" --version | grep -q '^pgphase ' || { echo "install: bad --version" >&2; exit 1; }
cat > "$prefix/use.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <pgphase/migration.h>
int main(void)
{
	char hex[65];
	pgphase_sha256_hex("abc", 3, hex);
	return strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0;
}
C
PKG_CONFIG_PATH="$prefix/lib/pkgconfig" cc -o "$prefix/use" "$prefix/use.c" \
	$(PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --cflags --libs pgphase)
LD_LIBRARY_PATH="$prefix/lib" "$prefix/use" || { echo "install: linked program failed" >&2; exit 1; }
echo "install test: ok ($prefix)"
