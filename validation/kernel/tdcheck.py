#!/usr/bin/env python3
"""synsim's teardown check: TIME-WAIT, RSTs and TIME-WAIT assassination on
the real Linux kernel with delay and jitter on the path, against synsim.

Three network namespaces; the middle one bridges the other two through a
userspace relay (build/relay, from src/relay.c) that delays every frame:

    cli (10.99.3.2) c-rel --veth-- r-cli [rel: relay] r-srv --veth-- s-rel (10.99.3.1) srv

The kernel here has no netem (CONFIG_NET_SCH_NETEM is not set), hence the
relay. The client opens 200 connections/s (Poisson) for 15 s and closes each
one as soon as it is established; the listener reads to EOF and closes.
Each point sets the relay's delay (constant 10 ms; independent
normal(10 ms, 2 ms) draws per frame, which reorder; the same draws kept FIFO
per flow) and the client namespace's `tcp_rfc1337`. Then synsim runs the
same settings (`reorder = true` for the independent draws).

    sudo flock /tmp/kcheck.lock python3 validation/kernel/tdcheck.py [--points ID,ID] [--out DIR]

It shares kcheck.py's helpers (namespaces, counters, process handling). The
points report and never gate: exit 0 when they ran (or SKIP), 2 on a usage
or setup error.
"""

import argparse
import csv
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import kcheck
from kcheck import HERE, log, sh, nsx, spawn, finish, read_counters

PID = os.getpid()
# kcheck's helpers look namespaces up in kcheck.NS: this check's three.
kcheck.NS.clear()
kcheck.NS.update({k: f"td-{k}-{PID}" for k in ("srv", "rel", "cli")})
NS = kcheck.NS
SRV_ADDR, CLI_ADDR = "10.99.3.1", "10.99.3.2"

RATE, LEGIT, TAIL, SETTLE = 200.0, 15.0, 3.0, 1.5
MEAN_MS, STD_MS = 10.0, 2.0


def T(pid, mode, rfc1337, what):
    return dict(id=pid, mode=mode, rfc1337=rfc1337, what=what)


POINTS = [
    T("td-const-r0", "constant", 0, "constant 10 ms each way, tcp_rfc1337 0"),
    T("td-const-r1", "constant", 1, "constant 10 ms each way, tcp_rfc1337 1"),
    T("td-normal-r0", "normal", 0, "normal(10 ms, 2 ms) per frame, independent (reorders), tcp_rfc1337 0"),
    T("td-normal-r1", "normal", 1, "normal(10 ms, 2 ms) per frame, independent (reorders), tcp_rfc1337 1"),
    T("td-fifo-r0", "fifo", 0, "normal(10 ms, 2 ms) per frame kept FIFO per flow, tcp_rfc1337 0"),
    T("td-fifo-r1", "fifo", 1, "normal(10 ms, 2 ms) per frame kept FIFO per flow, tcp_rfc1337 1"),
]

COUNTERS = ["TcpExtTW", "TcpExtTWKilled", "TcpOutRsts", "TcpEstabResets", "TcpExtTCPAbortOnClose",
            "TcpExtTCPAbortOnData", "TcpExtDelayedACKs", "TcpExtTCPACKSkippedTimeWait", "TcpExtTCPTimeWaitOverflow"]


def remove_stale():
    for line in sh("ip", "netns", "list", check=False).splitlines():
        m = re.match(r"^(td-(srv|rel|cli)-(\d+))\b", line)
        if m and not Path(f"/proc/{m.group(3)}").exists():
            sh("ip", "netns", "del", m.group(1), check=False)


def setup():
    for ns in NS.values():
        sh("ip", "netns", "add", ns)
    for ns in NS:
        # No IPv6 (router solicitations, DAD) on the path: only the check's frames.
        for key in ("all", "default"):
            nsx(ns, "sysctl", "-qw", f"net.ipv6.conf.{key}.disable_ipv6=1")
        nsx(ns, "ip", "link", "set", "lo", "up")
    sh("ip", "link", "add", "c-rel", "netns", NS["cli"], "type", "veth", "peer", "name", "r-cli", "netns", NS["rel"])
    sh("ip", "link", "add", "s-rel", "netns", NS["srv"], "type", "veth", "peer", "name", "r-srv", "netns", NS["rel"])
    nsx("cli", "ip", "addr", "add", f"{CLI_ADDR}/24", "dev", "c-rel")
    nsx("srv", "ip", "addr", "add", f"{SRV_ADDR}/24", "dev", "s-rel")
    for ns, dev in (("cli", "c-rel"), ("srv", "s-rel"), ("rel", "r-cli"), ("rel", "r-srv")):
        nsx(ns, "ip", "link", "set", dev, "up")
    # Static neighbours: the relay forwards frames as they are, MAC to MAC.
    nsx("cli", "ip", "neigh", "replace", SRV_ADDR, "lladdr", kcheck.mac("srv", "s-rel"), "dev", "c-rel", "nud",
        "permanent")
    nsx("srv", "ip", "neigh", "replace", CLI_ADDR, "lladdr", kcheck.mac("cli", "c-rel"), "dev", "s-rel", "nud",
        "permanent")
    # The relay's namespace has no address: its kernel drops what it sees
    # (frames for other MACs), only the relay's raw sockets forward them.


