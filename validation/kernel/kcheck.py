#!/usr/bin/env python3
"""synsim's kernel check: the real Linux listener vs synsim, point by point.

Three network namespaces on this host:

    cli (10.99.1.2) --veth-- srv (10.99.1.1, 10.99.2.1) --veth-- atk (10.99.2.2)

srv runs a plain listener (build/listener) with the point's sysctls; cli runs
the legit client (build/client); atk sends spoofed SYNs (build/synflood)
from 198.18.0.0/15. srv routes 198.18.0.0/15 back to atk, which has
forwarding off and so drops the SYN-ACKs (counted there as IpInAddrErrors):
nothing leaves the namespaces. Then synsim runs the same settings and the two
are compared.

    sudo python3 validation/kernel/kcheck.py [--quick] [--points ID,ID] [--out DIR]

Exit status: 0 when every point agrees or is a documented disagreement (and
when the check cannot run here: it prints a SKIP line); 1 when a point that
is expected to agree does not; 2 on a usage or setup error.
"""

import argparse
import csv
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PID = os.getpid()
NS = {k: f"kc-{k}-{PID}" for k in ("srv", "cli", "atk")}
SRV_CLI, CLI_ADDR = "10.99.1.1", "10.99.1.2"
SRV_ATK, ATK_ADDR = "10.99.2.1", "10.99.2.2"
SPOOF_NET = "198.18.0.0/15"
SPOOF_SOURCES = 1 << 17
# The connect flood's real hosts: FLOOD_HOSTS addresses from FLOOD_BASE on atk's veth.
FLOOD_BASE, FLOOD_HOSTS = "10.99.2.10", 16
# The client program reads connect()'s result when epoll wakes it: 0.15 ms
# (median) after the SYN-ACK left the server on this testbed. An RST that
# arrives first makes connect() fail with ECONNRESET; synsim's client
# closes after this hold.
CLIENT_WAKEUP = "150us"

# One point's timeline (seconds). The flood starts at 0; counters are read at
# WARMUP and at WARMUP + LEGIT + TAIL; legit clients connect during
# [WARMUP, WARMUP + LEGIT]; TAIL covers their last SYN retries (tcp_syn_retries
# = 2 with the doubling schedule: connect() fails 7 s after its first SYN).
WARMUP, LEGIT, TAIL = 3.0, 10.0, 8.0
# With a slow application one kernel run spreads as wide as a gate (over
# four runs: TCPReqQFullDoCookies 50-189 at aq16-abort0; aq64-abort0's
# SYN-RECV mean 9.2-16.8 over three sessions), so those points compare
# synsim with the mean of several.
SLOW_APP_KERNEL_RUNS = 4
LEGIT_RATE = 30.0
CLIENT_SYN_RETRIES = 2


def P(pid, flood, mode="poisson", cookies=0, backlog=128, msb=2048, retries=5, peers="fresh", known=None, quick=False,
      what="", legit=LEGIT_RATE, accept=0, abort=0, defer=0, client_ts=1, workers=1, service="constant",
      kind="spoofed-syn"):
    return dict(id=pid, flood=flood, mode=mode, cookies=cookies, backlog=backlog, msb=msb, retries=retries,
                peers=peers, known=known, quick=quick, what=what, legit=legit, accept=accept, abort=abort,
                defer=defer, client_ts=client_ts, workers=workers, service=service, kind=kind)


