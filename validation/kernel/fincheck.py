#!/usr/bin/env python3
"""synsim's FIN check: when a client's FIN is never delivered, when does the
real kernel send it again, and does synsim's `lost-fin-forever` scenario
send it at the same times?

Two network namespaces, cli (10.98.1.2) --veth-- srv (10.98.1.1). A
client in cli connects to a listener in srv; once it is connected, srv
routes cli's address into a blackhole, so nothing srv sends reaches the
client any more, and the client close()s: to it, its FIN is never
acknowledged, as if each one were lost (the kernel here has no netem or
tc actions to drop it on the way). A packet socket at srv sees every FIN
arrive. The check reads the first FINs' times,
takes the same ones from the pcap of `synsim trace lost-fin-forever
--delay 25us --hz 250` (the veth's RTT is tens of microseconds; the
timers on the kernel's timer wheel at this kernel's CONFIG_HZ, read from
/boot/config-$(uname -r) when it is there, else 250), and compares the
gaps between them.

    sudo python3 validation/kernel/fincheck.py [--synsim PATH] [--fins N]

Exit status: 0 when every gap agrees within one timer-wheel slot (a
timer is rounded up by at most 1/8 of its length, plus a jiffy, by an
amount that depends on the clock's phase when it was armed, on either
side), or when the check cannot run here (a SKIP line); 1 when they
disagree.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kcheck  # noqa: E402  (prepare, sh, log)

PID = os.getpid()
NS = {k: f"fc-{k}-{PID}" for k in ("srv", "cli")}
SRV, CLI, PORT = "10.98.1.1", "10.98.1.2", 8080

# Runs in srv: a packet socket on s-cli sees every arriving segment before
# the ingress filter drops the FINs; prints the client FINs' times (s).
SNIFFER = r"""
import json, socket, struct, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0800))
s.bind(("s-cli", 0))
s.settimeout(0.2)
fins, end = [], time.monotonic() + float(sys.argv[1])
print("ready", flush=True)
while time.monotonic() < end and len(fins) < int(sys.argv[2]):
    try:
        frame = s.recv(2048)
    except socket.timeout:
        continue
    ip = frame[14:]
    if len(ip) < 40 or ip[9] != 6 or socket.inet_ntoa(ip[12:16]) != sys.argv[3]:
        continue
    tcp = ip[(ip[0] & 15) * 4:]
    if tcp[13] & 1:
        fins.append(time.monotonic())
print(json.dumps(fins), flush=True)
"""

SERVER = r"""
import socket, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", %d)); l.listen(8)
c, _ = l.accept()
time.sleep(30)
""" % PORT

CLIENT = r"""
import socket, sys
c = socket.create_connection(("%s", %d), timeout=5)
print("connected", flush=True)
sys.stdin.readline()
c.close()
""" % (SRV, PORT)


def nsx(ns, *args, **kw):
    return kcheck.sh("ip", "netns", "exec", NS[ns], *args, **kw)


def popen(ns, *args, stdin=None):
    return subprocess.Popen(["ip", "netns", "exec", NS[ns], *args], stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def setup():
    for ns in NS.values():
        kcheck.sh("ip", "netns", "add", ns)
    kcheck.sh("ip", "link", "add", "s-cli", "netns", NS["srv"], "type", "veth", "peer", "name", "c-srv",
              "netns", NS["cli"])
    for ns, dev, addr in (("srv", "s-cli", SRV), ("cli", "c-srv", CLI)):
        nsx(ns, "ip", "addr", "add", f"{addr}/24", "dev", dev)
        nsx(ns, "ip", "link", "set", dev, "up")
        nsx(ns, "ip", "link", "set", "lo", "up")


def teardown(procs):
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=5)
    for ns in NS.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def kernel_fins(n):
    procs = []
    try:
        setup()
        sniffer = popen("srv", sys.executable, "-c", SNIFFER, "12", str(n), CLI)
        procs.append(sniffer)
        assert sniffer.stdout.readline().strip() == "ready"
        procs.append(popen("srv", sys.executable, "-c", SERVER))
        time.sleep(0.3)
        client = popen("cli", sys.executable, "-c", CLIENT, stdin=subprocess.PIPE)
        procs.append(client)
        if client.stdout.readline().strip() != "connected":
            raise RuntimeError(f"client: {client.stderr.read().strip()}")
        nsx("srv", "ip", "route", "add", "blackhole", f"{CLI}/32")
        time.sleep(0.1)
        client.stdin.write("close\n")
        client.stdin.flush()
        out, err = sniffer.communicate(timeout=20)
        if sniffer.returncode != 0:
            raise RuntimeError(f"sniffer: {err.strip()}")
        return json.loads(out.strip().splitlines()[-1])
    finally:
        teardown(procs)


def config_hz():
    """This kernel's CONFIG_HZ (250 when its config is not in /boot)."""
    try:
        for line in Path(f"/boot/config-{os.uname().release}").read_text().splitlines():
            if line.startswith("CONFIG_HZ="):
                return int(line.split("=")[1])
    except OSError:
        pass
    return 250


def synsim_fins(synsim, n, work):
    """FIN times (s) in the pcap of `synsim trace lost-fin-forever` (tap at the client)."""
    pcap = work / "lost-fin-forever.pcap"
    kcheck.sh(str(synsim), "trace", "lost-fin-forever", "--delay", "25us", "--hz", str(config_hz()),
              "--pcap", str(pcap))
    data = pcap.read_bytes()
    magic, = struct.unpack("<I", data[:4])
    nano = magic == 0xA1B23C4D
    link, = struct.unpack("<I", data[20:24])
    off, fins = 24, []
    while off + 16 <= len(data) and len(fins) < n:
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ip = pkt[14:] if link == 1 else pkt
        tcp = ip[(ip[0] & 15) * 4:]
        # The server never closes in this scenario: every FIN is the client's.
        if ip[9] == 6 and tcp[13] & 1:
            fins.append(sec + frac / (1e9 if nano else 1e6))
    return fins


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synsim", type=Path, help="the synsim binary (default: the newest in target/)")
    ap.add_argument("--fins", type=int, default=6, help="FINs to compare (the first and N-1 resends)")
    args = ap.parse_args()
    synsim, _bindir, work = kcheck.prepare(args.synsim, None, "fincheck-")
    kernel = kernel_fins(args.fins)
    ours = synsim_fins(synsim, args.fins, work)
    if len(kernel) < args.fins or len(ours) < args.fins:
        kcheck.log(f"too few FINs: kernel {len(kernel)}, synsim {len(ours)}")
        return 1
    kgaps = [b - kernel[0] for b in kernel[1:]]
    sgaps = [b - ours[0] for b in ours[1:]]
    ok = True
    print("| FIN | kernel (s after the first) | synsim | verdict |")
    print("|---|---|---|---|")
    for i, (k, s) in enumerate(zip(kgaps, sgaps), 1):
        # One timer-wheel slot: at most 1/8 of the timer, plus jiffies.
        agree = abs(k - s) <= s / 8 + 0.012
        ok &= agree
        print(f"| {i + 1} | {k:.3f} | {s:.3f} | {'agrees' if agree else 'DISAGREES'} |")
    kcheck.log(f"kernel {os.uname().release}: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
