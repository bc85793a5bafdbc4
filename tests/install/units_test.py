#!/usr/bin/env python3
"""The servers' systemd units as a Debian system gets them, checked without running systemd.

The runtime, broker and relay components are installed with the prefix /usr under a staging
root (as their packages put them), next to a copy of this machine's own units (the targets
ours are ordered against). Then, for punch-broker.service and punch-relay.service:
  - `systemd-analyze verify` accepts each unit without a word;
  - each unit keeps its hardening, and `systemd-analyze security` rates it at most MAX_EXPOSURE;
  - the server, started from the staging root under strace, listening, answering, serving its
    Prometheus metrics over HTTP and stopped by SIGTERM, makes no system call that the unit's SystemCallFilter refuses, opens no socket of a
    family that RestrictAddressFamilies refuses, and maps no memory both writable and executable
    (MemoryDenyWriteExecute): the hardening cannot break the service.
SKIPPED (with the reason) where systemd-analyze is absent or cannot verify even a trivial unit
here; the strace part is skipped the same way where strace is absent or not allowed.
Usage: units_test.py BUILD_DIR
"""
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request

# systemd-analyze's scale: 0 (safe) to 10 (exposed); up to 2 is its "OK". A server that must
# receive from anyone on the network cannot reach 0.
MAX_EXPOSURE = 2.0

SERVERS = {"punch-broker": "PUNCH_BROKER_OPTS", "punch-relay": "PUNCH_RELAY_OPTS"}

# Each directive that the unit must keep as it is (docs/deployment.md says why each is there).
HARDENING = {
    "DynamicUser": "yes",
    "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
    "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "RestrictNamespaces": "yes",
    "MemoryDenyWriteExecute": "yes",
    "LockPersonality": "yes",
    "Restart": "on-failure",
}
FILTER = ["@system-service", "~@privileged @resources"]


def fail(why):
    print(f"FAIL: {why}", file=sys.stderr)
    sys.exit(1)


def skip(why):
    print(f"SKIPPED: {why}")
    sys.exit(0)


def run(*args, **kw):
    return subprocess.run(args, capture_output=True, text=True, timeout=60, **kw)


def stage(build, root):
    # This machine's units first, so that ours replace any punch unit installed here.
    shutil.copytree("/usr/lib/systemd/system", os.path.join(root, "usr/lib/systemd/system"), symlinks=True)
    os.symlink("usr/lib", os.path.join(root, "lib"))
    for component in ("runtime", "broker", "relay"):
        r = run("cmake", "--install", build, "--prefix", "/usr", "--component", component,
                env={**os.environ, "DESTDIR": root})
        if r.returncode:
            fail(f"installing {component} under {root}: {r.stdout}{r.stderr}")


def unit_lines(root, name):
    """The unit's settings as (key, value) pairs, in order, comments left out."""
    with open(os.path.join(root, "usr/lib/systemd/system", f"{name}.service")) as f:
        return [tuple(line.rstrip("\n").split("=", 1)) for line in f
                if "=" in line and not line.startswith("#")]


def check_unit_text(root, name, variable):
    lines = unit_lines(root, name)
    settings = dict(lines)
    for key, value in HARDENING.items():
        if settings.get(key) != value:
            fail(f"{name}.service: {key}={settings.get(key)}, expected {key}={value}")
    if [v for k, v in lines if k == "SystemCallFilter"] != FILTER:
        fail(f"{name}.service: SystemCallFilter is not {FILTER}")
    if settings.get("ExecStart") != f"/usr/bin/{name} ${variable}":
        fail(f"{name}.service: ExecStart={settings.get('ExecStart')}")
    if settings.get("EnvironmentFile") != f"-/etc/default/{name}":
        fail(f"{name}.service: EnvironmentFile={settings.get('EnvironmentFile')}")
    if not os.path.isfile(os.path.join(root, "etc/default", name)):
        fail(f"/etc/default/{name} is not installed")
    # The servers stop within a second of SIGTERM: systemd's default stop timeout is kept.
    if "TimeoutStopSec" in settings:
        fail(f"{name}.service sets TimeoutStopSec")


def verify(analyze, root, name):
    r = run(analyze, "verify", f"--root={root}", f"{name}.service")
    if r.returncode or r.stdout.strip() or r.stderr.strip():
        fail(f"systemd-analyze verify {name}.service (exit {r.returncode}):\n{r.stdout}{r.stderr}")
    r = run(analyze, "security", "--offline=true", f"--root={root}", "--no-pager", f"{name}.service")
    m = re.search(r"Overall exposure level for \S+: ([0-9.]+)", r.stdout)
    if not m:
        fail(f"systemd-analyze security {name}.service gave no exposure level:\n{r.stdout}{r.stderr}")
    exposure = float(m.group(1))
    if exposure > MAX_EXPOSURE:
        fail(f"{name}.service: exposure {exposure} > {MAX_EXPOSURE}:\n{r.stdout}")
    return exposure


def syscall_groups(analyze):
    """Each syscall group of `systemd-analyze syscall-filter` as the set of what it lists."""
    groups, current = {}, None
    for line in run(analyze, "syscall-filter", "--no-pager").stdout.splitlines():
        if line.startswith("@"):
            current = groups.setdefault(line.strip(), set())
        elif current is not None and line.startswith("    ") and not line.strip().startswith("#"):
            current.add(line.strip())
    return groups


def expand(groups, name, seen=None):
    seen = set() if seen is None else seen
    out = set()
    for item in groups.get(name, ()):
        if item.startswith("@"):
            if item not in seen:
                seen.add(item)
                out |= expand(groups, item, seen)
        else:
            out.add(item)
    return out


