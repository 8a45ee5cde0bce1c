//! Property test of the experiment-file path: arbitrary bytes and mutated
//! valid files never panic; an accepted file expands into runs and memory
//! estimates without panicking; a rejected one, given to the command line,
//! exits with status 2 and writes nothing.
//!
//! Deterministic (a fixed seed): `SYNSIM_FUZZ_CASES=100000 cargo test
//! --release --test fuzz_experiment` runs more cases than the default.

use rand::RngExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::Command;
use synsim::experiment::{Experiment, memory};

const SEEDS: [&str; 3] = [
    include_str!("../experiments/defenses.toml"),
    include_str!("../experiments/loss.toml"),
    include_str!("../experiments/time-wait.toml"),
];

/// Tokens that make mutations reach deeper than random bytes do.
const TOKENS: [&str; 34] = [
    "\"",
    "=",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    "\n",
    "-1",
    "0",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "18446744073709551616",
    "\"10ms\"",
    "\"-5s\"",
    "\"unlimited\"",
    "true",
    "[sweep]",
    "[strategies]",
    "\"network.delay\" = [",
    "{ dist = \"lognormal\", median = \"1ms\", sigma = 9 }",
    "{ from = 1, to = 9, steps = 3 }",
    "[clients.x]\nhosts = 1\nrate = 1\n",
    "[attackers.y]\nkind = \"half-open\"\nrate = 5\n",
    "hosts = 80000000",
    "rate = 1e9",
    "duration = \"1h\"",
    "bin = \"1ns\"",
    "profile = \"constant\"",
    "strategy = [\"none\"]",
];

fn cases() -> usize {
    std::env::var("SYNSIM_FUZZ_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(1500)
}

fn mutate(rng: &mut synsim::engine::SimRng, text: &str) -> String {
    let mut b: Vec<u8> = text.as_bytes().to_vec();
    for _ in 0..rng.random_range(1..=4) {
        let at = if b.is_empty() { 0 } else { rng.random_range(0..b.len()) };
        match rng.random_range(0..6) {
            0 => {
                if !b.is_empty() {
                    b[at] = rng.random_range(0x20..0x7f);
                }
            }
            1 => {
                let end = (at + rng.random_range(1..40)).min(b.len());
                b.drain(at..end);
            }
            2 => {
                let t = TOKENS[rng.random_range(0..TOKENS.len())];
                b.splice(at..at, t.bytes());
            }
            3 => {
                // Duplicate a line (duplicate keys, repeated tables).
                let s = String::from_utf8_lossy(&b).to_string();
                let lines: Vec<&str> = s.lines().collect();
                if !lines.is_empty() {
                    let l = lines[rng.random_range(0..lines.len())].to_string();
                    b.splice(at..at, format!("\n{l}\n").bytes());
                }
            }
            4 => b.truncate(at),
            _ => {
                // A number replaced by another.
                let s = String::from_utf8_lossy(&b).to_string();
                if let Some(pos) = s[at.min(s.len())..].find(|c: char| c.is_ascii_digit()) {
                    let p = at + pos;
                    let n = ["0", "-3", "4294967296", "1e-9", "65536", "255", "256"][rng.random_range(0..7)];
                    b.splice(p..p + 1, n.bytes());
                }
            }
        }
    }
    String::from_utf8_lossy(&b).to_string()
}

/// Work a run may do here: connections and attack packets it starts.
fn work(c: &synsim::config::RunConfig) -> f64 {
    let d = c.duration.as_secs_f64();
    let clients: f64 =
        c.clients.values().map(|p| p.rate.unwrap_or(0.0) + p.concurrency.unwrap_or(0) as f64).sum();
    let attacks: f64 = c.attackers.values().map(|a| a.rate).sum();
    (clients + attacks) * d + (d / c.bin.as_secs_f64().max(1e-9))
}

/// Everything that follows an accepted file; small runs are also run
/// (a panic at a study's end loses everything before it).
fn expand(exp: &Experiment, budget: &mut f64) {
    let points = exp.points();
    for p in points {
        let _ = memory::estimate(&p.config);
        let w = work(&p.config);
        if w < 20_000.0 && *budget > w {
            *budget -= w;
            synsim::sim::World::new(&p.config, 1, 0).run();
        }
    }
    if points.len() as u64 * exp.replicates as u64 <= 100_000 {
        let runs = exp.runs();
        let _ = memory::fit(runs.iter().map(|r| &r.config), 2, memory::available(), false);
    }
}

#[test]
fn mutated_files_and_random_bytes_never_panic() {
    let mut rng = synsim::engine::stream_rng(2026, 0, synsim::engine::Stream::Arrivals);
    let (mut accepted, mut rejected) = (0, 0);
    let mut budget = 2e5 * cases() as f64 / 1500.0;
    for case in 0..cases() {
        let text = if case % 10 == 9 {
            let len = rng.random_range(0..300);
            String::from_utf8_lossy(&(0..len).map(|_| rng.random::<u8>()).collect::<Vec<u8>>()).to_string()
        } else {
            mutate(&mut rng, SEEDS[case % SEEDS.len()])
        };
        let outcome =
            catch_unwind(AssertUnwindSafe(|| match Experiment::parse(&text, "fuzz.toml", "fuzz") {
                Ok(exp) => {
                    expand(&exp, &mut budget);
                    true
                }
                Err(e) => {
                    let m = e.to_string();
                    assert!(m.starts_with("fuzz.toml"), "an error that does not name the file: {m}");
                    false
                }
            }));
        match outcome {
            Ok(true) => accepted += 1,
            Ok(false) => rejected += 1,
            Err(_) => panic!("case {case} panicked on this file:\n{text}"),
        }
    }
    eprintln!("fuzz: {accepted} accepted, {rejected} rejected");
    // Both paths were exercised.
    assert!(accepted > 0 && rejected > 0, "accepted {accepted}, rejected {rejected}");
}

#[test]
fn rejected_files_exit_2_and_write_nothing() {
    let dir = std::env::temp_dir().join(format!("synsim-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut rng = synsim::engine::stream_rng(7, 0, synsim::engine::Stream::Arrivals);
    let mut tried = 0;
    while tried < 12 {
        let text = mutate(&mut rng, SEEDS[tried % SEEDS.len()]);
        if Experiment::parse(&text, "f.toml", "f").is_ok() {
            continue;
        }
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("f.toml"), &text).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_synsim"))
            .args(["run", "f.toml"])
            .current_dir(&dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{err}\n{text}");
        assert_eq!(err.lines().count(), 1, "one line, not a backtrace: {err}");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left, ["f.toml"], "a rejected file wrote something");
        std::fs::remove_dir_all(&dir).unwrap();
        tried += 1;
    }
}
