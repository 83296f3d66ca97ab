#!/bin/sh
# Install every Debian package pgphase needs to build, test, demo and benchmark.
# Idempotent: packages already present are left alone. Must run as root (or via sudo).
set -eu

PKGS="build-essential pkg-config libpq-dev libpg-query-dev libprotobuf-c-dev \
libconfig-dev libcurl4-openssl-dev libjansson-dev libssl-dev check \
postgresql-15 postgresql-client-15 python3 procps bc \
clang libclang-rt-14-dev valgrind"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done

if [ -z "$missing" ]; then
	echo "deps: all packages present"
	exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	SUDO="sudo"
fi
echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
