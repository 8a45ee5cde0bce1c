#!/usr/bin/env python3
"""Instructions per event of each workload of `synsim bench`, counted by
callgrind (valgrind): a figure a shared, noisy machine cannot move, so a
change's cost shows commit by commit where wall times spread by ±20 %.

    python3 benches/instructions.py [--synsim PATH] [--workloads a,b] [--json]

It runs `synsim bench --part workload:NAME` under
`valgrind --tool=callgrind --callgrind-out-file=/dev/null`, reads the
instruction count callgrind prints at exit ("Collected : N", the whole
process: start-up and the config parse are a few million, under 0.1 % of a
workload) and the run's event count from the part's JSON, and prints
instructions per event and per connection. Under callgrind a workload runs
about 50 times slower: the whole suite took 4 minutes on one core (2026-12-02).
Needs valgrind (apt-get install valgrind).
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def workloads(synsim):
    """The suite's names, from `synsim bench --list` (name TAB what per line)."""
    r = subprocess.run([str(synsim), "bench", "--list"], capture_output=True, text=True, timeout=60, check=True)
    return [line.split("\t")[0] for line in r.stdout.splitlines() if line.strip()]


def measure(synsim, name):
    r = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", str(synsim), "bench",
                        "--part", f"workload:{name}"], capture_output=True, text=True, timeout=3600)
    if r.returncode != 0:
        raise SystemExit(f"{name}: exit {r.returncode}: {r.stderr.strip()[-500:]}")
    m = re.search(r"Collected\s*:\s*(\d+)", r.stderr)
    if not m:
        raise SystemExit(f"{name}: no instruction count in callgrind's output")
    figures = json.loads(r.stdout.strip().splitlines()[-1])
    instructions = int(m.group(1))
    return {
        "instructions": instructions,
        "events": figures["events"],
        "connections": figures["connections"],
        "instructions_per_event": instructions / figures["events"],
        "instructions_per_connection": instructions / max(figures["connections"], 1),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--synsim", type=Path, default=REPO / "target" / "release" / "synsim")
    ap.add_argument("--workloads", help="comma-separated names (default: all of `synsim bench --list`)")
    ap.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = ap.parse_args()
    if not shutil.which("valgrind"):
        raise SystemExit("valgrind not found (apt-get install valgrind)")
    if not args.synsim.exists():
        raise SystemExit(f"{args.synsim} not found (cargo build --release)")
    names = args.workloads.split(",") if args.workloads else workloads(args.synsim)
    results = {}
    for name in names:
        results[name] = measure(args.synsim, name)
        if not args.json:
            r = results[name]
            print(f"{name:18} {r['instructions_per_event']:8.0f} instructions/event "
                  f"{r['instructions_per_connection']:9.0f} /connection ({r['events']} events)", flush=True)
    if args.json:
        json.dump(results, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    main()
