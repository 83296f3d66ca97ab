#!/bin/sh
# Webhook receiver for the demo: tests/webhook_receiver.py on 127.0.0.1, recording what
# pgphase posts and checking each X-Pgphase-Signature against $PGPHASE_WEBHOOK_SECRET.
#
# Sourced by tests/demo/run.sh (in its work directory, before the first pgphase command): starts
# the receiver, sets receiver_pid (run.sh's cleanup kills it), writes ./pgphase.cfg with a webhook
# pointing at it, and defines demo_webhook_report, which shows the outbox at work (receiver
# failing, events kept, `pgphase notify` delivering them once it is back) and everything that
# arrived, with each signature checked.
#
# Run directly, it is a small tool:
#   tests/demo/webhook.sh start DIR [SCRIPT]  start a receiver in the background; prints its URL
#   tests/demo/webhook.sh script DIR SCRIPT   change its answers: "200", "500", "500,200", "stall"
#   tests/demo/webhook.sh show DIR            print the notifications it received
#   tests/demo/webhook.sh stop DIR            stop it (DIR keeps the log)

wh_receiver_py() {
	echo "$(cd "$(dirname "$1")/.." && pwd)/webhook_receiver.py"
}

# wh_start PY DIR SCRIPT PARENT: start the receiver, print its URL.
wh_start() {
	mkdir -p "$2"
	printf '%s\n' "$3" >"$2/script"
	rm -f "$2/port"
	: >"$2/log"
	if [ -n "${PGPHASE_WEBHOOK_SECRET:-}" ]; then
		python3 "$1" serve --log "$2/log" --port-file "$2/port" --script-file "$2/script" \
			--parent "$4" --lifetime 1800 --secret-env PGPHASE_WEBHOOK_SECRET \
			>"$2/receiver.out" 2>&1 &
	else
		python3 "$1" serve --log "$2/log" --port-file "$2/port" --script-file "$2/script" \
			--parent "$4" --lifetime 1800 >"$2/receiver.out" 2>&1 &
	fi
	echo $! >"$2/pid"
	wh_i=0
	while [ ! -s "$2/port" ]; do
		wh_i=$((wh_i + 1))
		if [ "$wh_i" -gt 100 ]; then
			echo "webhook receiver did not start:" >&2
			cat "$2/receiver.out" >&2
			return 1
		fi
		sleep 0.1
	done
	echo "http://127.0.0.1:$(cat "$2/port")/hook"
}

wh_show() {
	echo "webhook receiver got $(wc -l <"$2/log" | tr -d ' ') request(s):"
	python3 "$1" show "$2/log"
}

case "$0" in
*webhook.sh)
	set -eu
	wh_py=$(wh_receiver_py "$0")
	[ $# -ge 2 ] || { sed -n '11,15p' "$0" >&2; exit 2; }
	case "$1" in
	start) wh_start "$wh_py" "$2" "${3:-200}" "$PPID" ;;
	script) printf '%s\n' "${3:?script}" >"$2/script" ;;
	show) wh_show "$wh_py" "$2" ;;
	stop)
		[ -f "$2/pid" ] && kill "$(cat "$2/pid")" 2>/dev/null || true
		rm -f "$2/pid"
		;;
	*) sed -n '11,15p' "$0" >&2; exit 2 ;;
	esac
	;;
*)
	# sourced by tests/demo/run.sh: $here is tests/demo, $bin the pgphase binary
	wh_py="$here/../webhook_receiver.py"
	wh_dir="$(pwd)/webhook-receiver"
	PGPHASE_WEBHOOK_SECRET="demo-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')"
	export PGPHASE_WEBHOOK_SECRET
	wh_url=$(wh_start "$wh_py" "$wh_dir" 200 $$)
	receiver_pid=$(cat "$wh_dir/pid")
	cat >pgphase.cfg <<CFG
# written by tests/demo/webhook.sh: every phase event is posted, signed, to the demo receiver
migrations = "migrations";
webhooks = ( { url = "$wh_url"; secret_env = "PGPHASE_WEBHOOK_SECRET";
               timeout = "2s"; max_attempts = 3; } );
CFG
	printf 'webhook receiver listening on %s (signatures checked)\n' "$wh_url"

	demo_webhook_report() {
		wh_say() { if command -v step >/dev/null 2>&1; then step "$@"; else printf '\n$ %s\n' "$*"; fi; }
		printf '\n# the receiver now fails (HTTP 500): the run still succeeds, events wait in the outbox\n'
		printf '500\n' >"$wh_dir/script"
		wh_say pgphase rollback --steps 1; "$bin" rollback --steps 1
		wh_say pgphase notify;             "$bin" notify || echo "(exit $?: still undelivered)"
		printf '\n# the receiver is back\n'
		printf '200\n' >"$wh_dir/script"
		wh_say pgphase notify;             "$bin" notify
		wh_say pgphase history --limit 2;  "$bin" history --limit 2
		wh_say "# every request the receiver got (retries carry the same delivery id)"
		wh_show "$wh_py" "$wh_dir"
	}
	;;
esac
