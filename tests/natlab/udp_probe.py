#!/usr/bin/env python3
"""The NAT lab's selftest probe: proves each NAT box behaves as its type claims.

One process holds sockets in several network namespaces at once (a socket stays in the
namespace it was made in), so it sees with its own eyes which source endpoint a datagram
arrived from and whether an unsolicited one got through; no echo servers, no races between
processes. Every wait has a deadline.

  udp_probe.py nat   (reads the plan on stdin, one line each:)
      broker NS IP                       the public host playing the broker (ports 7001, 7003)
      far    NS IP                       a second public host (port 7001)
      check  LABEL TYPE INSIDE_NS INSIDE_IP BOX_NS PUBLIC_IP PORT [BOX_IP]
                                         check one box (BOX_NS "-" for type none); PORT is the
                                         first of three inside ports this check may use;
                                         BOX_IP: the box's own public address (default
                                         PUBLIC_IP; it differs for a firewall without NAT)
      An IPv6 INSIDE_IP is checked against the broker and far lines with IPv6 addresses
      (a host may have a line of each family); TYPE firewall6 is a stateful IPv6 firewall:
      no translation, address-and-port-dependent filtering, no hairpin check (without NAT,
      a datagram to one's own address is delivered locally, not looped through the box).
  udp_probe.py loss  LABEL INSIDE_NS INSIDE_IP PORT BROKER_NS BROKER_IP COUNT LOW HIGH
      COUNT round trips through a lossy box; PASS when LOW..HIGH of them survive

Prints "selftest LABEL PASS|FAIL what was seen" per check; exits 1 when any check failed.
"""
import ctypes
import os
import select
import socket
import sys
import time

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_home_ns = os.open("/proc/self/ns/net", os.O_RDONLY)

# What each type must show: (mapping, arrives from same address other port, from other address).
EXPECT = {
    "none": ("public", True, True),
    "full-cone": ("independent", True, True),
    "address-restricted": ("independent", True, False),
    "port-restricted": ("independent", False, False),
    "symmetric": ("per-destination", False, False),
    "cgn": ("independent", False, False),
    "firewall6": ("public", False, False),
}

# How long an answer that must come may take; how long to keep listening for one that must not
# (after a datagram sent later on a path that must work has arrived).
ARRIVE_S = 3.0
SETTLE_S = 0.3


def setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def family(ip):
    return 6 if ":" in ip else 4