class Server:
    """A server from the staging root under strace; its stderr read line by line, bounded."""

    def __init__(self, root, name, trace, *args):
        self.name = name
        self.proc = subprocess.Popen(
            ["strace", "-f", "-qq", "-o", trace, os.path.join(root, "usr/bin", name),
             "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", *args],
            stderr=subprocess.PIPE, text=True)
        self.port = int(self.expect(r"listening on 127\.0\.0\.1:(\d+)"))
        self.metrics = self.expect(r"metrics on (http://\S+)")

    def expect(self, pattern):
        """The first group of the next line that matches pattern (each line waited for, bounded)."""
        for _ in range(20):
            if m := re.search(pattern, self.line()):
                return m.group(1)
        self.kill()
        fail(f"{self.name}: no line matching /{pattern}/")

    def scrape(self):
        with urllib.request.urlopen(self.metrics, timeout=10) as r:
            text = r.read().decode()
        if f"{self.name.replace('-', '_')}_" not in text:
            fail(f"{self.name}'s /metrics has none of its own metrics:\n{text[:500]}")

    def line(self, seconds=10):
        ready, _, _ = select.select([self.proc.stderr], [], [], seconds)
        if not ready:
            self.kill()
            fail(f"{self.name} printed nothing for {seconds} s")
        return self.proc.stderr.readline()

    def stop(self):
        """SIGTERM to the server (strace's child), then its exit through strace's."""
        with open(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children") as f:
            children = f.read().split()
        for pid in children:
            os.kill(int(pid), signal.SIGTERM)
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            fail(f"{self.name} did not stop within 10 s of SIGTERM")

    def kill(self):
        self.proc.kill()
        self.proc.wait()


def exercise_broker(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        # RFC 8489 §6: a Binding request, type 0x0001, no attributes, the magic cookie.
        s.sendto(bytes.fromhex("000100002112a442") + os.urandom(12), ("127.0.0.1", server.port))
        answer, _ = s.recvfrom(2048)
    if answer[:2] != bytes.fromhex("0101"):
        fail(f"punch-broker answered a Binding request with type {answer[:2].hex()}")


def exercise_relay(server):
    # The relay answers only ALLOCATE; a stray datagram is received, counted and dropped.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"not a STUN message", ("127.0.0.1", server.port))
    while "dropped: unknown 1" not in server.line():
        pass


def check_syscalls(analyze, root, tmp):
    if not shutil.which("strace"):
        return "strace is absent: the system calls were not checked"
    probe = run("strace", "-f", "-qq", "-o", os.devnull, "true")
    if probe.returncode:
        return f"strace cannot trace here: {probe.stderr.strip()}"
    groups = syscall_groups(analyze)
    allowed = expand(groups, "@system-service") - expand(groups, "@privileged") - expand(groups, "@resources")
    if len(allowed) < 100:
        fail(f"systemd-analyze syscall-filter lists only {len(allowed)} system calls for the filter")
    families = set(HARDENING["RestrictAddressFamilies"].split())
    for name, exercise, args in (("punch-broker", exercise_broker, []),
                                 ("punch-relay", exercise_relay, ["--stats-interval", "1"])):
        trace = os.path.join(tmp, f"{name}.strace")
        server = Server(root, name, trace, *args)
        exercise(server)
        server.scrape()
        if server.stop() != 0:
            fail(f"{name} under strace did not exit 0 on SIGTERM")
        with open(trace) as f:
            text = f.read()
        used = set(re.findall(r"^\d+\s+([a-z_][a-z0-9_]*)\(", text, re.M))
        used |= set(re.findall(r"^\d+\s+<\.\.\. ([a-z0-9_]+) resumed>", text, re.M))
        if not {"recvmmsg", "recvmsg", "recvfrom"} & used:
            fail(f"the trace of {name} shows no receive: {sorted(used)}")
        if refused := used - allowed:
            fail(f"{name} makes system calls that its unit's SystemCallFilter refuses: {sorted(refused)}")
        if bad := set(re.findall(r"socket\((AF_[A-Z0-9]+)", text)) - families:
            fail(f"{name} opens sockets of families its unit refuses: {sorted(bad)}")
        for prot in re.findall(r"PROT_[A-Z_|]+", text):
            if "PROT_WRITE" in prot and "PROT_EXEC" in prot:
                fail(f"{name} maps memory {prot}, which MemoryDenyWriteExecute refuses")
    return f"{len(allowed)} system calls allowed; both servers used only those"


def main():
    build = os.path.abspath(sys.argv[1])
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        skip("systemd-analyze is absent (Debian: apt-get install systemd)")
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        stage(build, root)
        # A control: a trivial unit that any working systemd-analyze accepts.
        with open(os.path.join(root, "usr/lib/systemd/system/punch-control.service"), "w") as f:
            f.write("[Service]\nExecStart=/usr/bin/punch-broker --version\n")
        r = run(analyze, "verify", f"--root={root}", "punch-control.service")
        if r.returncode:
            skip(f"systemd-analyze verify cannot run here (a trivial unit fails too): {r.stderr.strip()}")
        report = []
        for name, variable in SERVERS.items():
            check_unit_text(root, name, variable)
            report.append(f"{name}.service exposure {verify(analyze, root, name)}")
        report.append(check_syscalls(analyze, root, tmp))
    print("PASS: " + "; ".join(report))


if __name__ == "__main__":
    main()
