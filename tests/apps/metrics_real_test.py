#!/usr/bin/env python3
"""The --metrics endpoint of punch-broker and punch-relay, as real processes on loopback.

Usage: metrics_real_test.py --broker PATH --relay PATH SCENARIO
Each scenario is one CTest test (see CMakeLists.txt). Every wait is bounded; nothing sleeps to
synchronise: a counter is awaited by scraping until it reaches its value (or the bound passes).
The processes are killed on the way out, whatever happens. A scenario that needs promtool
prints "SKIPPED: ..." and exits 0 where it is absent (CTest's SKIP_REGULAR_EXPRESSION).
"""
import argparse
import os
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peer_real_test import Failure, check, run_scenario  # noqa: E402

WAIT = 10.0  # seconds: the longest any single step may take on a loaded CI machine
HTTP_TIMEOUT = 5.0  # the endpoint's own timeout for a silent client (metrics_limits::timeout)
EXPOSITION_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Server:
    """punch-broker or punch-relay, started with --metrics on port 0; its first two stderr
    lines say where it serves UDP and HTTP."""

    running = []

    def __init__(self, path, *extra):
        self.proc = subprocess.Popen([path, "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", *extra],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        Server.running.append(self)
        self.lines = []
        self.udp = self.http = None
        deadline = time.monotonic() + WAIT
        # The two lines come at once at start-up; readline() returns at the end of the stream.
        while (self.udp is None or self.http is None) and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.lines.append(line.rstrip("\n"))
            if m := re.search(r"listening on 127\.0\.0\.1:(\d+)", line):
                self.udp = ("127.0.0.1", int(m.group(1)))
            if m := re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line):
                self.http = ("127.0.0.1", int(m.group(1)))
        check(self.udp and self.http, f"{path} did not say where it listens: {self.lines}")
        # Drained from now on, so that its log never fills the pipe and blocks it.
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
        self.proc.wait()


def http_exchange(address, request, timeout=WAIT):
    """Sends `request` (bytes) and reads until the server closes or one whole answer came:
    (status or None when closed without an answer, headers dict, body)."""
    with socket.create_connection(address, timeout=timeout) as s:
        try:
            s.sendall(request)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we sent (a request over the limit): what was answered is read below
        data = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                if length and len(body) >= int(length.group(1)):
                    break
    if not data:
        return None, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}
    return status, headers, body


