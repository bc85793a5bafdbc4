#!/usr/bin/env python3
# Writes the PCP fuzzer's seeds into fuzz/corpus/pcp/: responses laid out as RFC 6887's figures
# draw them (§7.2 header, §11.1 MAP body, §7.3 options), and NAT-PMP's version-0 answer.
import os
import struct

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "pcp")


def header(opcode, result, lifetime, epoch):
    return struct.pack("!BBBBII", 2, 0x80 | opcode, 0, result, lifetime, epoch) + bytes(12)


def mapped(a, b, c, d):
    return bytes(10) + b"\xff\xff" + bytes([a, b, c, d])


def map_body(port, ext_port, ext):
    return bytes(range(0xA0, 0xAC)) + bytes([17, 0, 0, 0]) + struct.pack("!HH", port, ext_port) + ext


def option(code, data):
    return struct.pack("!BBH", code, 0, len(data)) + data + bytes((4 - len(data) % 4) % 4)


seeds = {
    "map_success": header(1, 0, 7200, 1000) + map_body(40000, 50000, mapped(203, 0, 113, 9)),
    "map_success_ipv6": header(1, 0, 3600, 7) + map_body(40000, 40000, bytes.fromhex("20010db8000100000000000000000009")),
    "map_error_header_only": header(1, 8, 30, 1000),
    "map_with_options": header(1, 0, 7200, 1000) + map_body(40000, 50000, mapped(203, 0, 113, 9))
    + option(1, mapped(192, 0, 2, 50)) + option(2, b"") + option(3, bytes(20)) + option(200, b"\x01\x02\x03"),
    "announce": header(0, 0, 0, 5),
    "nat_pmp_unsupported_version": bytes([0, 0x81, 0, 1, 0, 0, 1, 0]),
}
for name, data in seeds.items():
    with open(os.path.join(here, name), "wb") as f:
        f.write(data)
