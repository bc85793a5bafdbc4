#!/usr/bin/env python3
"""Brokers sharing one registry in a real Redis, as processes over loopback UDP (issue 16).

Usage: cluster_real_test.py --broker PATH --peer PATH [--redis-server PATH] SCENARIO
Each scenario is one CTest test. The script starts its own redis-server on a unix socket in a
temporary directory (no TCP port, nothing shared with another test) and kills it on the way
out; without redis-server it prints "SKIPPED: <reason>". Every wait is bounded and waits for
the line or the answer that proves the step happened. The processes and their output are
peer_real_test.py's.
"""
import argparse
import base64
import json
import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_real_test as real  # noqa: E402  (the Process class, waits, peers)
from peer_real_test import Failure, Process, check  # noqa: E402

WAIT = real.WAIT

# --- Redis ----------------------------------------------------------------------------------


class Redis:
    """A redis-server of the test's own on a unix socket; restartable on the same socket."""

    def __init__(self, path, directory):
        self.path = path
        self.socket = os.path.join(directory, "redis.sock")
        self.url = f"redis+unix://{self.socket}"
        self.proc = None

    def start(self):
        self.proc = Process("redis-server", [
            self.path, "--port", "0", "--unixsocket", self.socket, "--unixsocketperm", "700",
            "--save", "", "--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"],
            stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + WAIT
        while self.ping() != b"+PONG\r\n":
            check(self.proc.proc.poll() is None,
                  f"redis-server exited {self.proc.proc.returncode}: {self.proc.lines('stdout')}")
            check(time.monotonic() < deadline, f"redis-server did not answer PING within {WAIT} s")
            time.sleep(0.02)  # polling a server that is starting: bounded by the deadline above

    def ping(self):
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect(self.socket)
                s.sendall(b"PING\r\n")
                return s.recv(64)
        except OSError:
            return b""

    def kill(self):
        self.proc.kill()
        try:
            os.unlink(self.socket)
        except FileNotFoundError:
            pass


# --- a STUN client for Lookup and Binding (docs/protocol.md) --------------------------------

MAGIC = 0x2112A442
LOOKUP, BINDING = 0x0D1, 0x001
ATTR_PEER_ID, ATTR_TARGET_ID, ATTR_PUBLIC_KEY = 0x4A01, 0x4A02, 0x4A07
ATTR_PADDING, ATTR_FINGERPRINT, ATTR_ERROR_CODE = 0x0026, 0x8028, 0x0009
LOOKUP_ANSWER_BOUND = 404  # wire::answer_bound::lookup: clients pad Lookups to it


def message_type(method, cls):
    """RFC 8489 §5: the method's bits around the class's two bits."""
    return ((method & 0xF80) << 2) | ((method & 0x70) << 1) | (method & 0xF) | \
        ((cls & 2) << 7) | ((cls & 1) << 4)


def attribute(kind, value):
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def stun_request(method, attrs, pad_to=0):
    tid = random.randbytes(12)
    body = b"".join(attribute(k, v) for k, v in attrs)
    if pad_to:
        left = pad_to - (20 + len(body) + 4 + 8)
        body += attribute(ATTR_PADDING, b"\0" * max(left, 0))
    header = struct.pack("!HHI", message_type(method, 0), len(body) + 8, MAGIC) + tid
    crc = (zlib.crc32(header + body) ^ 0x5354554E) & 0xFFFFFFFF
    return tid, header + body + attribute(ATTR_FINGERPRINT, struct.pack("!I", crc))


def parse_answer(data):
    """(class, {attribute: [values]}) of a STUN answer, or None."""
    if len(data) < 20:
        return None
    kind, length, magic = struct.unpack("!HHI", data[:8])
    if magic != MAGIC or 20 + length != len(data):
        return None
    cls = ((kind >> 7) & 2) | ((kind >> 4) & 1)
    attrs, at = {}, 20
    while at + 4 <= len(data):
        a, n = struct.unpack("!HH", data[at:at + 4])
        attrs.setdefault(a, []).append(data[at + 4:at + 4 + n])
        at += 4 + n + (-n % 4)
    return cls, attrs


class Client:
    """One UDP socket that asks a broker and waits (bounded) for the answer."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))

    def ask(self, broker, method, attrs, pad_to=0, timeout=1.0):
        host, port = broker.rsplit(":", 1)
        tid, request = stun_request(method, attrs, pad_to)
        self.sock.sendto(request, (host, int(port)))
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(2048)
            except socket.timeout:
                break
            if data[8:20] == tid:
                return parse_answer(data)
        return None

    def lookup(self, broker, target):
        """("found", public key bytes), ("error", code) or ("none", None)."""
        answer = self.ask(broker, LOOKUP, [(ATTR_TARGET_ID, target.encode())], LOOKUP_ANSWER_BOUND)
        if answer is None:
            return "none", None
        cls, attrs = answer
        if cls == 2:
            return "found", attrs.get(ATTR_PUBLIC_KEY, [b""])[0]
        error = attrs.get(ATTR_ERROR_CODE, [b"\0\0\0\0"])[0]
        return "error", (error[2] & 7) * 100 + error[3]

    def close(self):
        self.sock.close()


def key_bytes(text):
    """punch-peer's key text (base64url, unpadded) → the 32 bytes."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def wait_lookup(client, broker, target, want, what, timeout=WAIT):
    """Asks until the answer's kind is `want` ("found" or "error"): bounded by `timeout`."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = client.lookup(broker, target)
        if last[0] == want:
            return last
        time.sleep(0.05)  # the next question; the deadline bounds the loop
    raise Failure(f"{what}: Lookup of {target!r} at {broker} still gives {last} after {timeout} s")


# --- the brokers ----------------------------------------------------------------------------

def start_broker(args, redis, name, *extra):
    broker = Process(f"punch-broker {name}", [
        args.broker, "--listen", "127.0.0.1:0", "--redis", redis.url, "--name", name, *extra],
        stdin=subprocess.DEVNULL)
    line = broker.wait_line("stderr", lambda l: "listening on" in l, "listening line")
    port = line.split("listening on 127.0.0.1:", 1)[1].split()[0]
    return broker, f"127.0.0.1:{port}"


def two_brokers(args, redis, *extra):
    b1, ep1 = start_broker(args, redis, "b1", *extra)
    b2, ep2 = start_broker(args, redis, "b2", *extra)
    return (b1, ep1), (b2, ep2)


def check_alive(*processes):
    for p in processes:
        check(p.proc.poll() is None, f"{p.name} exited {p.proc.returncode}: {p.lines('stderr')[-5:]}")


def connect_and_talk(args, frm, at, to, line):
    """`frm` at broker `at` connects to `to` and sends `line`; returns the process."""
    p = real.peer(args, frm, at, "--connect", to, "--events")
    p.write(line + "\n")
    connected = p.wait_event("connected")
    check(connected["peer"] == to, f"{frm} connected to {connected['peer']!r}")
    return p


# --- scenarios ------------------------------------------------------------------------------

def peers_at_two_brokers_connect_through_one_redis(args, redis):
    (_, ep1), (_, ep2) = two_brokers(args, redis)
    bob = real.peer(args, "bob", ep2, "--events")
    bob.wait_event("registered")
    # alice asks b1 for bob, who is held by b2: only b2's Introduce gets through to bob (a
    # session takes an Introduce only from its own broker, as a NAT would let in only b2).
    alice = connect_and_talk(args, "alice", ep1, "bob", "hello across brokers")
    bob.wait_event("connected")
    got = bob.wait_line("stdout", lambda l: True, "alice's line")
    check(got == "hello across brokers", f"bob printed {got!r}")
    bob.write("and back\n")
    got = alice.wait_line("stdout", lambda l: True, "bob's line")
    check(got == "and back", f"alice printed {got!r}")
    alice.close_stdin()
    check(alice.wait_exit() == 0, f"alice exited {alice.proc.returncode}: {alice.lines('stderr')}")
    check(bob.wait_exit() == 0, f"bob exited {bob.proc.returncode}: {bob.lines('stderr')}")


def a_peer_at_another_broker_is_found_until_its_registration_expires(args, redis):
    # Lifetimes of at most 2 s: bob's registration is gone from Redis 2 s after his last refresh.
    (_, ep1), (_, ep2) = two_brokers(args, redis, "--lifetime-max", "2")
    bob = real.peer(args, "bob", ep2, "--events")
    key = key_bytes(bob.wait_event("registered")["key"])
    client = Client()
    kind, found = wait_lookup(client, ep1, "bob", "found", "bob registered at b2")
    check(found == key, "b1 reports another key for bob than the one he registered with")
    kind, code = client.lookup(ep1, "nobody")
    check((kind, code) == ("error", 404), f"Lookup of an id nobody registered gave {kind} {code}")
    bob.kill()  # no close: his registration must expire by itself
    killed = time.monotonic()
    kind, code = wait_lookup(client, ep1, "bob", "error", "bob killed", timeout=2 + WAIT)
    check(code == 404, f"Lookup of the expired bob gave error {code}, not 404")
    check(time.monotonic() - killed <= 2 + WAIT, "bob's registration outlived its lifetime")
    client.close()


def two_peers_racing_for_one_id_at_two_brokers_get_one_binding(args, redis):
    (_, ep1), (_, ep2) = two_brokers(args, redis)
    # Two keys, one id, started together at two brokers.
    first = real.peer(args, "bob", ep1, "--events", "--key", real.key_path("bob-one"))
    second = real.peer(args, "bob", ep2, "--events", "--key", real.key_path("bob-two"))
    outcomes = {}
    for p in (first, second):
        line = p.wait_line("stderr", lambda l: '"registered"' in l or "taken" in l,
                           "registered or id taken")
        outcomes[p.name + str(id(p))] = (p, line)
    winners = [(p, l) for p, l in outcomes.values() if '"registered"' in l]
    losers = [(p, l) for p, l in outcomes.values() if '"registered"' not in l]
    check(len(winners) == 1 and len(losers) == 1,
          f"not exactly one registration: {[l for _, l in outcomes.values()]}")
    winner, line = winners[0]
    loser, _ = losers[0]
    check(loser.wait_exit() != 0, "the peer whose id was taken exited 0")
    key = key_bytes(json.loads(line)["key"])
    client = Client()
    for ep in (ep1, ep2):
        kind, found = wait_lookup(client, ep, "bob", "found", "the winner registered")
        check(found == key, f"the broker at {ep} reports the loser's key for bob")
    client.close()
    check_alive(winner)


def the_brokers_survive_redis_restarting_under_load_and_resume(args, redis):
    (b1, ep1), (b2, ep2) = two_brokers(args, redis)
    bob = real.peer(args, "bob", ep2, "--events")  # held by b2
    bob.wait_event("registered")
    carol = real.peer(args, "carol", ep1, "--events")  # held by b1
    carol.wait_event("registered")
    client = Client()
    wait_lookup(client, ep1, "bob", "found", "bob at b2")

    # Load: Lookups of bob (each a Redis read at b1) and of carol (local) as fast as one
    # socket gets answers, until told to stop; bounded by its own deadline too.
    stop = threading.Event()
    answered = {"n": 0}

    def load():
        loader = Client()
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            for target in ("bob", "carol"):
                if loader.lookup(ep1, target)[0] != "none":
                    answered["n"] += 1
        loader.close()

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    try:
        redis.kill()
        # b1 keeps serving its own peers; bob, held elsewhere, is an error, not a hang or a crash.
        kind, code = wait_lookup(client, ep1, "bob", "error", "Redis killed")
        check(code in (404, 503), f"Lookup of a remote peer with Redis down gave {code}")
        kind, _ = client.lookup(ep1, "carol")
        check(kind == "found", f"b1 stopped serving its own peer carol while Redis is down: {kind}")
        check_alive(b1, b2, bob, carol)
        redis.start()
        # b2 puts bob back once Redis is up again: b1 finds him again.
        wait_lookup(client, ep1, "bob", "found", "Redis restarted", timeout=2 * WAIT)
    finally:
        stop.set()
        thread.join(timeout=WAIT)
    check(answered["n"] > 0, "the load got no answer at all")
    check_alive(b1, b2, bob, carol)
    # And a cross-broker connection works again.
    dave = connect_and_talk(args, "dave", ep1, "bob", "after the restart")
    got = bob.wait_line("stdout", lambda l: True, "dave's line")
    check(got == "after the restart", f"bob printed {got!r}")
    dave.close_stdin()
    check(dave.wait_exit() == 0, f"dave exited {dave.proc.returncode}")
    # The outage is said once per broker, not once per request, and its end once.
    for b in (b1, b2):
        for what in ("shared registry down:", "shared registry up again:"):
            mentions = [l for l in b.lines("stderr") if what in l]
            check(len(mentions) == 1, f"{b.name} said {what!r} {len(mentions)} times: {b.lines('stderr')}")
    client.close()


SCENARIOS = {f.__name__: f for f in (
    peers_at_two_brokers_connect_through_one_redis,
    a_peer_at_another_broker_is_found_until_its_registration_expires,
    two_peers_racing_for_one_id_at_two_brokers_get_one_binding,
    the_brokers_survive_redis_restarting_under_load_and_resume,
)}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--broker", required=True)
    parser.add_argument("--peer", required=True)
    parser.add_argument("--redis-server", default=shutil.which("redis-server"))
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    args = parser.parse_args()
    if not args.redis_server:
        print("SKIPPED: redis-server is not installed (setup.sh installs it)")
        return 0
    real.KEY_DIR = tempfile.mkdtemp(prefix="punch-cluster-test-")

    def body():
        redis = Redis(args.redis_server, real.KEY_DIR)
        redis.start()
        SCENARIOS[args.scenario](args, redis)

    def cleanup():
        real.kill_all()
        shutil.rmtree(real.KEY_DIR, ignore_errors=True)
    return real.run_scenario(args.scenario, body, cleanup)

if __name__ == "__main__":
    sys.exit(main())