def scrape(server):
    status, headers, body = http_exchange(server.http, b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    check(status == 200, f"GET /metrics: status {status}")
    check(headers.get("content-type") == EXPOSITION_TYPE, f"GET /metrics: content type {headers}")
    return body.decode()


def scrape_retrying(server):
    """A scrape, tried again while the endpoint is still full of closing connections (bounded)."""
    deadline = time.monotonic() + WAIT
    while True:
        try:
            return scrape(server)
        except (Failure, OSError, IndexError):
            if time.monotonic() > deadline:
                raise


def value(text, series):
    """The sample of `series` (name with its labels, as written) in an exposition text."""
    m = re.search(r"^" + re.escape(series) + r" (\S+)$", text, re.M)
    check(m, f"no sample {series} in:\n{text}")
    return float(m.group(1))


def scrape_until(server, series, wanted):
    """Scrapes until `series` reaches `wanted` (bounded); the samples seen, in order."""
    seen = []
    deadline = time.monotonic() + WAIT
    while True:
        text = scrape(server)
        seen.append(value(text, series))
        if seen[-1] >= wanted or time.monotonic() > deadline:
            check(seen[-1] == wanted, f"{series}: wanted {wanted}, scrapes saw {seen[-20:]}")
            return text, seen


def binding_request():
    return struct.pack("!HHI", 0x0001, 0, 0x2112A442) + os.urandom(12)


def send_bindings(server, count, window=32):
    """Sends `count` STUN Binding requests, `window` in flight, each answered (Binding success,
    same transaction) before the next goes: the broker handled every one of them."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(WAIT)
    try:
        sent = 0
        waiting = set()
        while sent < count or waiting:
            while sent < count and len(waiting) < window:
                req = binding_request()
                waiting.add(req[8:20])
                s.sendto(req, server.udp)
                sent += 1
            answer = s.recv(2048)
            check(answer[:2] == b"\x01\x01", f"not a Binding success: {answer[:4].hex()}")
            waiting.discard(answer[8:20])
    finally:
        s.close()


class BindingProbe:
    """Sends one Binding at a time from its own thread until stopped; each must be answered
    within a second. The UDP service is undisturbed if none went unanswered."""

    def __init__(self, server):
        self.server, self.answered, self.unanswered = server, 0, 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(1.0)
            while not self.stopping.is_set():
                req = binding_request()
                s.sendto(req, self.server.udp)
                try:
                    while True:
                        answer = s.recv(2048)
                        if answer[8:20] == req[8:20]:
                            break
                    self.answered += 1
                except socket.timeout:
                    self.unanswered += 1

    def stop(self):
        self.stopping.set()
        self.thread.join(WAIT)
        return self.answered, self.unanswered


def promtool_check(text):
    """promtool check metrics on `text`, or False when promtool is absent."""
    promtool = shutil.which("promtool")
    if not promtool:
        return False
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=WAIT)
    check(r.returncode == 0, f"promtool check metrics failed:\n{r.stdout}{r.stderr}")
    return True


# --- scenarios ---

def broker_counters_grow_under_binding_load_and_match_what_was_sent(args):
    b = Server(args.broker, "--rate-limit", "0", "--threads", "2")
    first = scrape(b)
    check(value(first, "punch_broker_bindings_total") == 0, "bindings before any was sent")
    send_bindings(b, 500)
    _, seen1 = scrape_until(b, "punch_broker_bindings_total", 500)
    # More load while scraping: every scrape sees a count that only grows, up to what was sent.
    load = threading.Thread(target=send_bindings, args=(b, 3000))
    load.start()
    during = []
    while load.is_alive():
        during.append(value(scrape(b), "punch_broker_bindings_total"))
    load.join()
    text, seen2 = scrape_until(b, "punch_broker_bindings_total", 3500)
    samples = seen1 + during + seen2
    check(samples == sorted(samples), f"bindings went down between scrapes: {samples}")
    check(value(text, "punch_broker_received_total") == 3500, "received")
    check(value(text, 'punch_broker_requests_total{kind="binding"}') == 3500, "requests by kind")
    check(value(text, 'punch_broker_dropped_total{reason="rate_limited"}') == 0, "rate limited")
    # Every datagram handled was timed, over both threads.
    check(value(text, "punch_broker_request_duration_seconds_count") == 3500, "histogram count")
    check(value(text, 'punch_broker_request_duration_seconds_bucket{le="+Inf"}') == 3500, "histogram +Inf")
    check(value(text, "punch_broker_request_duration_seconds_sum") > 0, "histogram sum")
    print(f"bindings seen by {len(samples)} scrapes: {samples[:3]} ... {samples[-3:]}")


def broker_exposition_passes_promtool(args):
    b = Server(args.broker, "--rate-limit", "5")
    send_bindings(b, 5, window=1)
    # A burst over the limit: some are dropped, so the labelled drop series is not all zero.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(400):
            s.sendto(binding_request(), b.udp)
    text, _ = scrape_until(b, "punch_broker_received_total", 405)
    check(value(text, 'punch_broker_dropped_total{reason="rate_limited"}') > 0, "rate limited under a burst")
    check(value(text, "process_resident_memory_bytes") > 0, "process metrics")
    if not promtool_check(text):
        print("SKIPPED: promtool is not installed (Debian's prometheus package)")
        return
    print("promtool check metrics: OK")


def broker_answers_junk_http_with_400_404_405_or_closes_and_bindings_go_on(args):
    b = Server(args.broker, "--rate-limit", "0")
    probe = BindingProbe(b)
    try:
        # A client that connects and sends nothing holds a connection while everything else runs.
        idle = socket.create_connection(b.http, timeout=HTTP_TIMEOUT + WAIT)
        idle_since = time.monotonic()
        cases = [
            ("garbage bytes", os.urandom(64).replace(b"\r\n", b"xx") + b"\r\n\r\n", {400, None}),
            ("a huge header", b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n", {400, None}),
            ("a request line with no path", b"GET HTTP/1.1\r\nHost: x\r\n\r\n", {400}),
            ("a POST", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", {405}),
            ("another path", b"GET /other HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {404}),
            ("a body on a GET", b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", {400}),
        ]
        for what, request, wanted in cases:
            status, headers, _ = http_exchange(b.http, request)
            check(status in wanted, f"{what}: status {status}, wanted one of {wanted}")
            if status == 405:
                check(headers.get("allow") == "GET", f"{what}: Allow header {headers}")
            scrape(b)  # the endpoint still serves after each
        # More connections than the endpoint takes: the ones beyond its limit are closed at once
        # (well before the timeout that closes the ones it took).
        crowd = [socket.create_connection(b.http, timeout=WAIT) for _ in range(40)]
        started = time.monotonic()
        closed = set()
        while len(closed) < 40 - 16 and time.monotonic() - started < HTTP_TIMEOUT / 2:
            readable, _, _ = select.select([c for c in crowd if c not in closed], [], [], 0.1)
            for c in readable:
                try:
                    if c.recv(1) == b"":
                        closed.add(c)
                except ConnectionResetError:
                    closed.add(c)
        check(len(closed) >= 40 - 16, f"only {len(closed)} of 40 extra connections were closed at once")
        for c in crowd:
            c.close()
        scrape_retrying(b)  # served again once the crowd's connections are gone
        # The silent client is closed by the endpoint's timeout, not before.
        check(idle.recv(1) == b"", "the silent client got bytes")
        waited = time.monotonic() - idle_since
        check(waited >= HTTP_TIMEOUT - 0.5, f"the silent client was closed after {waited:.1f} s")
        idle.close()
        # Every Binding the probe has seen answered so far is counted.
        answered_so_far = probe.answered
        check(value(scrape(b), "punch_broker_bindings_total") >= answered_so_far, "bindings after junk")
    finally:
        answered, unanswered = probe.stop()
    check(b.alive(), "punch-broker died")
    check(unanswered == 0, f"{unanswered} Bindings went unanswered during the junk ({answered} answered)")
    check(answered > 0, "no Binding was answered during the junk")
    print(f"Bindings during the junk: {answered} answered, none lost")


def relay_serves_its_metrics_and_refuses_junk(args):
    r = Server(args.relay)
    first = scrape(r)
    check(value(first, "punch_relay_allocations") == 0, "allocations held")
    # Datagrams from a source in no allocation are dropped, and counted by reason.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for _ in range(50):
            s.sendto(b"not a relay datagram", r.udp)
    text, _ = scrape_until(r, 'punch_relay_dropped_total{reason="unknown"}', 50)
    check(value(text, "punch_relay_received_total") == 50, "received")
    check(value(text, "punch_relay_request_duration_seconds_count") == 50, "histogram count")
    for what, request, wanted in [
            ("a POST", b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", {405}),
            ("another path", b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", {404}),
            ("garbage bytes", b"\x00\x01\x02 junk\r\n\r\n", {400, None})]:
        status, _, _ = http_exchange(r.http, request)
        check(status in wanted, f"{what}: status {status}")
    check(r.alive(), "punch-relay died")
    if promtool_check(scrape(r)):
        print("promtool check metrics: OK")
    else:
        print("promtool is not installed: the exposition was not linted")


def a_metrics_address_that_cannot_be_used_exits_1_and_a_malformed_one_2(args):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    for argv, code, words in [
            ([args.broker, "--listen", "127.0.0.1:0", "--metrics", f"127.0.0.1:{port}"], 1, "--metrics"),
            ([args.broker, "--metrics", "localhost"], 2, "--metrics"),
            ([args.relay, "--listen", "127.0.0.1:0", "--metrics", "::1:9100"], 2, "--metrics")]:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=WAIT)
        check(p.returncode == code, f"{argv}: exit {p.returncode}, wanted {code}: {p.stderr}")
        check(words in p.stderr, f"{argv}: stderr does not name {words}: {p.stderr}")
    taken.close()


SCENARIOS = {f.__name__: f for f in [
    broker_counters_grow_under_binding_load_and_match_what_was_sent,
    broker_exposition_passes_promtool,
    broker_answers_junk_http_with_400_404_405_or_closes_and_bindings_go_on,
    relay_serves_its_metrics_and_refuses_junk,
    a_metrics_address_that_cannot_be_used_exits_1_and_a_malformed_one_2,
]}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--broker", required=True)
    p.add_argument("--relay", required=True)
    p.add_argument("scenario", choices=sorted(SCENARIOS))
    args = p.parse_args()

    def cleanup():
        for s in Server.running:
            s.kill()
    return run_scenario(args.scenario, lambda: SCENARIOS[args.scenario](args), cleanup)

if __name__ == "__main__":
    sys.exit(main())