POINTS = [
    P("base", 0, what="no flood"),
    P("k1-c0-r1", 50, "constant", retries=1, quick=True,
      what="issue 12 #1: constant 50 SYN/s, backlog 128, cookies off, 1 SYN-ACK retry"),
    P("k1-c0-r5", 50, "constant", retries=5, what="issue 12 #1 with 5 SYN-ACK retries"),
    P("k1-c1-r1", 50, "constant", cookies=1, retries=1, what="issue 12 #1 with cookies on"),
    P("p50-c0-r1", 50, retries=1, what="Poisson 50 SYN/s, the same otherwise (no phase lock)"),
    P("k2-remembered", 300, backlog=1024, msb=1024, peers="remembered",
      what="issue 12 #2: 300 SYN/s, backlog 1024, 3/4 rule, the client is a remembered peer"),
    P("q34-300-fresh", 300, backlog=1024, msb=1024, what="the same, fresh boot (no peer proven)"),
    P("q34-1k", 1000, backlog=1024, msb=1024, what="3/4 rule binds: SYN queue capped at 769"),
    P("q34-10k", 10000, backlog=1024, msb=1024, quick=True, what="3/4 rule binds at 10k SYN/s"),
    P("q34-10k-r1", 10000, backlog=1024, msb=1024, retries=1, what="3/4 rule, 10k SYN/s, 1 retry"),
    P("b1024-10k", 10000, backlog=1024, msb=2048, what="backlog 1024 binds (1025 requests)"),
    P("c0-1k-r1", 1000, retries=1, what="cookies off, 1k SYN/s, 1 retry"),
    P("c0-1k-r5", 1000, what="cookies off, 1k SYN/s, 5 retries"),
    P("c0-10k", 10000, what="cookies off, 10k SYN/s"),
    P("c0-10k-const-r1", 10000, "constant", retries=1, quick=True,
      what="cookies off at saturation, constant 10k SYN/s"),
    P("c0-100k", 100000, what="cookies off, 100k SYN/s"),
    P("c0-100k-b1024-r1", 100000, backlog=1024, retries=1, what="cookies off, 100k SYN/s, backlog 1024, 1 retry"),
    P("c1-1k", 1000, cookies=1, what="cookies on, 1k SYN/s"),
    P("c1-10k-b1024", 10000, cookies=1, backlog=1024, what="cookies on, 10k SYN/s, backlog 1024"),
    P("c1-100k", 100000, cookies=1, quick=True, what="cookies on under a heavy flood"),
    P("c1-100k-b1024-r1", 100000, cookies=1, backlog=1024, retries=1, what="cookies on, 100k SYN/s, backlog 1024, 1 retry"),
    # Issue 13: a slow application (accept() 20/s) against 50 legit connections/s, no flood.
    P("aq16-abort0", 0, cookies=1, backlog=16, legit=50, accept=20, what="accept 20/s, backlog 16, abort_on_overflow 0"),
    P("aq16-abort1", 0, cookies=1, backlog=16, legit=50, accept=20, abort=1, what="the same, abort_on_overflow 1"),
    P("aq64-abort0", 0, cookies=1, backlog=64, legit=50, accept=20, what="accept 20/s, backlog 64, abort_on_overflow 0"),
    P("aq64-abort1", 0, cookies=1, backlog=64, legit=50, accept=20, abort=1, what="the same, abort_on_overflow 1"),
    # Issue 12: a fresh boot with tcp_no_metrics_save = 0, the kernel default.
    P("k2-saved", 300, backlog=1024, msb=1024, peers="saved",
      what="as k2-remembered from a fresh boot, metrics saved: proven once its first connection has ended"),
    # Issue 12: TCP_DEFER_ACCEPT 1 s (nginx's deferred). The client sends no data and closes at once:
    # its bare ACK is dropped (TCPDeferAcceptDrop), its FIN completes the handshake.
    P("k2-saved-nots", 300, backlog=1024, msb=1024, peers="saved", client_ts=0,
      what="k2-saved with the client's tcp_timestamps = 0: RTT samples without timestamps (Karn)"),
    P("da1", 0, defer=1, what="TCP_DEFER_ACCEPT 1 s, no flood: bare ACK dropped, the FIN completes"),
    P("da1-q34-300", 300, backlog=1024, msb=1024, defer=1,
      what="TCP_DEFER_ACCEPT 1 s under the q34-300-fresh flood"),
    # Issue 13: 16 real hosts complete 100 handshakes/s (constant) and hold them open, silent, against an
    # application of 4 workers serving 80 connections/s (exponential service times); legit 30/s.
    P("cflood-100", 100, "constant", cookies=1, backlog=64, accept=80, workers=4, service="exponential",
      kind="connect-flood", what="connect flood 100/s from 16 hosts, 4 workers accepting 80/s, backlog 64"),
]

GATED = ["TcpExtListenDrops", "TcpExtListenOverflows", "TcpExtTCPReqQFullDrop", "TcpExtTCPReqQFullDoCookies",
         "TcpExtSyncookiesSent", "TcpExtSyncookiesRecv", "TcpExtTCPDeferAcceptDrop"]
REPORTED = GATED + ["TcpExtTCPSynRetrans", "TcpOutRsts"]
COUNT_FLOOR = 20  # counts at or below this on both sides agree (noise)

children = []


