# Shared by tests/pg.sh and tests/replica.sh (sourced, not run).
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}

# Run a server binary as the postgres OS user when we are root (PostgreSQL refuses root).
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# A free TCP port on 127.0.0.1.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Create DIR for the server's files: owned by postgres when we are root, mode 700.
private_dir() {
	mkdir -p "$1"
	[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$1"
	chmod 700 "$1"
}
