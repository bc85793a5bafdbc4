#!/usr/bin/env python3
"""punch-peer --stream over loopback UDP: files piped both ways at once, byte-identical.

Usage: peer_stream_real_test.py --broker PATH --peer PATH SIZE
Both peers send a file of SIZE bytes (different contents) at the same time; each must write
the other's file on stdout byte for byte, report the bytes each way in its --events stream
event, and exit 0. Every wait is bounded; every process is killed on the way out. Nothing
sleeps to synchronise: bob is started, and alice only once bob's registered event is out.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading

WAIT = 60.0  # seconds: 10 MiB each way on a loaded CI machine


def fail(message):
    print(f"FAIL: {message}", file=sys.stderr)
    sys.exit(1)


class Peer:
    """A punch-peer with files for stdin and stdout and its stderr lines collected."""

    def __init__(self, argv, stdin_path, stdout_path):
        self.stdin = open(stdin_path, "rb")
        self.stdout = open(stdout_path, "wb")
        self.proc = subprocess.Popen(argv, stdin=self.stdin, stdout=self.stdout, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.changed = threading.Condition()
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self):
        for line in self.proc.stderr:
            with self.changed:
                self.lines.append(line.rstrip("\n"))
                self.changed.notify_all()

    def wait_line(self, predicate, what):
        with self.changed:
            if not self.changed.wait_for(lambda: any(predicate(l) for l in self.lines), timeout=WAIT):
                fail(f"no {what} within {WAIT} s; stderr: {self.lines}")
            return next(l for l in self.lines if predicate(l))

    def events(self, name):
        out = []
        for l in self.lines:
            if l.startswith("{"):
                e = json.loads(l)
                if e.get("event") == name:
                    out.append(e)
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--peer", required=True)
    ap.add_argument("size", type=int)
    args = ap.parse_args()
    procs = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            broker = subprocess.Popen([args.broker, "--listen", "127.0.0.1:0"], stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            procs.append(broker)
            line = broker.stderr.readline()
            while line and "listening on" not in line:
                line = broker.stderr.readline()
            match = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if not match:
                fail(f"cannot read the broker's port from {line!r}")
            ep = f"127.0.0.1:{match.group(1)}"
            files = {}
            for name in ("alice", "bob"):
                path = os.path.join(tmp, f"{name}.in")
                with open(path, "wb") as f:
                    f.write(os.urandom(args.size))
                files[name] = path

            def start(name, *extra):
                argv = [args.peer, "--broker", ep, "--id", name, "--bind", "127.0.0.1:0", "--key",
                        os.path.join(tmp, f"{name}.key"), "--stream", "--events", "--timeout", "20", *extra]
                p = Peer(argv, files[name], os.path.join(tmp, f"{name}.out"))
                procs.append(p.proc)
                return p

            bob = start("bob")
            bob.wait_line(lambda l: '"event":"registered"' in l, "registered event from bob")
            alice = start("alice", "--connect", "bob")
            for name, p in (("alice", alice), ("bob", bob)):
                try:
                    code = p.proc.wait(timeout=WAIT)
                except subprocess.TimeoutExpired:
                    fail(f"{name} did not exit within {WAIT} s; stderr: {p.lines}")
                p.thread.join(timeout=WAIT)
                if code != 0:
                    fail(f"{name} exited {code}; stderr: {p.lines}")
            for name, other, p in (("alice", "bob", alice), ("bob", "alice", bob)):
                p.stdout.close()
                with open(os.path.join(tmp, f"{name}.out"), "rb") as got, open(files[other], "rb") as sent:
                    if got.read() != sent.read():
                        fail(f"{name}'s stdout is not {other}'s file of {args.size} bytes")
                done = p.events("stream")
                if len(done) != 1 or done[0]["sent"] != args.size or done[0]["received"] != args.size:
                    fail(f"{name}: stream event {done} does not say {args.size} bytes each way")
                print(f"{name}: {done[0]}")
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
    print("PASS")


if __name__ == "__main__":
    main()