def log(msg):
    print(f"[kcheck {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def sh(*args, check=True, capture=True, timeout=30):
    r = subprocess.run(args, capture_output=capture, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: exit {r.returncode}: {(r.stderr or '').strip()}")
    return r.stdout if capture else ""


def nsx(ns, *args, **kw):
    return sh("ip", "netns", "exec", NS[ns], *args, **kw)


def spawn(ns, *args, out=None):
    p = subprocess.Popen(["ip", "netns", "exec", NS[ns], *args], stdout=out or subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    children.append(p)
    return p


def finish(p, timeout):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    if p in children:
        children.remove(p)
    return out or "", err or ""


# ---------------------------------------------------------------- namespaces

def remove_stale():
    """Namespaces of an earlier run that was killed (its pid is gone)."""
    for line in sh("ip", "netns", "list", check=False).splitlines():
        m = re.match(r"^(kc-(srv|cli|atk)-(\d+))\b", line)
        if m and not Path(f"/proc/{m.group(3)}").exists():
            sh("ip", "netns", "del", m.group(1), check=False)


def teardown():
    for p in list(children):
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=5)
        except Exception:
            pass
    children.clear()
    for ns in NS.values():
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def mac(ns, dev):
    return re.search(r"link/ether (\S+)", nsx(ns, "ip", "link", "show", dev)).group(1)


def setup():
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
    sh("ip", "link", "add", "s-cli", "netns", NS["srv"], "type", "veth", "peer", "name", "c-srv", "netns", NS["cli"])
    sh("ip", "link", "add", "s-atk", "netns", NS["srv"], "type", "veth", "peer", "name", "a-srv", "netns", NS["atk"])
    for ns, dev, addr in (("srv", "s-cli", SRV_CLI), ("srv", "s-atk", SRV_ATK), ("cli", "c-srv", CLI_ADDR),
                          ("atk", "a-srv", ATK_ADDR)):
        nsx(ns, "ip", "addr", "add", f"{addr}/24", "dev", dev)
        nsx(ns, "ip", "link", "set", dev, "up")
    for ns in NS:
        nsx(ns, "ip", "link", "set", "lo", "up")
    base = [int(x) for x in FLOOD_BASE.split(".")]
    for i in range(FLOOD_HOSTS):
        nsx("atk", "ip", "addr", "add", ".".join(map(str, base[:3] + [base[3] + i])) + "/24", "dev", "a-srv")
    # Static neighbours: no ARP on the path, whatever the load.
    for ns, dev, addr, peer_ns, peer_dev in (("srv", "s-cli", CLI_ADDR, "cli", "c-srv"),
                                             ("cli", "c-srv", SRV_CLI, "srv", "s-cli"),
                                             ("srv", "s-atk", ATK_ADDR, "atk", "a-srv"),
                                             ("atk", "a-srv", SRV_ATK, "srv", "s-atk")):
        nsx(ns, "ip", "neigh", "replace", addr, "lladdr", mac(peer_ns, peer_dev), "dev", dev, "nud", "permanent")
    # SYN-ACKs to the spoofed range go to atk, which does not forward: they die there.
    # (A blackhole route in srv would not do: tcp_conn_request() drops a SYN whose
    # SYN-ACK has no route, so the flood would never fill the SYN queue.)
    nsx("srv", "ip", "route", "add", SPOOF_NET, "via", ATK_ADDR, "dev", "s-atk")
    for key in ("all", "default", "s-atk", "s-cli"):
        nsx("srv", "sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0")
    nsx("atk", "sysctl", "-qw", "net.ipv4.conf.all.forwarding=0")
    # The legit client: the doubling SYN schedule synsim has (issue 12 #3), 2 retries.
    nsx("cli", "sysctl", "-qw", f"net.ipv4.tcp_syn_retries={CLIENT_SYN_RETRIES}")
    nsx("cli", "sysctl", "-qw", "net.ipv4.tcp_syn_linear_timeouts=0")


def read_counters(ns):
    """nstat's names from /proc/net/{netstat,snmp} of the namespace."""
    out = {}
    text = nsx(ns, "cat", "/proc/net/netstat", "/proc/net/snmp")
    lines = text.splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        h, v = head.split(), vals.split()
        if not h or h[0] != v[0]:
            continue
        prefix = h[0].rstrip(":")
        for k, x in zip(h[1:], v[1:]):
            try:
                out[prefix + k] = int(x)
            except ValueError:
                pass
    return out


def softnet_drops():
    return sum(int(line.split()[1], 16) for line in Path("/proc/net/softnet_stat").read_text().splitlines())


class Sampler(threading.Thread):
    """SYN-RECV count and accept-queue length of the listener, every 0.5 s."""

    def __init__(self, port, dump=None):
        super().__init__(daemon=True)
        self.port, self.syn_recv, self.acceptq, self.dump = port, [], [], dump
        self.halt = threading.Event()

    def run(self):
        while not self.halt.wait(0.5):
            try:
                r = subprocess.run(["ip", "netns", "exec", NS["srv"], "ss", "-Htn", "state", "syn-recv"],
                                   capture_output=True, text=True, timeout=5)
                self.syn_recv.append(sum(1 for line in r.stdout.splitlines() if f":{self.port} " in line))
                if self.dump:  # each request with its timer (retransmissions so far), for --keep
                    r = subprocess.run(["ip", "netns", "exec", NS["srv"], "ss", "-Htno", "state", "syn-recv"],
                                       capture_output=True, text=True, timeout=5)
                    self.dump.write(f"t={time.monotonic():.3f}\n{r.stdout}")
                r = subprocess.run(["ip", "netns", "exec", NS["srv"], "ss", "-Hltn", "sport", "=", f":{self.port}"],
                                   capture_output=True, text=True, timeout=5)
                f = r.stdout.split()
                if len(f) >= 2:
                    self.acceptq.append(int(f[1]))
            except (subprocess.TimeoutExpired, ValueError):
                pass


# ---------------------------------------------------------------- one point

def run_kernel(pt, idx, bindir, work, capture=False, run=0):
    """One kernel run of a point. Run r > 0 draws other seeds (flood, client,
    service times) and writes its raw files with an `-rR` suffix."""
    port = 8000 + idx + 100 * run  # a fresh listener port: nothing left from an earlier run
    seed = str(idx + 1 + 100 * run)
    tag = pt["id"] + (f"-r{run}" if run else "")
    srv = lambda k, v: nsx("srv", "sysctl", "-qw", f"net.{k}={v}")  # noqa: E731
    srv("ipv4.tcp_syncookies", pt["cookies"])
    srv("ipv4.tcp_max_syn_backlog", pt["msb"])
    srv("ipv4.tcp_synack_retries", pt["retries"])
    srv("core.somaxconn", 4096)
    srv("ipv4.tcp_abort_on_overflow", pt["abort"])
    srv("ipv4.tcp_no_metrics_save", 0 if pt["peers"] in ("remembered", "saved") else 1)
    nsx("srv", "ip", "tcp_metrics", "flush", "all", check=False)
    nsx("cli", "sysctl", "-qw", f"net.ipv4.tcp_timestamps={pt['client_ts']}")
    total = WARMUP + LEGIT + TAIL
    lst = spawn("srv", str(bindir / "listener"), "--port", str(port), "--backlog", str(pt["backlog"]),
                "--accept-rate", str(pt["accept"]), "--workers", str(pt["workers"]), "--service", pt["service"],
                "--seed", seed, "--count-peer", CLI_ADDR, "--log", str(work / f"{tag}-accepts.txt"),
                "--duration", str(total + 20), *(["--defer-accept", str(pt["defer"])] if pt["defer"] else []))
    if "ready" not in lst.stdout.readline():
        raise RuntimeError("listener did not start")
    if pt["peers"] == "remembered":
        # The client connects (and closes) before the flood: its address gets a
        # tcp_metrics entry in srv, so tcp_peer_is_proven() is true for it.
        nsx("cli", str(bindir / "client"), "--dst", SRV_CLI, "--port", str(port), "--rate", "30",
            "--duration", "1", "--wait", "2", "--out", "/dev/null", timeout=10)
        time.sleep(0.5)
    cap = None
    if capture:  # the legit client's segments as srv sees them (tshark), for --keep
        cap = spawn("srv", "tshark", "-q", "-i", "s-cli", "-w", str(work / f"{tag}-srv.pcapng"),
                    "-f", f"tcp port {port}", out=subprocess.DEVNULL)
        time.sleep(1.0)
    before_atk = read_counters("atk")
    c0 = read_counters("srv")
    flood = None
    t0 = time.monotonic()
    if pt["flood"] > 0 and pt["kind"] == "connect-flood":
        flood = spawn("atk", str(bindir / "client"), "--dst", SRV_ATK, "--port", str(port), "--rate", str(pt["flood"]),
                      "--arrival", pt["mode"], "--duration", str(total + 2), "--wait", "1", "--src", FLOOD_BASE,
                      "--sources", str(FLOOD_HOSTS), "--keep-open", "1", "--seed", seed, "--out", "/dev/null")
    elif pt["flood"] > 0:
        flood = spawn("atk", str(bindir / "synflood"), "--dst", SRV_ATK, "--dport", str(port), "--rate",
                      str(pt["flood"]), "--mode", pt["mode"], "--duration", str(total + 2), "--seed", seed)
    time.sleep(max(0.0, t0 + WARMUP - time.monotonic()))
    c1, sd1 = read_counters("srv"), softnet_drops()
    dump = open(work / f"{tag}-syn-recv.txt", "w")
    sampler = Sampler(port, dump)
    sampler.start()
    csv_path = work / f"{tag}-client.csv"
    cl = spawn("cli", str(bindir / "client"), "--dst", SRV_CLI, "--port", str(port), "--rate", str(pt["legit"]),
               "--duration", str(LEGIT), "--wait", str(TAIL - 0.3), "--seed", seed, "--out", str(csv_path))
    finish(cl, LEGIT + TAIL + 10)
    time.sleep(max(0.0, t0 + total - time.monotonic()))
    c2, sd2 = read_counters("srv"), softnet_drops()
    window = time.monotonic() - t0 - WARMUP
    sampler.halt.set()
    fl_out = ""
    if flood:
        flood.send_signal(signal.SIGTERM)
        fl_out, fl_err = finish(flood, 10)
        m = re.search(r"started=(\d+)", fl_err)
        if m:  # the connect flood's client: what it started while the point ran
            fl_out = f"sent={m.group(1)} elapsed_s={total:.1f} rate={int(m.group(1)) / total:.1f}"
    atk = read_counters("atk")
    lst.send_signal(signal.SIGTERM)
    lst_out, _ = finish(lst, 10)
    if cap:
        cap.send_signal(signal.SIGTERM)
        finish(cap, 10)
    m = re.search(r"from_peer=(\d+)", lst_out)  # the legit client's connections only
    accepted = int(m.group(1)) if m else 0
    sampler.join(10)
    dump.close()
    d = {k: c2.get(k, 0) - c1.get(k, 0) for k in c2}
    with open(work / f"{tag}-nstat.txt", "w") as f:  # every server counter that moved, for --keep
        f.writelines(f"{k} {v}\n" for k, v in sorted(d.items()) if v)
    res = {k: d.get(k, 0) for k in REPORTED}
    res["IcmpInDestUnreachs_whole"] = c2.get("IcmpInDestUnreachs", 0) - c0.get("IcmpInDestUnreachs", 0)
    res["synacks_to_spoofed_whole"] = atk.get("IpInAddrErrors", 0) - before_atk.get("IpInAddrErrors", 0)
    res["softnet_drops"] = sd2 - sd1
    res["window_s"] = window
    m = re.search(r"sent=(\d+) .*elapsed_s=([\d.]+) rate=([\d.]+)", fl_out)
    res["flood_sent"] = int(m.group(1)) if m else 0
    res["flood_rate"] = float(m.group(3)) if m else 0.0
    res["syn_recv_mean"] = sum(sampler.syn_recv) / len(sampler.syn_recv) if sampler.syn_recv else float("nan")
    res["syn_recv_max"] = max(sampler.syn_recv) if sampler.syn_recv else 0
    res["accept_queue_mean"] = sum(sampler.acceptq) / len(sampler.acceptq) if sampler.acceptq else float("nan")
    res.update(client_tiers(csv_path))
    res["accepted_share"] = accepted / res["legit_attempts"]
    res["service_s"] = measured_service(work / f"{tag}-accepts.txt", pt)
    return res


def measured_service(path, pt):
    """The listener's real service time with one worker and a constant one:
    the mean gap between consecutive accept()s while it was busy (gaps within
    0.9-1.5x the asked service). It is a little longer than asked: each
    busy-until starts at the time read after the worker woke up, so the
    wake-up latency adds to every service (50.14 ms for 50 ms measured here),
    and the accept()s walk across the jiffies instead of keeping a phase.
    0 when there is nothing to measure."""
    if not pt["accept"] or pt["workers"] != 1 or pt["service"] != "constant":
        return 0.0
    asked = 1 / pt["accept"]
    try:
        t = [float(x) for x in Path(path).read_text().split()]
    except (OSError, ValueError):
        return 0.0
    gaps = [b - a for a, b in zip(t, t[1:]) if 0.9 * asked <= b - a <= 1.5 * asked]
    return sum(gaps) / len(gaps) if len(gaps) >= 10 else 0.0


def client_tiers(path):
    """Success ratio and connect-time tiers: first SYN, after 1, after 2 SYN retries."""
    n = est = t0 = t1 = t2 = 0
    with open(path) as f:
        for row in csv.DictReader(f):
            n += 1
            if row["outcome"] != "established":
                continue
            est += 1
            ms = float(row["connect_ms"])
            if ms < 500:
                t0 += 1
            elif ms < 2000:
                t1 += 1
            else:
                t2 += 1
    n = max(n, 1)
    return dict(legit_attempts=n, success=est / n, tier0=t0 / n, tier1=t1 / n, tier2=t2 / n)


def netdev_max_backlog():
    """Global, not per namespace (absent from /proc/sys/net/core in a netns)."""
    try:
        return int(Path("/proc/sys/net/core/netdev_max_backlog").read_text())
    except OSError:
        return 1000


def synsim_toml(pt, rate, service_s=0.0):
    """Point `pt` as a synsim experiment file; `rate` the flood's, `service_s`
    the listener's measured service time (0: the asked one)."""
    total = WARMUP + LEGIT + TAIL
    accept = 1 / service_s if service_s else pt["accept"]
    lines = [
        f'name = "kernel-check-{pt["id"]}"',
        f'description = "kernel check point {pt["id"]}: {pt["what"]}"',
        # A slow application makes the served share hinge on the attempts drawn: more replicates.
        "seed = 1", f"replicates = {10 if pt['accept'] else 3}",
        f'duration = "{total:g}s"', f'warmup = "{WARMUP:g}s"',
        "hz = 250   # the testbed kernel's CONFIG_HZ", "",
        "[network]",
        "one_machine = true   # namespaces of one kernel: every host reads the same jiffies",
        *network_lines(pt), "",
        "[server]",
        f"tcp_syncookies = {pt['cookies']}",
        f"listen_backlog = {pt['backlog']}", "somaxconn = 4096",
        f"tcp_max_syn_backlog = {pt['msb']}",
        f"tcp_synack_retries = {pt['retries']}",
        f"tcp_abort_on_overflow = {'true' if pt['abort'] else 'false'}",
        # As run_kernel sets it: metrics are saved only where the point says
        # so ("remembered": the client's connections before the flood wrote an
        # entry; "saved": a fresh boot, the first connection that ends writes it).
        f"tcp_no_metrics_save = {'false' if pt['peers'] in ('remembered', 'saved') else 'true'}",
        (f"accept_rate = {accept:.6g}" + ("   # the listener's measured service time" if service_s else ""))
        if pt["accept"] else 'accept_rate = "unlimited"',
        f"workers = {pt['workers']}", f'service_time = "{pt["service"]}"',
        f"tcp_defer_accept = {pt['defer']}   # the listener's TCP_DEFER_ACCEPT, seconds",
        f"netdev_max_backlog = {netdev_max_backlog()}", "",
        "[clients.legit]", "hosts = 1", f"rate = {pt['legit']:g}",
        f'hold = "{CLIENT_WAKEUP}"   # the client program closes when epoll wakes it',
        f'start = "{WARMUP:g}s"', f'stop = "{WARMUP + LEGIT:g}s"', f"tcp_syn_retries = {CLIENT_SYN_RETRIES}",
        "tcp_syn_linear_timeouts = 0   # as the client namespace sets it",
        f"tcp_timestamps = {'true' if pt['client_ts'] else 'false'}",
    ]
    if pt["peers"] == "remembered":
        lines.append("remembered = 1.0   # it connected before the flood (run_kernel)")
    if rate > 0 and pt["kind"] == "connect-flood":
        lines += ["", "[attackers.flood]", 'kind = "connect-flood"', f"rate = {rate:g}",
                  f'profile = {{ shape = "{pt["mode"]}" }}', f"hosts = {FLOOD_HOSTS}"]
    elif rate > 0:
        lines += ["", "[attackers.flood]", 'kind = "spoofed-syn"', f"rate = {rate:g}",
                  f'profile = {{ shape = "{pt["mode"]}" }}', f"sources = {SPOOF_SOURCES}"]
    return "\n".join(lines) + "\n"


def network_lines(pt):
    """The veths as synsim's [network]. Segments a host sends at one instant
    (a timer-wheel tick's SYN retransmissions) leave it one by one, in order:
    with --capture such a batch reached srv spread over 10-320 us (gaps:
    median 11 us, p90 43 us), and with a slow application which of them takes
    the accept-queue room an accept() freed decides the point. There the
    hosts send one segment at a time (transmission_time); elsewhere, where
    the server answers a 100k SYN/s flood faster than that per-segment cost
    allows, a jittered client-to-server delay spreads a batch instead (each
    connection's path stays FIFO, but a batch may reorder)."""
    if pt["accept"]:
        return ['delay = "10us"   # one way on the veth',
                'transmission_time = { dist = "exponential", mean = "12us" }   # a batch leaves one by one']
    return ['delay = "20us"   # one way on the veth',
            'client_to_server = { delay = { dist = "uniform", low = "20us", high = "100us" } }']


def run_synsim(pt, rate, synsim, work, service_s=0.0):
    toml = work / f"{pt['id']}.toml"
    toml.write_text(synsim_toml(pt, rate, service_s))
    out = work / f"{pt['id']}-synsim"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name(out.name + ".partial"), ignore_errors=True)
    os.environ["RUST_BACKTRACE"] = "0"
    sh(str(synsim), "run", str(toml), "--out", str(out), "--progress", "quiet", "--no-wall-clock", timeout=600)
    rows = list(csv.DictReader(open(out / "summary.csv")))
    mean = lambda k: sum(float(r[k]) for r in rows) / len(rows)  # noqa: E731
    res = {k: mean(k) for k in REPORTED}
    # connect()'s success as the client program sees it: not reset before it looked.
    res["success"] = (mean("legit_established") - mean("legit_reset_after_established")) / max(mean("legit_attempts"), 1)
    res["syn_recv_mean"] = mean("syn_recv_mean")
    res["accept_queue_mean"] = mean("accept_queue_mean")
    res["legit_attempts"] = mean("legit_attempts")
    res["softnet_drops"] = mean("ingress_drops")
    res["accepted_share"] = mean("legit_served_ratio")
    # Connect-time tiers from the histogram (le_ms upper bounds).
    tiers = [0.0, 0.0, 0.0]
    for r in csv.DictReader(open(out / "connect_time.csv")):
        le = float(r["le_ms"])
        tiers[0 if le <= 500 else 1 if le <= 2000 else 2] += float(r["count"])
    att = sum(float(r["legit_attempts"]) for r in rows) or 1.0
    res["tier0"], res["tier1"], res["tier2"] = (t / att for t in tiers)
    return res


def kernel_mean(runs):
    """The kernel side of a point over its runs: each key's mean, and under
    "spread" each key's (min, max) when there was more than one run."""
    k = {key: sum(r[key] for r in runs) / len(runs) for key in runs[0]}
    k["runs"] = len(runs)
    if len(runs) > 1:
        k["spread"] = {key: (min(r[key] for r in runs), max(r[key] for r in runs)) for key in runs[0]}
    return k


def compare(pt, k, s):
    bad = []
    if abs(k["success"] - s["success"]) > 0.10:
        bad.append("success")
    for c in GATED:
        a, b = k[c], s[c]
        if max(a, b) <= COUNT_FLOOR:
            continue
        if min(a, b) <= 0 or max(a, b) / min(a, b) > 2.0:
            bad.append(c.replace("TcpExt", ""))
    a, b = k["syn_recv_mean"], s["syn_recv_mean"]
    if not math.isnan(a) and max(a, b) > 5 and abs(a - b) > 0.10 * max(a, b):
        bad.append("SYN-RECV mean")
    if pt["accept"]:
        # A slow application (issue 13): what it served, its queue, the retransmissions and resets.
        if abs(k["accepted_share"] - s["accepted_share"]) > 0.10:
            bad.append("served")
        for c in ("TcpExtTCPSynRetrans", "TcpOutRsts"):
            a, b = k[c], s[c]
            if max(a, b) > COUNT_FLOOR and (min(a, b) <= 0 or max(a, b) / min(a, b) > 2.0):
                bad.append(c.replace("TcpExt", ""))
        a, b = k["accept_queue_mean"], s["accept_queue_mean"]
        if not math.isnan(a) and max(a, b) > 5 and abs(a - b) > 0.10 * max(a, b):
            bad.append("accept-queue mean")
    return bad


# ---------------------------------------------------------------- report

COLS = [("success", "legit success", "{:.3f}"), ("tier0", "first SYN", "{:.2f}"), ("tier1", "1 retry", "{:.2f}"),
        ("tier2", "2 retries", "{:.2f}"), ("TcpExtListenDrops", "ListenDrops", "{:.0f}"),
        ("TcpExtListenOverflows", "ListenOverflows", "{:.0f}"), ("TcpExtTCPReqQFullDrop", "ReqQFullDrop", "{:.0f}"),
        ("TcpExtTCPReqQFullDoCookies", "ReqQFullDoCookies", "{:.0f}"),
        ("TcpExtSyncookiesSent", "SyncookiesSent", "{:.0f}"), ("TcpExtSyncookiesRecv", "SyncookiesRecv", "{:.0f}"),
        ("TcpExtTCPDeferAcceptDrop", "DeferAcceptDrop", "{:.0f}"),
        ("TcpExtTCPSynRetrans", "SYN-ACK retrans", "{:.0f}"), ("TcpOutRsts", "OutRsts", "{:.0f}"),
        ("syn_recv_mean", "SYN-RECV mean", "{:.1f}"), ("accept_queue_mean", "accept queue mean", "{:.1f}")]


def fmt(spec, v):
    return "nan" if isinstance(v, float) and math.isnan(v) else spec.format(v)


def kernel_cell(spec, k, key):
    if "spread" not in k:
        return fmt(spec, k[key])
    lo, hi = k["spread"][key]
    return f"{fmt(spec, k[key])} ({fmt(spec, lo)}–{fmt(spec, hi)})"


def write_report(results, out, kernel, elapsed):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "table.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["point", "side", "flood_asked", "flood_mode", "flood_sent_rate", "cookies", "backlog",
                    "tcp_max_syn_backlog", "synack_retries", "peers", "legit_rate", "accept_rate",
                    "abort_on_overflow"] + [c[0] for c in COLS] +
                   ["accepted_share", "legit_attempts", "ingress_drops", "synacks_to_spoofed", "flood_sent",
                    "verdict"])
        for pt, k, s, verdict in results:
            sides = [("kernel", k), ("synsim", s)]
            if "spread" in k:  # the kernel's range over its runs, as two more rows
                sides[1:1] = [(f"kernel_{end}", {key: v[i] for key, v in k["spread"].items()})
                              for i, end in enumerate(("min", "max"))]
            for side, r in sides:
                w.writerow([pt["id"], side, pt["flood"], pt["mode"], f"{k['flood_rate']:.1f}", pt["cookies"],
                            pt["backlog"], pt["msb"], pt["retries"], pt["peers"], pt["legit"], pt["accept"],
                            pt["abort"]] +
                           [fmt(c[2], r[c[0]]) for c in COLS] +
                           [fmt("{:.3f}", r["accepted_share"]), fmt("{:.0f}", r["legit_attempts"]),
                            fmt("{:.0f}", r.get("softnet_drops", float("nan"))),
                            fmt("{:.0f}", r.get("synacks_to_spoofed_whole", float("nan"))),
                            fmt("{:.0f}", r.get("flood_sent", float("nan"))), verdict])
    runs = results[0][1]["runs"] if results else 1
    kside = "kernel" if runs == 1 else f"kernel mean of {runs} runs (min–max)"
    md = [f"Kernel {kernel}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {len(results)} points, "
          f"{elapsed:.0f} s. Each cell: {kside} / synsim (mean of 3 seeds, 10 for a slow application). "
          "Counters over the "
          f"{LEGIT + TAIL:g} s after a {WARMUP:g} s warm-up.", "",
          "| point | flood SYN/s (sent) | cookies | backlog | max_syn_backlog | synack_retries | " +
          " | ".join(c[1] for c in COLS) + " | verdict |",
          "|" + "---|" * (7 + len(COLS))]
    for pt, k, s, verdict in results:
        flood = "0" if pt["flood"] == 0 else f"{pt['flood']:g} {pt['mode'][:5]} ({k['flood_rate']:.0f})"
        cells = [f"{kernel_cell(c[2], k, c[0])} / {fmt(c[2], s[c[0]])}" for c in COLS]
        peers = "" if pt["peers"] == "fresh" else f" {pt['peers']}"
        md.append(f"| {pt['id']} | {flood} | {pt['cookies']} | {pt['backlog']} | {pt['msb']}{peers} | "
                  f"{pt['retries']} | " + " | ".join(cells) + f" | {verdict} |")
    md += ["", "Points:", ""] + [f"- `{pt['id']}`: {pt['what']}" for pt, _, _, _ in results]
    (out / "table.md").write_text("\n".join(md) + "\n")
    return "\n".join(md)


