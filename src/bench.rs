//! `synsim bench`: the speed and memory figures, measured. Each part runs
//! in a child process of its own, so its peak memory is its own.

use crate::config::RunConfig;
use crate::engine::{
    CalendarQueue, HeapQueue, PriorityQueueScheduler, Scheduler, SimDuration, SimTime, Stream, TimingWheel,
    stream_rng,
};
use crate::experiment::{DEFAULT_EXPERIMENT, DEFAULT_ORIGIN, Experiment};
use crate::sim::{Event, World};
use anyhow::{Result, bail};
use rand_distr::{Distribution, Exp};
use serde_json::{Value, json};
use std::time::Instant;

/// Peak resident memory of this process (VmHWM), in bytes.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A payload like a real event: 40 bytes, `Copy`.
#[derive(Copy, Clone)]
pub struct Payload([u64; 5]);

/// The classic hold model: `pending` events, then `ops` times pop the
/// earliest and push one at now + Exp(mean 1 ms). Returns ns per hold.
pub fn hold<Q: Scheduler<Payload>>(mut q: Q, pending: usize, ops: usize, seed: u64) -> f64 {
    let mut rng = stream_rng(seed, 0, Stream::Arrivals);
    let exp = Exp::new(1.0).expect("rate 1");
    let gap = |rng: &mut crate::engine::SimRng| SimDuration::from_secs_f64(exp.sample(rng) / 1000.0);
    for i in 0..pending {
        q.push(SimTime::ZERO + gap(&mut rng), Payload([i as u64; 5]));
    }
    let start = Instant::now();
    let mut check = 0u64;
    for _ in 0..ops {
        let (now, p) = q.pop().expect("never empty");
        check = check.wrapping_add(p.0[0]);
        q.push(now + gap(&mut rng), p);
    }
    let ns = start.elapsed().as_nanos() as f64 / ops as f64;
    std::hint::black_box(check);
    ns
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The flood workload: SYN cookies answering a 100k SYN/s spoofed flood
/// for 20 s beside 200 legitimate connections/s, on the default study's
/// network (the heaviest run of the default study until it moved to
/// steady-state runs of at most 10k SYN/s; kept so figures stay comparable).
fn flood_config() -> Result<RunConfig> {
    let text = r#"
        duration = "20s"
        warmup = "4s"
        [network]
        delay = { dist = "lognormal", median = "20ms", sigma = 0.5 }
        loss = 0.001
        [server]
        tcp_syncookies = 1
        packet_rate = 250_000
        [clients.web]
        hosts = 100_000
        rate = 200
        hold = "200ms"
        stop = "14s"
        [attackers.flood]
        kind = "spoofed-syn"
        rate = 100_000
        start = "2s"
    "#;
    let exp = Experiment::parse(text, "bench flood", "flood")?;
    Ok(exp.points()[0].config.clone())
}

/// The suite's workloads beside the flood and the 10M-host run: (name,
/// what it stresses, experiment text). Each is one run on one core.
pub const WORKLOADS: [(&str, &str, &str); 6] = [
    ("flood-cookies", "100k spoofed SYN/s, SYN cookies (the flood run above)", ""),
    ("flood-no-cookies", "the same flood, cookies off: the SYN queue full, SYNs dropped on arrival", ""),
    (
        "half-open-flood",
        "20k SYN/s from 1000 real hosts that never send the final ACK",
        r#"
        duration = "20s"
        warmup = "4s"
        [network]
        delay = "10ms"
        [server]
        tcp_syncookies = 1
        [clients.web]
        hosts = 100_000
        rate = 200
        hold = "200ms"
        [attackers.flood]
        kind = "half-open"
        rate = 20_000
        hosts = 1000
        "#,
    ),
    (
        "connect-flood",
        "5k connections/s from 1000 real hosts that complete the handshake and stay silent",
        "",
    ),
    (
        "legit-lossy",
        "legitimate traffic only: 20k connections/s, lognormal delay, 1 % loss",
        r#"
        duration = "30s"
        warmup = "4s"
        [network]
        delay = { dist = "lognormal", median = "20ms", sigma = 0.5 }
        loss = 0.01
        [clients.web]
        hosts = 1_000_000
        rate = 20_000
        hold = "100ms"
        "#,
    ),
    (
        "time-wait-heavy",
        "one client host near port exhaustion: 450 connections/s for 200 s, 60 s TIME-WAIT",
        r#"
        duration = "200s"
        warmup = "70s"
        [network]
        delay = "5ms"
        [clients.web]
        hosts = 1
        rate = 450
        hold = "10ms"
        "#,
    ),
];

fn workload_config(name: &str) -> Result<RunConfig> {
    // Pairs that differ in a key or two are derived from one text: the two
    // spoofed floods, and the half-open and connect floods.
    match name {
        "flood-cookies" => return flood_config(),
        "flood-no-cookies" => {
            let mut cfg = flood_config()?;
            cfg.server.tcp_syncookies = crate::config::SynCookies::Off;
            return Ok(cfg);
        }
        "connect-flood" => {
            let mut cfg = workload_config("half-open-flood")?;
            let flood = cfg.attackers.get_mut("flood").expect("the half-open flood");
            flood.kind = crate::config::AttackKind::ConnectFlood;
            flood.rate = 5_000.0;
            return Ok(cfg);
        }
        _ => {}
    }
    let Some((_, _, text)) = WORKLOADS.iter().find(|w| w.0 == name) else {
        bail!("unknown workload `{name}`")
    };
    let exp = Experiment::parse(text, "bench workload", name)?;
    Ok(exp.points()[0].config.clone())
}

/// One run's figures: wall time, events and what they did per wall second.
fn run_figures(o: &crate::sim::RunOutcome, wall: f64) -> Value {
    let c = &o.totals;
    let connections = c.client_active_opens + c.attack_syns_sent;
    json!({
        "wall_s": wall,
        "events": o.events,
        "events_per_sec": o.events as f64 / wall,
        "segments": c.segments_sent,
        "segments_per_sec": c.segments_sent as f64 / wall,
        "segments_to_nobody": c.segments_to_nobody,
        "connections": connections,
        "connections_per_sec": connections as f64 / wall,
        "events_per_connection": o.events as f64 / connections.max(1) as f64,
        "peak_rss_bytes": peak_rss_bytes(),
    })
}

/// `hosts` client hosts, each connecting once (round robin) at 200k/s, each
/// completing a handshake and a teardown.
fn hosts_config(hosts: u64) -> RunConfig {
    let rate = 200_000.0;
    let active = hosts as f64 / rate + 1.0;
    toml::from_str(&format!(
        r#"
        duration = "{d}s"
        bin = "1s"
        [network]
        delay = "10ms"
        [clients.web]
        hosts = {hosts}
        rate = {rate}
        host_choice = "round-robin"
        max_connections = {hosts}
        hold = "10ms"
        "#,
        d = active + 62.0
    ))
    .expect("a valid config")
}

fn run_world<Q: Scheduler<Event>>(cfg: &RunConfig, q: Q) -> (crate::sim::RunOutcome, f64) {
    let start = Instant::now();
    let o = World::with_queue(cfg, 1, 0, q).run();
    (o, start.elapsed().as_secs_f64())
}

/// One measurement, in this process; prints one JSON object.
pub fn part(name: &str) -> Result<Value> {
    let fields: Vec<&str> = name.split(':').collect();
    Ok(match fields.as_slice() {
        ["hold", queue, n, ops] => {
            let (n, ops): (usize, usize) = (n.parse()?, ops.parse()?);
            let reps: Vec<f64> = (0..3)
                .map(|seed| match *queue {
                    "heap" => hold(HeapQueue::new(), n, ops, seed),
                    "wheel" => hold(TimingWheel::new(), n, ops, seed),
                    "calendar" => hold(CalendarQueue::new(), n, ops, seed),
                    "priority-queue" => hold(PriorityQueueScheduler::new(), n, ops, seed),
                    _ => f64::NAN,
                })
                .collect();
            json!({ "ns_per_op": median(reps), "peak_rss_bytes": peak_rss_bytes() })
        }
        ["flood", queue] => {
            // The median of five runs: one run is under a second, and single
            // runs on a shared machine spread by ±20 %.
            let cfg = flood_config()?;
            let mut runs: Vec<(u64, f64)> = (0..5)
                .map(|_| {
                    let (o, wall) = match *queue {
                        "heap" => run_world(&cfg, HeapQueue::new()),
                        "priority-queue" => run_world(&cfg, PriorityQueueScheduler::new()),
                        "calendar" => run_world(&cfg, CalendarQueue::new()),
                        _ => run_world(&cfg, TimingWheel::new()),
                    };
                    (o.events, wall)
                })
                .collect();
            runs.sort_by(|a, b| a.1.total_cmp(&b.1));
            let (events, wall) = runs[runs.len() / 2];
            json!({ "events": events, "wall_s": wall, "events_per_sec": events as f64 / wall, "peak_rss_bytes": peak_rss_bytes() })
        }
        ["workload", name] => {
            let cfg = workload_config(name)?;
            let (o, wall) = run_world(&cfg, TimingWheel::new());
            run_figures(&o, wall)
        }
        ["hosts", n, queue] => {
            let cfg = hosts_config(n.parse()?);
            let (o, wall) = match *queue {
                "heap" => run_world(&cfg, HeapQueue::new()),
                "calendar" => run_world(&cfg, CalendarQueue::new()),
                _ => run_world(&cfg, TimingWheel::new()),
            };
            let m = |k: &str| o.metrics().iter().find(|(n, _)| *n == k).map(|(_, v)| *v).unwrap_or(f64::NAN);
            let rss = peak_rss_bytes();
            let mut v = run_figures(&o, wall);
            v.as_object_mut().expect("an object").extend(
                json!({
                "hosts": n.parse::<u64>()?,
                "established": m("legit_established"),
                "completed": m("legit_completed"),
                "events": o.events,
                "wall_s": wall,
                "events_per_sec": o.events as f64 / wall,
                "peak_rss_bytes": rss,
                "peak_connections": o.peak_slots,
                "bytes_per_connection": rss.map(|r| r as f64 / o.peak_slots.max(1) as f64),
                })
                .as_object()
                .expect("an object")
                .clone(),
            );
            v
        }
        ["sweep", threads] => {
            let exp = Experiment::parse(DEFAULT_EXPERIMENT, DEFAULT_ORIGIN, "defenses")?;
            let specs = exp.runs();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.parse()?).build()?;
            let start = Instant::now();
            let events: u64 = pool.install(|| {
                use rayon::prelude::*;
                specs.par_iter().map(|s| World::new(&s.config, s.seed, s.replicate as u64).run().events).sum()
            });
            let wall = start.elapsed().as_secs_f64();
            json!({ "runs": specs.len(), "wall_s": wall, "runs_per_sec": specs.len() as f64 / wall, "events": events })
        }
        _ => bail!("unknown bench part `{name}`"),
    })
}