def udp_socket(ns, ip, port):
    """A UDP socket bound to ip:port inside network namespace ns (a name under /run/netns)."""
    fd = os.open("/run/netns/" + ns, os.O_RDONLY)
    try:
        setns(fd)
        s = socket.socket(socket.AF_INET6 if family(ip) == 6 else socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((ip, port))
        return s
    finally:
        setns(_home_ns)
        os.close(fd)


def fmt(ep):
    return ("[%s]:%d" if ":" in ep[0] else "%s:%d") % ep[:2]


def receive(sock, want, seconds):
    """The source endpoint of the first datagram on sock whose payload is want, or None."""
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        ready, _, _ = select.select([sock], [], [], left)
        if not ready:
            return None
        try:
            data, peer = sock.recvfrom(2048)
        except OSError:
            continue  # a queued ICMP error (port unreachable), not a datagram
        if data == want:
            return peer


def drain(sock):
    while select.select([sock], [], [], 0)[0]:
        try:
            sock.recvfrom(2048)
        except OSError:
            pass


def check_nat(plan, label, typ, inside_ns, inside_ip, box_ns, public_ip, port, box_ip=None):
    box_ip = box_ip or public_ip
    brk7001, brk7003, far7001 = plan["brk7001"], plan["brk7003"], plan["far7001"]
    for s in (brk7001, brk7003, far7001):
        drain(s)
    want_map, want_port, want_addr = EXPECT[typ]
    problems, notes = [], []
    tag = label.encode()

    # Mapping: one inside endpoint sends to two public hosts; what source does each see?
    mapper = udp_socket(inside_ns, inside_ip, port)
    mapper.sendto(b"map " + tag, (plan["brk_ip"], 7001))
    mapper.sendto(b"map " + tag, (plan["far_ip"], 7001))
    e1 = receive(brk7001, b"map " + tag, ARRIVE_S)
    e2 = receive(far7001, b"map " + tag, ARRIVE_S)
    mapper.close()
    if not e1 or not e2:
        problems.append("a mapping probe never arrived (broker saw %s, far saw %s)"
                        % (e1 and fmt(e1), e2 and fmt(e2)))
    else:
        e1, e2 = e1[:2], e2[:2]  # an IPv6 source has flow info and scope id too
        if e1[0] != public_ip or e2[0] != public_ip:
            problems.append("mapped to %s / %s, expected address %s" % (fmt(e1), fmt(e2), public_ip))
        if want_map == "public":
            if e1 == e2 == (inside_ip, port):
                notes.append("no translation (%s seen as itself by both)" % fmt(e1))
            else:
                problems.append("%s:%d seen as %s and %s, expected itself" % (inside_ip, port, fmt(e1), fmt(e2)))
        elif want_map == "independent":
            if e1 == e2 and e1[1] == port:
                notes.append("mapping endpoint-independent, port kept (%s:%d -> %s for both)"
                             % (inside_ip, port, fmt(e1)))
            else:
                problems.append("mapping: %s:%d seen as %s and %s, expected %s:%d for both"
                                % (inside_ip, port, fmt(e1), fmt(e2), public_ip, port))
        elif e1[1] != e2[1]:
            notes.append("mapping per destination (%s:%d -> port %d / %d)" % (inside_ip, port, e1[1], e2[1]))
        else:
            problems.append("mapping: both destinations saw %s, expected two ports" % fmt(e1))

    # Filtering: a fresh inside endpoint talks to broker:7001 only; who else gets in?
    inside = udp_socket(inside_ns, inside_ip, port + 1)
    inside.sendto(b"open " + tag, (plan["brk_ip"], 7001))
    m = receive(brk7001, b"open " + tag, ARRIVE_S)
    box_sock = udp_socket(box_ns, "::" if family(box_ip) == 6 else "0.0.0.0", 7777) if box_ns != "-" else None
    if not m:
        problems.append("the filtering probe never reached the broker host")
    else:
        brk7003.sendto(b"other-port", m)
        far7001.sendto(b"other-addr", m)
        far7001.sendto(b"to-the-box", (box_ip, 7777))
        if box_sock and typ != "firewall6":
            hairpin = udp_socket(inside_ns, inside_ip, port + 2)
            hairpin.sendto(b"hairpin", m)
            hairpin.close()
        # Sent last, must arrive: once it has, the others had their chance (plus a margin).
        brk7001.sendto(b"solicited", m)
        got, came = collect(inside, b"solicited", ARRIVE_S, SETTLE_S)
        if not came:
            problems.append("the solicited reply from broker:7001 never arrived")
        got_port, got_addr = b"other-port" in got, b"other-addr" in got
        yn = {True: "yes", False: "no"}
        if got_port != want_port:
            problems.append("same address, other port: arrived=%s, expected %s" % (yn[got_port], yn[want_port]))
        if got_addr != want_addr:
            problems.append("other address: arrived=%s, expected %s" % (yn[got_addr], yn[want_addr]))
        notes.append("filtering: other port %s, other address %s" % (yn[got_port], yn[got_addr]))
        if box_sock:
            if receive(box_sock, b"to-the-box", 0.05):
                problems.append("an unsolicited datagram reached a socket on the NAT box")
            else:
                notes.append("box drops unsolicited")
            if typ != "firewall6":
                if b"hairpin" in got:
                    problems.append("a datagram to our own public mapping came back inside (hairpin)")
                else:
                    notes.append("no hairpin")
    inside.close()
    if box_sock:
        box_sock.close()
    return report(label, problems, notes)


def collect(sock, last, seconds, settle):
    """Payloads arriving on sock until `last` has (at most seconds), then for settle seconds
    more; returns (every payload seen, whether `last` came)."""
    seen, came = set(), False
    deadline = time.monotonic() + seconds
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([sock], [], [], left)[0]:
            return seen, came
        try:
            data, _ = sock.recvfrom(2048)
        except OSError:
            continue
        seen.add(data)
        if data == last and not came:
            came = True
            deadline = time.monotonic() + settle


def report(label, problems, notes):
    if problems:
        print("selftest %-22s FAIL  %s" % (label, "; ".join(problems)), flush=True)
        return False
    print("selftest %-22s PASS  %s" % (label, "; ".join(notes)), flush=True)
    return True


def cmd_nat(lines):
    plans, ok = {4: {}, 6: {}}, True
    checks = []
    for line in lines:
        f = line.split()
        if not f or f[0].startswith("#"):
            continue
        if f[0] == "broker":
            plan = plans[family(f[2])]
            plan["brk_ip"] = f[2]
            plan["brk7001"] = udp_socket(f[1], f[2], 7001)
            plan["brk7003"] = udp_socket(f[1], f[2], 7003)
        elif f[0] == "far":
            plan = plans[family(f[2])]
            plan["far_ip"] = f[2]
            plan["far7001"] = udp_socket(f[1], f[2], 7001)
        elif f[0] == "check" and len(f) in (8, 9):
            checks.append(f[1:7] + [int(f[7])] + f[8:])
        else:
            print("udp_probe: bad plan line: %s" % line.strip(), file=sys.stderr)
            return 2
    for c in checks:
        plan = plans[family(c[3])]
        if "brk_ip" not in plan or "far_ip" not in plan:
            print("udp_probe: no broker/far line of the family of %s" % c[3], file=sys.stderr)
            return 2
        ok = check_nat(plan, *c) and ok
    return 0 if ok else 1


def cmd_loss(args):
    label, inside_ns, inside_ip, port, brk_ns, brk_ip, count, low, high = args
    port, count, low, high = int(port), int(count), int(low), int(high)
    inside = udp_socket(inside_ns, inside_ip, port)
    echo = udp_socket(brk_ns, brk_ip, 7001)
    sent, back = 0, set()
    deadline = time.monotonic() + 5
    next_send = time.monotonic()
    # Send one every 2 ms and echo whatever reaches the broker host; then wait for stragglers.
    while time.monotonic() < deadline and len(back) < count:
        now = time.monotonic()
        if sent < count and now >= next_send:
            inside.sendto(b"echo %d" % sent, (brk_ip, 7001))
            sent += 1
            next_send = now + 0.002
        if sent == count and now > next_send + 1.0:
            break
        wait = max(0.0, min(next_send - now, 0.05)) if sent < count else 0.05
        for s in select.select([inside, echo], [], [], wait)[0]:
            try:
                data, peer = s.recvfrom(2048)
            except OSError:
                continue
            if s is echo:
                echo.sendto(data, peer)
            else:
                back.add(data)
    got = len(back)
    note = "%d/%d round trips survived (expected %d..%d)" % (got, count, low, high)
    return 0 if report(label, [] if low <= got <= high else [note], [note]) else 1


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "nat":
        return cmd_nat(sys.stdin.readlines())
    if len(sys.argv) == 11 and sys.argv[1] == "loss":
        return cmd_loss(sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
