#!/usr/bin/env python3
"""UDP probe for the NAT lab's selftest: tiny, bounded senders, listeners and echo servers.

Every command ends by itself (a --for or --wait deadline), so a lab that goes wrong cannot
leave a probe running. Output is one line per datagram, flushed, so the shell can poll it.

  udp_probe.py echo   BIND [BIND...] --for S     reply "seen IP:PORT" to every "echo..." datagram
  udp_probe.py listen BIND --for S [--first TO PAYLOAD]
                                                 (optionally send PAYLOAD to TO first, from BIND),
                                                 then print "FROM PAYLOAD" for each datagram
  udp_probe.py send   BIND TO PAYLOAD [--wait S] send once; with --wait print the first reply
                                                 ("FROM PAYLOAD"), exit 1 if none came
  udp_probe.py burst  BIND TO COUNT --wait S     send COUNT "echo N" datagrams, print how many
                                                 distinct replies came back
"""
import argparse
import select
import socket
import sys
import time


def endpoint(text):
    host, _, port = text.rpartition(":")
    return (host, int(port))


def fmt(ep):
    return "%s:%d" % ep


def bound_socket(bind):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    # Several probes may use one port one after another (the NAT's mapping outlives the socket).
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(endpoint(bind))
    return s


def receive_until(socks, deadline, on_datagram):
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return
        ready, _, _ = select.select(socks, [], [], left)
        for s in ready:
            try:
                data, peer = s.recvfrom(2048)
            except OSError:
                # An ICMP error queued on the socket (e.g. port unreachable); not a datagram.
                continue
            if on_datagram(s, data.decode(errors="replace"), peer):
                return


def cmd_echo(args):
    socks = [bound_socket(b) for b in args.bind]
    deadline = time.monotonic() + args.seconds

    def reply(s, text, peer):
        print("%s <- %s %s" % (fmt(s.getsockname()), fmt(peer), text), flush=True)
        if text.startswith("echo"):
            s.sendto(("seen %s %s" % (fmt(peer), text)).encode(), peer)
        return False

    print("ready", flush=True)
    receive_until(socks, deadline, reply)


def cmd_listen(args):
    s = bound_socket(args.bind)
    if args.first:
        s.sendto(args.first[1].encode(), endpoint(args.first[0]))
    print("ready", flush=True)

    def show(_, text, peer):
        print("%s %s" % (fmt(peer), text), flush=True)
        return False

    receive_until([s], time.monotonic() + args.seconds, show)


def cmd_send(args):
    s = bound_socket(args.bind)
    s.sendto(args.payload.encode(), endpoint(args.to))
    if args.wait is None:
        return 0
    got = []

    def first(_, text, peer):
        got.append("%s %s" % (fmt(peer), text))
        return True

    receive_until([s], time.monotonic() + args.wait, first)
    if not got:
        print("timeout", flush=True)
        return 1
    print(got[0], flush=True)
    return 0


def cmd_burst(args):
    s = bound_socket(args.bind)
    for n in range(args.count):
        s.sendto(("echo %d" % n).encode(), endpoint(args.to))
        time.sleep(0.002)
    seen = set()

    def count(_, text, __):
        seen.add(text)
        return len(seen) >= args.count

    receive_until([s], time.monotonic() + args.wait, count)
    print(len(seen), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("echo")
    e.add_argument("bind", nargs="+")
    e.add_argument("--for", dest="seconds", type=float, required=True)
    l = sub.add_parser("listen")
    l.add_argument("bind")
    l.add_argument("--for", dest="seconds", type=float, required=True)
    l.add_argument("--first", nargs=2, metavar=("TO", "PAYLOAD"))
    s = sub.add_parser("send")
    s.add_argument("bind")
    s.add_argument("to")
    s.add_argument("payload")
    s.add_argument("--wait", type=float)
    b = sub.add_parser("burst")
    b.add_argument("bind")
    b.add_argument("to")
    b.add_argument("count", type=int)
    b.add_argument("--wait", type=float, required=True)
    args = p.parse_args()
    return {"echo": cmd_echo, "listen": cmd_listen, "send": cmd_send, "burst": cmd_burst}[args.cmd](args) or 0


if __name__ == "__main__":
    sys.exit(main())
