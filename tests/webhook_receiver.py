#!/usr/bin/env python3
"""A webhook receiver for pgphase's tests and demo: records every request, answers as told.

  webhook_receiver.py serve --log FILE --port-file FILE [--port N] [--script-file FILE]
                            [--secret-env NAME] [--parent PID] [--lifetime SECONDS]
  webhook_receiver.py show LOG

serve listens on 127.0.0.1 (port 0: a free one, written to --port-file once listening) and
appends one JSON line per request to --log *before* answering: {"n", "t", "method", "path",
"headers", "body", "action", "signature"}.  How to answer comes from --script-file, re-read
on every request so a test can change it while the receiver runs: comma-separated actions,
the n-th request gets the n-th action, the last one repeats (no file: "200").

  200, 404, 500, ...  answer with that status and a short body
  429:N, 503:N        that status with "Retry-After: N"
  stall               read the request, never answer, wait until the client goes away
  huge                200 with a 10 MB body
  noclose             200 announcing a longer body than it sends, connection kept open
  redirect            302 to another host (http://redirect-target.invalid/)
  hangup              close the connection without answering

With --secret-env NAME the receiver checks X-Pgphase-Signature against the secret in that
variable and records "ok", "bad" or "missing".  It exits when --parent dies or after
--lifetime seconds, so a failed test never leaves it behind.  Python 3 standard library only.
"""
import argparse
import hashlib
import hmac
import json
import os
import select
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HUGE = 10 * 1024 * 1024
HOLD_MAX = 120.0


class Receiver(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, opts):
        super().__init__(addr, Handler)
        self.opts = opts
        self.count = 0
        self.lock = threading.Lock()

    def next_action(self):
        """Number this request and pick its action from the script file."""
        with self.lock:
            self.count += 1
            n = self.count
        script = "200"
        if self.opts.script_file:
            try:
                with open(self.opts.script_file) as f:
                    script = f.read().strip() or "200"
            except OSError:
                pass
        actions = [a.strip() for a in script.split(",") if a.strip()] or ["200"]
        return n, actions[min(n, len(actions)) - 1]

    def record(self, entry):
        with self.lock:
            with open(self.opts.log, "a") as f:
                f.write(json.dumps(entry) + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def signature(self, body):
        name = self.server.opts.secret_env
        if not name:
            return None
        got = self.headers.get("X-Pgphase-Signature")
        if not got:
            return "missing"
        secret = os.environ.get(name, "").encode()
        signed = (self.headers.get("X-Pgphase-Timestamp", "") + ".").encode() + body
        want = "sha256=" + hmac.new(secret, signed, hashlib.sha256).hexdigest()
        return "ok" if hmac.compare_digest(want, got) else "bad"

    def hold(self):
        """Keep the connection open, answering nothing, until the client goes away."""
        end = time.time() + HOLD_MAX
        while time.time() < end:
            r, _, _ = select.select([self.connection], [], [], 0.2)
            if r:
                try:
                    if not self.connection.recv(4096):
                        return
                except OSError:
                    return
        self.close_connection = True

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        n, action = self.server.next_action()
        self.server.record({
            "n": n, "t": time.time(), "method": self.command, "path": self.path,
            "headers": {k: v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"), "action": action,
            "signature": self.signature(body),
        })
        self.close_connection = True
        try:
            self.answer(action)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def answer(self, action):
        w = self.wfile
        if action == "stall":
            self.hold()
        elif action == "hangup":
            return
        elif action == "huge":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                    b"Content-Length: %d\r\n\r\n" % HUGE)
            chunk = b"x" * 65536
            for _ in range(HUGE // len(chunk)):
                w.write(chunk)
        elif action == "noclose":
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\npartial")
            w.flush()
            self.hold()
        elif action == "redirect":
            self.send_response(302)
            self.send_header("Location", "http://redirect-target.invalid/hook")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            status, _, retry = action.partition(":")
            text = b"answer %s\n" % status.encode()
            self.send_response(int(status))
            if retry:
                self.send_header("Retry-After", retry)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(text)))
            self.end_headers()
            w.write(text)


def watch(parent, lifetime):
    end = time.time() + lifetime
    while time.time() < end:
        if parent:
            try:
                os.kill(parent, 0)
            except OSError:
                break
        time.sleep(0.2)
    os._exit(0)


def serve(opts):
    srv = Receiver(("127.0.0.1", opts.port), opts)
    threading.Thread(target=watch, args=(opts.parent, opts.lifetime), daemon=True).start()
    tmp = opts.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, opts.port_file)
    srv.serve_forever()


def show(log):
    """One line per request received: what it was and whether its signature held."""
    try:
        lines = open(log).read().splitlines()
    except OSError:
        lines = []
    if not lines:
        print("  (no notifications received)")
    for line in lines:
        r = json.loads(line)
        h = r["headers"]
        try:
            b = json.loads(r["body"])
        except ValueError:
            b = {}
        if "text" in b:
            what = b["text"]
        else:
            m = b.get("migration") or {}
            what = " ".join(str(x) for x in (b.get("type"), b.get("phase") or "",
                                              m.get("file") or "", b.get("status")) if x)
        sig = {"ok": "signature ok", "bad": "SIGNATURE BAD", "missing": "unsigned",
               None: ""}[r.get("signature")]
        print("  #%d %-60s delivery %s %s -> %s" % (r["n"], what, h.get("X-Pgphase-Delivery", "?")[:8],
                                                   sig, r["action"]))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--log", required=True)
    s.add_argument("--port-file", required=True)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--script-file")
    s.add_argument("--secret-env")
    s.add_argument("--parent", type=int, default=0)
    s.add_argument("--lifetime", type=float, default=600.0)
    sh = sub.add_parser("show")
    sh.add_argument("log")
    opts = p.parse_args()
    if opts.cmd == "serve":
        serve(opts)
    else:
        show(opts.log)


if __name__ == "__main__":
    sys.exit(main())
