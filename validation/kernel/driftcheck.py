#!/usr/bin/env python3
"""One long kernel-check point: does the success ratio drift over many
request lifetimes? 3000 spoofed SYN/s, tcp_synack_retries 1, cookies off,
legit clients at 30/s for LEGIT seconds; the success ratio of the connect()
calls started in each WINDOW-second window, kernel against synsim (one
seed). Uses kcheck.py's testbed (namespaces, tools, settings). Root only.

    sudo flock /tmp/kcheck.lock python3 validation/kernel/driftcheck.py [--legit 900] [--keep DIR]
"""
import argparse
import csv
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import kcheck  # noqa: E402

WINDOW = 100.0


def kernel_windows(client_csv, legit):
    """Success per window by the connect()'s start (seconds after the client started)."""
    rows = list(csv.DictReader(open(client_csv)))
    start_key = next(k for k in rows[0] if k.startswith("start"))
    t0 = min(float(r[start_key]) for r in rows)
    scale = 1e-3 if "ms" in start_key else (1e-9 if "ns" in start_key else 1.0)
    out = []
    for w in range(int(legit // WINDOW)):
        sel = [r for r in rows if w * WINDOW <= (float(r[start_key]) - t0) * scale < (w + 1) * WINDOW]
        est = sum(1 for r in sel if r["outcome"] == "established")
        out.append(est / len(sel) if sel else float("nan"))
    return out


def synsim_windows(toml, synsim, work, legit):
    out_dir = work / "drift-synsim"
    shutil.rmtree(out_dir, ignore_errors=True)
    subprocess.run([str(synsim), "run", str(toml), "--out", str(out_dir), "--progress", "quiet", "--no-wall-clock"],
                   check=True, capture_output=True, timeout=1800)
    rows = list(csv.DictReader(open(out_dir / "timeseries.csv")))
    out = []
    for w in range(int(legit // WINDOW)):
        lo, hi = kcheck.WARMUP + w * WINDOW, kcheck.WARMUP + (w + 1) * WINDOW
        sel = [r for r in rows if lo < float(r["t_s"]) <= hi]
        a = sum(float(r["legit_attempts_per_s"]) for r in sel)
        e = sum(float(r["legit_established_per_s"]) for r in sel)
        out.append(e / a if a else float("nan"))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--legit", type=float, default=900.0)
    ap.add_argument("--synsim", type=Path, help="synsim binary (default: the newer of target/release and target/debug)")
    ap.add_argument("--keep", type=Path)
    args = ap.parse_args()
    kcheck.LEGIT = args.legit
    pt = kcheck.P("drift", 3000, retries=1, backlog=4096, msb=2048,
                  what="3000 SYN/s, tcp_synack_retries 1, cookies off, a long run")
    args.synsim, bindir, work = kcheck.prepare(args.synsim, args.keep, "driftcheck-")
    try:
        kcheck.remove_stale()
        kcheck.setup()
        k = kcheck.run_kernel(pt, 0, bindir, work)
    finally:
        kcheck.teardown()
    toml = work / "drift.toml"
    toml.write_text(kcheck.synsim_toml(pt, 3000).replace("replicates = 3", "replicates = 1"))
    kw = kernel_windows(work / "drift-client.csv", args.legit)
    sw = synsim_windows(toml, args.synsim, work, args.legit)
    print(f"kernel {os.uname().release}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
          f"whole-run success kernel {k['success']:.3f}")
    print("| window (s after the clients start) | kernel | synsim |")
    print("|---|---|---|")
    for w, (a, b) in enumerate(zip(kw, sw)):
        print(f"| {w * WINDOW:.0f}-{(w + 1) * WINDOW:.0f} | {a:.3f} | {b:.3f} |")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