fn child(name: &str) -> Result<Value> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe).args(["bench", "--part", name]).output()?;
    if !out.status.success() {
        bail!("bench part {name} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Every measurement; `quick` uses smaller sizes (a smoke run).
pub fn run_all(quick: bool, json_out: bool) -> Result<()> {
    let say = |s: String| {
        if !json_out {
            crate::console::note(&s);
        }
    };
    let mut result = serde_json::Map::new();
    let sizes: &[usize] = if quick { &[1_000, 100_000] } else { &[1_000, 100_000, 1_000_000, 10_000_000] };
    let mut hold_table = serde_json::Map::new();
    for queue in ["heap", "wheel", "calendar", "priority-queue"] {
        let mut row = serde_json::Map::new();
        for &n in sizes {
            let ops = if quick { 200_000 } else { 2_000_000 };
            let v = child(&format!("hold:{queue}:{n}:{ops}"))?;
            say(format!(
                "hold {queue:>15} {n:>9} pending: {:>7.1} ns/op, peak {:.0} MB",
                v["ns_per_op"].as_f64().unwrap_or(f64::NAN),
                v["peak_rss_bytes"].as_f64().unwrap_or(0.0) / 1e6
            ));
            row.insert(n.to_string(), v);
        }
        hold_table.insert(queue.to_string(), Value::Object(row));
    }
    result.insert("hold".into(), Value::Object(hold_table));
    for queue in ["wheel", "calendar", "heap", "priority-queue"] {
        let v = child(&format!("flood:{queue}"))?;
        say(format!(
            "flood run ({queue}): {:.2}M events/s ({} events in {:.2} s)",
            v["events_per_sec"].as_f64().unwrap_or(0.0) / 1e6,
            v["events"],
            v["wall_s"].as_f64().unwrap_or(0.0)
        ));
        if queue == "wheel" {
            result.insert("flood_events_per_sec".into(), v["events_per_sec"].clone());
        }
        result.insert(format!("flood_{queue}"), v);
    }
    // The suite: every workload once per round, rounds interleaved, the
    // median round per workload (by wall time) reported with the spread.
    let rounds = if quick { 1 } else { 3 };
    let mut runs: Vec<Vec<Value>> = vec![Vec::new(); WORKLOADS.len()];
    for _ in 0..rounds {
        for (i, (name, ..)) in WORKLOADS.iter().enumerate() {
            runs[i].push(child(&format!("workload:{name}"))?);
        }
    }
    let mut suite = serde_json::Map::new();
    for ((name, what, _), mut reps) in WORKLOADS.iter().zip(runs) {
        let wall = |v: &Value| v["wall_s"].as_f64().unwrap_or(f64::NAN);
        reps.sort_by(|a, b| wall(a).total_cmp(&wall(b)));
        let (lo, hi) = (wall(&reps[0]), wall(&reps[reps.len() - 1]));
        let mut v = reps[reps.len() / 2].clone();
        let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        say(format!(
            "{name:>17}: {:.2}M events/s, {:.2}M segments/s, {:.0}k connections/s, {:.1} events/connection, \
             {:.2} s wall ({lo:.2}-{hi:.2} over {rounds}), peak {:.0} MB",
            f("events_per_sec") / 1e6,
            f("segments_per_sec") / 1e6,
            f("connections_per_sec") / 1e3,
            f("events_per_connection"),
            f("wall_s"),
            f("peak_rss_bytes") / 1e6
        ));
        let o = v.as_object_mut().expect("an object");
        o.insert("what".into(), json!(what));
        o.insert("wall_s_min".into(), json!(lo));
        o.insert("wall_s_max".into(), json!(hi));
        o.insert("rounds".into(), json!(rounds));
        suite.insert(name.to_string(), v);
    }
    result.insert("workloads".into(), Value::Object(suite));
    let hosts = if quick { 100_000 } else { 10_000_000 };
    let v = child(&format!("hosts:{hosts}:wheel"))?;
    say(format!(
        "{hosts} hosts: {:.1} s wall, {:.2}M events/s, peak {:.2} GB, {:.0} bytes per connection at the peak",
        v["wall_s"].as_f64().unwrap_or(0.0),
        v["events_per_sec"].as_f64().unwrap_or(0.0) / 1e6,
        v["peak_rss_bytes"].as_f64().unwrap_or(0.0) / 1e9,
        v["bytes_per_connection"].as_f64().unwrap_or(0.0)
    ));
    let key = if quick { "hosts_100k" } else { "hosts_10m" };
    result.insert(format!("{key}_wall_s"), v["wall_s"].clone());
    result.insert(format!("{key}_peak_rss_bytes"), v["peak_rss_bytes"].clone());
    result.insert(key.into(), v);
    // One thread against all cores, interleaved three times, medians of
    // each: a single pair on a shared machine can be off by 10 %.
    let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let (mut ones, mut alls) = (Vec::new(), Vec::new());
    let mut all = Value::Null;
    for _ in 0..if quick { 1 } else { 3 } {
        ones.push(child("sweep:1")?["wall_s"].as_f64().unwrap_or(0.0));
        all = child(&format!("sweep:{cores}"))?;
        alls.push(all["wall_s"].as_f64().unwrap_or(1.0));
    }
    let (t1, tn) = (median(ones), median(alls));
    let efficiency = t1 / (cores as f64 * tn);
    say(format!(
        "default sweep: {t1:.1} s on 1 thread, {tn:.1} s on {cores} (medians): efficiency {:.0} %, {:.1} runs/s",
        efficiency * 100.0,
        all["runs"].as_f64().unwrap_or(0.0) / tn
    ));
    result.insert("sweep_efficiency".into(), json!(efficiency));
    // The embedded default study's wall time, medians on one thread and on all cores.
    result.insert("sweep_wall_s_1".into(), json!(t1));
    result.insert("sweep_wall_s_all".into(), json!(tn));
    result.insert("sweep_runs_per_sec".into(), json!(all["runs"].as_f64().unwrap_or(0.0) / tn));
    result.insert("sweep_cores".into(), json!(cores));
    // What each kind of entry costs in the model, before allocator and
    // hash-table slack (the 10M-host figure above includes those).
    let slot = crate::sim::SLOT_BYTES;
    let demux = 2 * std::mem::size_of::<crate::tcp::SockAddr>() + 4 + 1;
    let wheel_entry = std::mem::size_of::<Event>() + 8;
    let sizes = json!({
        "event_bytes": std::mem::size_of::<Event>(),
        "tcb_bytes": std::mem::size_of::<crate::tcp::Tcb>(),
        "segment_bytes": std::mem::size_of::<crate::tcp::Segment>(),
        "connection_bytes": slot + demux + wheel_entry,
        "half_open_entry_bytes": slot + demux + wheel_entry,
        "time_wait_entry_bytes": crate::sim::PARKED_TIME_WAIT_BYTES + demux,
        "linux_time_wait_entry_bytes": crate::sim::outcome::TIME_WAIT_ENTRY_BYTES,
    });
    say(format!("sizes: {sizes}"));
    result.insert("sizes".into(), sizes);
    if json_out {
        use std::io::Write;
        writeln!(std::io::stdout(), "{}", serde_json::to_string_pretty(&Value::Object(result))?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hold_runs_on_every_queue() {
        for ns in [
            hold(HeapQueue::new(), 100, 1000, 1),
            hold(TimingWheel::new(), 100, 1000, 1),
            hold(CalendarQueue::new(), 100, 1000, 1),
            hold(PriorityQueueScheduler::new(), 100, 1000, 1),
        ] {
            assert!(ns.is_finite() && ns > 0.0);
        }
    }

    #[test]
    fn every_workload_of_the_suite_parses() {
        for (name, ..) in WORKLOADS {
            workload_config(name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn the_flood_config_is_a_cookie_flood_at_100k() {
        let cfg = flood_config().unwrap();
        assert_eq!(cfg.attackers["flood"].rate, 100_000.0);
        assert_ne!(cfg.server.tcp_syncookies, crate::config::SynCookies::Off);
    }
}