class TimeWaitSampler(threading.Thread):
    """TIME-WAIT sockets in the client namespace toward the point's port, every 0.5 s."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port, self.counts = port, []
        self.halt = threading.Event()

    def count(self):
        r = subprocess.run(["ip", "netns", "exec", NS["cli"], "ss", "-Htan", "state", "time-wait", "dport", "=",
                            f":{self.port}"], capture_output=True, text=True, timeout=10)
        return sum(1 for line in r.stdout.splitlines() if line.strip())

    def run(self):
        while not self.halt.wait(0.5):
            try:
                self.counts.append(self.count())
            except subprocess.TimeoutExpired:
                pass


def relay_counts(text):
    out = {}
    for line in text.splitlines():
        m = re.match(r"^(a->b|b->a) (.*)$", line)
        if m:
            side = "c2s" if m.group(1) == "a->b" else "s2c"
            for k, v in re.findall(r"(\w+)=(\d+)", m.group(2)):
                out[f"{side}_{k}"] = int(v)
    return out


def run_kernel(pt, idx, bindir, work):
    port = 9000 + idx
    nsx("cli", "sysctl", "-qw", f"net.ipv4.tcp_rfc1337={pt['rfc1337']}")
    total = LEGIT + TAIL + SETTLE
    relay = spawn("rel", str(bindir / "relay"), "--a", "r-cli", "--b", "r-srv", "--mode", pt["mode"], "--mean",
                  f"{MEAN_MS:g}", "--std", f"{0 if pt['mode'] == 'constant' else STD_MS:g}", "--duration",
                  str(total + 10), "--seed", str(idx + 1))
    if "ready" not in relay.stdout.readline():
        raise RuntimeError("relay did not start")
    lst = spawn("srv", str(bindir / "listener"), "--port", str(port), "--backlog", "4096", "--duration",
                str(total + 10))
    if "ready" not in lst.stdout.readline():
        raise RuntimeError("listener did not start")
    load = os.getloadavg()[0]
    c1, s1 = read_counters("cli"), read_counters("srv")
    sampler = TimeWaitSampler(port)
    sampler.start()
    csv_path = work / f"{pt['id']}-client.csv"
    cl = spawn("cli", str(bindir / "client"), "--dst", SRV_ADDR, "--port", str(port), "--rate", f"{RATE:g}",
               "--duration", str(LEGIT), "--wait", str(TAIL), "--seed", str(idx + 1), "--out", str(csv_path))
    finish(cl, LEGIT + TAIL + 10)
    time.sleep(SETTLE)  # the last teardowns (and any RSTs) cross the path
    sampler.halt.set()
    sampler.join(10)
    tw_end = sampler.count()
    c2, s2 = read_counters("cli"), read_counters("srv")
    lst.send_signal(signal.SIGTERM)
    finish(lst, 10)
    relay.send_signal(signal.SIGTERM)
    rl_out, _ = finish(relay, 10)
    res = {f"cli_{k}": c2.get(k, 0) - c1.get(k, 0) for k in COUNTERS}
    res |= {f"srv_{k}": s2.get(k, 0) - s1.get(k, 0) for k in COUNTERS}
    res |= relay_counts(rl_out)
    rows = list(csv.DictReader(open(csv_path)))
    res["attempts"] = len(rows)
    res["established"] = sum(r["outcome"] == "established" for r in rows)
    res["tw_peak"] = max(sampler.counts + [tw_end])
    res["tw_end"] = tw_end
    # A TIME-WAIT entered is counted when it is scheduled (__inet_twsk_schedule:
    # TcpExtTW for the 60 s ones); none expires within the point, and none is
    # counted when an RST ends it (inet_twsk_deschedule_put): the ones gone
    # at the end were assassinated.
    # CPU load matters: a server whose close() comes late lets the
    # delayed-ACK timer send a bare ACK before its FIN.
    res["load"] = (load + os.getloadavg()[0]) / 2
    res["tw_entered"] = res["cli_TcpExtTW"]
    res["tw_killed"] = res["tw_entered"] - tw_end
    return res


def synsim_toml(pt):
    if pt["mode"] == "constant":
        delay = f'"{MEAN_MS:g}ms"'
    else:
        delay = f'{{ dist = "normal", mean = "{MEAN_MS:g}ms", std = "{STD_MS:g}ms" }}'
    lines = [
        f'name = "teardown-check-{pt["id"]}"',
        f'description = "teardown check point {pt["id"]}: {pt["what"]}"',
        "seed = 1", "replicates = 3",
        f'duration = "{LEGIT + TAIL + SETTLE:g}s"',
        "hz = 250   # the testbed kernel's CONFIG_HZ", "",
        "[network]", f"delay = {delay}",
        "one_machine = true   # namespaces of one kernel: every host reads the same jiffies",
        f"reorder = {'true' if pt['mode'] == 'normal' else 'false'}", "",
        "[server]", "listen_backlog = 4096", "",
        "[clients.legit]", "hosts = 1", f"rate = {RATE:g}", 'hold = "0s"', 'closer = "client"',
        f'stop = "{LEGIT:g}s"',
    ]
    if pt["rfc1337"]:
        # Only asked for when the point needs it: a synsim without the key rejects it.
        lines.append("tcp_rfc1337 = true")
    return "\n".join(lines) + "\n"


def run_synsim(pt, synsim, work):
    toml = work / f"{pt['id']}.toml"
    toml.write_text(synsim_toml(pt))
    out = work / f"{pt['id']}-synsim"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(out.with_name(out.name + ".partial"), ignore_errors=True)
    r = subprocess.run([str(synsim), "run", str(toml), "--out", str(out), "--progress", "quiet", "--no-wall-clock"],
                       capture_output=True, text=True, timeout=900, env=os.environ | {"RUST_BACKTRACE": "0"})
    if r.returncode != 0:
        msg = (r.stderr or r.stdout).strip()
        if "unknown key `tcp_rfc1337`" in msg or "unknown field `tcp_rfc1337`" in msg:
            return None, "synsim has no tcp_rfc1337 yet"
        raise RuntimeError(f"synsim failed: {msg.splitlines()[0] if msg else r.returncode}")
    rows = list(csv.DictReader(open(out / "summary.csv")))
    mean = lambda k: sum(float(r[k]) for r in rows) / len(rows) if k in rows[0] else float("nan")  # noqa: E731
    res = {"attempts": mean("legit_attempts"), "established": mean("legit_established"),
           "tw_entered": mean("time_wait_entered_client"), "tw_peak": mean("time_wait_peak_client"),
           "srv_TcpOutRsts": mean("TcpOutRsts")}
    # The TIME-WAIT count at the end: the last bin of each replicate's series.
    last = {}
    for row in csv.DictReader(open(out / "timeseries.csv")):
        last[(row["run"], row["replicate"])] = float(row["time_wait_client"])
    ends = list(last.values())
    res["tw_end"] = sum(ends) / len(ends) if ends else res["tw_peak"]
    res["tw_killed"] = res["tw_entered"] - res["tw_end"]
    killed = [k for k in rows[0] if "killed" in k and "client" in k]
    if killed:  # synsim's own count, once it keeps one
        res["tw_killed_counted"] = mean(killed[0])
    return res, ""


COLS = [("established", "connections", "{:.0f}"), ("tw_entered", "TIME-WAIT entered", "{:.0f}"),
        ("tw_peak", "TIME-WAIT peak", "{:.0f}"), ("tw_killed", "TIME-WAITs killed", "{:.0f}"),
        ("srv_TcpOutRsts", "server RSTs", "{:.0f}"), ("rst_share", "RST per conn", "{:.3f}"),
        ("cli_TcpOutRsts", "client RSTs", "{:.0f}"), ("finack_share", "one FIN/ACK", "{:.3f}"),
        ("server_acks", "server bare ACKs per conn", "{:.3f}"),
        ("c2s_overtook", "reordered c2s", "{:.0f}"), ("s2c_overtook", "reordered s2c", "{:.0f}"),
        ("load", "load avg", "{:.1f}")]


def fmt(spec, v):
    return "–" if v is None or (isinstance(v, float) and v != v) else spec.format(v)


def derive(r):
    n = max(r.get("established", 0), 1)
    r["rst_share"] = r.get("srv_TcpOutRsts", float("nan")) / n
    if "srv_TcpExtDelayedACKs" in r:
        # The only ACK the server delays is that of the client's FIN
        # (tcp_fin: pingpong mode); the delayed-ACK timer sends it bare
        # (TcpExtDelayedACKs, tcp_delack_timer_handler) only when the
        # application's close() comes later. Otherwise its FIN carries it.
        r["finack_share"] = 1 - r["srv_TcpExtDelayedACKs"] / n
    if "s2c_ack" in r:
        # The server's bare ACKs (no payload, no SYN/FIN/RST) per connection:
        # 0 when it answers every client FIN with one FIN/ACK and acks
        # nothing else; a FIN that overtook the client's handshake ACK
        # draws one too.
        r["server_acks"] = r["s2c_ack"] / n


def write_report(results, out, elapsed):
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "teardown.csv", "w", newline="") as f:
        w = csv.writer(f)
        keys = sorted({k for _, k, s, _ in results for k in list(k) + list(s or {})})
        w.writerow(["point", "side", "mode", "tcp_rfc1337"] + keys + ["note"])
        for pt, k, s, note in results:
            for side, r in (("kernel", k), ("synsim", s)):
                w.writerow([pt["id"], side, pt["mode"], pt["rfc1337"]] +
                           [fmt("{}", (r or {}).get(c)) for c in keys] + [note if side == "synsim" else ""])
    md = [f"Kernel {os.uname().release}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {len(results)} "
          f"points, {elapsed:.0f} s. {RATE:g} connections/s for {LEGIT:g} s, client closes; each cell: kernel / "
          "synsim (mean of 3 seeds).", "",
          "| point | delay per frame | tcp_rfc1337 | " + " | ".join(c[1] for c in COLS) + " | note |",
          "|" + "---|" * (4 + len(COLS))]
    for pt, k, s, note in results:
        cells = [f"{fmt(c[2], k.get(c[0]))} / {fmt(c[2], (s or {}).get(c[0]))}" for c in COLS]
        md.append(f"| {pt['id']} | {pt['mode']} | {pt['rfc1337']} | " + " | ".join(cells) + f" | {note} |")
    md += ["", "Points:", ""] + [f"- `{pt['id']}`: {pt['what']}" for pt, _, _, _ in results]
    (out / "teardown.md").write_text("\n".join(md) + "\n")
    return "\n".join(md)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", help="comma-separated point ids (default: all)")
    ap.add_argument("--list", action="store_true", help="list the points and exit")
    ap.add_argument("--synsim", type=Path, help="synsim binary (default: the newer of target/release and target/debug)")
    ap.add_argument("--emit-toml", type=Path, metavar="DIR", help="write each point's synsim file into DIR and exit")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "latest")
    ap.add_argument("--keep", type=Path, help="keep raw files (client CSVs, TOMLs, synsim folders) here")
    args = ap.parse_args()
    if args.emit_toml:
        args.emit_toml.mkdir(parents=True, exist_ok=True)
        for pt in POINTS:
            (args.emit_toml / f"{pt['id']}.toml").write_text(synsim_toml(pt))
        return 0
    if args.list:
        for pt in POINTS:
            print(f"{pt['id']:14} {pt['what']}")
        return 0
    points = POINTS
    if args.points:
        want = args.points.split(",")
        points = [p for p in POINTS if p["id"] in want]
        if len(points) != len(want):
            print(f"unknown point in {args.points}; see --list", file=sys.stderr)
            return 2
    args.synsim, bindir, work = kcheck.prepare(args.synsim, args.keep, "tdcheck-")
    results, start = [], time.monotonic()
    try:
        remove_stale()
        setup()
        for pt in points:
            log(f"{pt['id']}: {pt['what']}")
            k = run_kernel(pt, POINTS.index(pt), bindir, work)
            derive(k)
            try:
                s, note = run_synsim(pt, args.synsim, work)
            except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
                s, note = None, str(e).splitlines()[0][:160]
            if s:
                derive(s)
            log(f"  kernel: {k['established']} conns, {k['tw_entered']} TIME-WAITs, {k['tw_killed']} killed, "
                f"{k['srv_TcpOutRsts']} server RSTs; synsim: "
                + (f"{s['tw_entered']:.0f} TIME-WAITs, {s['tw_killed']:.0f} killed, {s['srv_TcpOutRsts']:.0f} RSTs"
                   if s else note))
            results.append((pt, k, s, note))
    except KeyboardInterrupt as e:
        log(f"interrupted ({e}); cleaning up")
        return 130
    finally:
        kcheck.teardown()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        if results:
            print(write_report(results, args.out, time.monotonic() - start))
            print(f"\nwritten: {args.out}/teardown.md, {args.out}/teardown.csv")
    return 0


if __name__ == "__main__":
    sys.exit(main())