# ---------------------------------------------------------------- main

def skip(msg):
    print(f"SKIP kernel check: {msg}", flush=True)
    sys.exit(0)


def build_tools(bindir):
    bindir.mkdir(parents=True, exist_ok=True)
    for name in ("listener", "client", "synflood", "relay"):
        src = HERE / "src" / f"{name}.c"
        exe = bindir / name
        if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
            sh("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(exe), str(src), "-lm", timeout=120)


def prepare(synsim, keep, prefix):
    """What every check does before its first point: skip (exit 0) where
    namespaces cannot be made, pick or build synsim, build the C tools,
    turn signals into KeyboardInterrupt (so the namespaces are removed), and
    make the work folder. Returns (synsim, bindir, work)."""
    if sys.platform != "linux":
        skip("not Linux")
    if os.geteuid() != 0:
        skip("not root (network namespaces and raw sockets need root)")
    for tool in ("ip", "ss", "gcc"):
        if not shutil.which(tool):
            skip(f"{tool} not found (apt-get install iproute2 gcc)")
    probe = f"kc-probe-{PID}"
    r = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if r.returncode != 0:
        skip(f"cannot create a network namespace: {r.stderr.strip()}")
    subprocess.run(["ip", "netns", "del", probe], capture_output=True)
    if synsim is None:
        found = [b for b in (REPO / "target" / "release" / "synsim", REPO / "target" / "debug" / "synsim") if b.exists()]
        if not found:
            log("building synsim (cargo build --locked)")
            sh("cargo", "build", "--locked", "--manifest-path", str(REPO / "Cargo.toml"), capture=False, timeout=1800)
            found = [REPO / "target" / "debug" / "synsim"]
        synsim = max(found, key=lambda b: b.stat().st_mtime)
    log(f"synsim: {synsim}; kernel {os.uname().release}")
    bindir = HERE / "build"
    build_tools(bindir)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    work = keep or Path(tempfile.mkdtemp(prefix=prefix))
    work.mkdir(parents=True, exist_ok=True)
    return synsim, bindir, work


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the CI subset (about 2 minutes)")
    ap.add_argument("--points", help="comma-separated point ids (default: all, or the quick subset)")
    ap.add_argument("--list", action="store_true", help="list the points and exit")
    ap.add_argument("--synsim", type=Path, help="synsim binary (default: the newer of target/release and "
                    "target/debug; built with `cargo build --locked` if neither exists)")
    ap.add_argument("--emit-toml", type=Path, metavar="DIR",
                    help="write each point's synsim experiment file into DIR and exit (no root needed)")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "latest")
    ap.add_argument("--keep", type=Path, help="keep raw files (client CSVs, TOMLs, synsim folders) here")
    ap.add_argument("--kernel-runs", type=int, default=None, metavar="N",
                    help="run each point N times on the kernel (other seeds each time) and compare synsim with "
                         f"the kernel's mean; the table shows the kernel's range (default: {SLOW_APP_KERNEL_RUNS} "
                         "at the points with a slow application, 1 elsewhere)")
    ap.add_argument("--capture", action="store_true", help="with --keep: a pcapng of the legit client's segments "
                    "at srv for each point (needs tshark)")
    args = ap.parse_args()
    if args.kernel_runs is not None and args.kernel_runs < 1:
        print("--kernel-runs must be at least 1", file=sys.stderr)
        return 2
    if args.emit_toml:
        args.emit_toml.mkdir(parents=True, exist_ok=True)
        for pt in POINTS:
            (args.emit_toml / f"{pt['id']}.toml").write_text(synsim_toml(pt, pt["flood"]))
        return 0
    if args.list:
        for pt in POINTS:
            print(f"{pt['id']:20} {'quick ' if pt['quick'] else '      '}{pt['what']}")
        return 0
    points = [p for p in POINTS if p["quick"]] if args.quick else POINTS
    if args.points:
        want = args.points.split(",")
        points = [p for p in POINTS if p["id"] in want]
        if len(points) != len(want):
            print(f"unknown point in {args.points}; see --list", file=sys.stderr)
            return 2
    args.synsim, bindir, work = prepare(args.synsim, args.keep, "kcheck-")
    kernel = os.uname().release
    netdev = Path("/proc/sys/net/core/netdev_max_backlog").read_text()
    results, start = [], time.monotonic()
    try:
        remove_stale()
        setup()
        for pt in points:
            idx = POINTS.index(pt)
            log(f"{pt['id']}: {pt['what']}")
            runs = []
            n_runs = args.kernel_runs or (SLOW_APP_KERNEL_RUNS if pt["accept"] else 1)
            for r in range(n_runs):
                runs.append(run_kernel(pt, idx, bindir, work, capture=args.capture and args.keep is not None, run=r))
                if n_runs > 1:
                    log(f"  kernel run {r + 1}/{n_runs}: success {runs[-1]['success']:.3f}")
            k = kernel_mean(runs)
            rate = pt["flood"]
            # Feed synsim the flood the kernel got if the sender fell short by > 5 %.
            if rate and abs(k["flood_rate"] / rate - 1) > 0.05:
                log(f"  sender reached {k['flood_rate']:.0f} of {rate} SYN/s; synsim gets the reached rate")
                rate = round(k["flood_rate"])
            if k.get("service_s"):
                log(f"  the listener served in {k['service_s'] * 1e3:.3f} ms (asked {1e3 / pt['accept']:g}); "
                    "synsim gets the measured time")
            try:
                s = run_synsim(pt, rate, args.synsim, work, k.get("service_s", 0.0))
                bad = compare(pt, k, s)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                why = str(e)
                m = re.search(r"panicked at (\S+?):?\n(.*)", why) or re.search(r"()(error: .*)", why)
                why = (f"panicked at {m.group(1)}: {m.group(2)}" if m and m.group(1) else
                       m.group(2) if m else why.splitlines()[0])[:160]
                log(f"  synsim failed: {why}")
                s = {c[0]: float("nan") for c in COLS} | {"accept_queue_mean": float("nan"), "legit_attempts": 0,
                                                           "accepted_share": float("nan")}
                bad = [f"synsim failed ({why})"]
            if pt["known"]:
                verdict = f"{pt['known']} ({', '.join(bad)})" if bad else "agrees (documented disagreement gone?)"
            else:
                verdict = "agree" if not bad else "DISAGREE: " + ", ".join(bad)
            if k["IcmpInDestUnreachs_whole"]:
                log(f"  note: srv got {k['IcmpInDestUnreachs_whole']} ICMP unreachables")
            log(f"  kernel success {k['success']:.3f}, synsim {s['success']:.3f}; {verdict}")
            results.append((pt, k, s, verdict))
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); cleaning up")
        return 130
    finally:
        teardown()
        if Path("/proc/sys/net/core/netdev_max_backlog").read_text() != netdev:
            Path("/proc/sys/net/core/netdev_max_backlog").write_text(netdev)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if results:
            table = write_report(results, args.out, kernel, time.monotonic() - start)
            print(table)
            print(f"\nwritten: {args.out}/table.md, {args.out}/table.csv")
    failed = [pt["id"] for pt, _, _, v in results if v.startswith("DISAGREE")]
    log(f"{len(results)} points in {time.monotonic() - start:.0f} s; "
        + (f"FAIL: {', '.join(failed)}" if failed else "PASS"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
