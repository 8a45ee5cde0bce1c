//! A run's peak memory, estimated from its configuration before any run
//! starts, so a study that cannot fit is refused with the figure and what
//! drives it instead of dying in an allocation failure halfway.
//!
//! The estimate counts what grows with the model: connection entries
//! (open, half-open and TIME-WAIT, each a slab slot, a 4-tuple map entry and
//! its queued events), per-host counters and the time series. It is meant
//! as an upper bound: against the peak RSS of a TIME-WAIT-heavy run (1M
//! hosts at 50k conn/s), a connect flood, a spoofed flood and a
//! server-closes run it came out 1.3x to 2x the measured peak.

use crate::config::{AttackKind, Closer, RunConfig};
use anyhow::{Result, bail};

/// Bytes per live connection entry: slab slot (or, for a TIME-WAIT, its
/// compact entry in the ring), 4-tuple map entry with the map's spare
/// capacity, and queued timer events. The 10M-host benchmark measured
/// 192 B per entry at its peak, nearly all of them TIME-WAITs (241 B before
/// TIME-WAITs were parked compact).
pub const BYTES_PER_ENTRY: u64 = 240;
/// Per client or attacking host: port counts (4 B) and, where
/// tcp_max_tw_buckets can bind, a TIME-WAIT count (4 B).
const BYTES_PER_HOST: u64 = 8;
/// A time-series value, as held for the run and in the study's results.
const BYTES_PER_SAMPLE: u64 = 8;
const SERIES_COLUMNS: u64 = 40;
/// The process itself: code, allocator, thread stacks.
pub const PROCESS_BASE: u64 = 32 << 20;
/// Under an address-space limit, what is mapped but not used: the binary,
/// libraries and glibc's arenas (one per worker thread).
const ADDRESS_SPACE_BASE: u64 = 256 << 20;
const PER_THREAD_ADDRESS_SPACE: u64 = 64 << 20;
/// Spoofed SYNs and their SYN-ACKs in flight: the events of this many
/// seconds of attack (several round trips).
const IN_FLIGHT_S: f64 = 0.5;
/// Linux's TIME-WAIT length (TCP_TIMEWAIT_LEN).
const TIME_WAIT_S: f64 = 60.0;
/// A connection's life outside TIME-WAIT beyond its hold: handshake,
/// teardown and retransmissions, generously.
const SLACK_S: f64 = 3.0;

/// One run's estimate: the total and the terms that make it up.
#[derive(Clone, Debug, PartialEq)]
pub struct Estimate {
    pub bytes: u64,
    /// (what, bytes), largest first.
    pub drivers: Vec<(String, u64)>,
}

impl Estimate {
    /// "1.2 GB: 5.0M TIME-WAIT entries on the clients (...), ..." (the two largest terms).
    pub fn explain(&self) -> String {
        let terms: Vec<String> =
            self.drivers.iter().take(2).map(|(what, b)| format!("{} for {what}", gb(*b))).collect();
        format!("about {} ({})", gb(self.bytes), terms.join(", "))
    }
}

pub fn gb(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
    } else {
        format!("{:.0} MiB", (bytes as f64 / (1u64 << 20) as f64).max(1.0))
    }
}

fn millions(n: f64) -> String {
    if n >= 1e6 { format!("{:.1}M", n / 1e6) } else { format!("{:.0}", n) }
}

/// Time series bytes of one run (held while it runs and in the results).
pub fn series_bytes(c: &RunConfig) -> u64 {
    let bins = (c.duration.0 / c.bin.0.max(1)).saturating_add(1);
    bins.saturating_mul(SERIES_COLUMNS * BYTES_PER_SAMPLE)
}

/// The peak memory of one run of `c`.
pub fn estimate(c: &RunConfig) -> Estimate {
    let mut drivers: Vec<(String, u64)> = Vec::new();
    let entries = |n: f64| (n.max(0.0) * BYTES_PER_ENTRY as f64) as u64;
    let mut server_tw = 0.0;
    for (name, p) in &c.clients {
        let window = p.active_s(c.duration);
        let busy = p.hold.as_secs_f64() + SLACK_S;
        let rate = match (p.rate, p.concurrency) {
            (Some(r), _) => r,
            (None, Some(n)) => n as f64 / (busy + p.think.as_secs_f64()).max(1e-3),
            (None, None) => 0.0,
        };
        let arrivals = (rate * window).min(p.max_connections.map(|m| m as f64).unwrap_or(f64::INFINITY));
        // Open entries: the client's and the server's side of each connection.
        let open = 2.0 * (rate * busy).min(arrivals);
        // TIME-WAIT on whichever side closes first, bounded by its buckets.
        let tw = (rate * TIME_WAIT_S).min(arrivals);
        let client_share = match p.closer {
            Closer::Client => 1.0,
            Closer::Server => 0.0,
            Closer::Mixed => p.client_close_share,
        };
        let ports = (p.ip_local_port_range[1] as f64 - p.ip_local_port_range[0] as f64 + 1.0).max(1.0);
        let per_host_cap = ports.min(p.tcp_max_tw_buckets as f64) * p.hosts as f64;
        let client_tw = (tw * client_share).min(per_host_cap);
        server_tw += tw * (1.0 - client_share);
        drivers.push((format!("{} open connections of clients.{name}", millions(open)), entries(open)));
        if client_tw >= 1.0 {
            drivers.push((
                format!("{} TIME-WAIT entries on clients.{name} (rate x 60 s)", millions(client_tw)),
                entries(client_tw),
            ));
        }
        drivers.push((
            format!("{} hosts of clients.{name}", millions(p.hosts as f64)),
            p.hosts * BYTES_PER_HOST,
        ));
    }
    let server_tw = server_tw.min(c.server.tcp_max_tw_buckets as f64);
    if server_tw >= 1.0 {
        drivers.push((
            format!("{} TIME-WAIT entries on the server (rate x 60 s)", millions(server_tw)),
            entries(server_tw),
        ));
    }
    // Half-open requests: the SYN queue bounds them (the 3/4 rule admits no more).
    let syn_queue = c.server.tcp_max_syn_backlog.max(c.server.max_ack_backlog()) as f64;
    for (name, a) in &c.attackers {
        let arrivals = a.rate * a.active_s(c.duration);
        let held = match a.kind {
            // Requests in the SYN queue, and per-packet events in flight.
            AttackKind::SpoofedSyn => syn_queue + a.rate * IN_FLIGHT_S,
            // The attacking hosts' SYN-SENT sockets live through their SYN
            // retries (up to ~130 s), the server's requests in its SYN queue.
            AttackKind::HalfOpen => (a.rate * 130.0).min(arrivals) + syn_queue,
            // Established connections that never close, on both sides.
            AttackKind::ConnectFlood => 2.0 * arrivals,
        };
        drivers.push((format!("{} entries held by attackers.{name}", millions(held)), entries(held)));
        if a.kind != AttackKind::SpoofedSyn {
            drivers.push((format!("hosts of attackers.{name}"), a.hosts * BYTES_PER_HOST));
        }
    }
    // The server's TCP metrics cache is a fixed table, allocated once a
    // connection ends well or a population starts remembered.
    let remembers = c.clients.values().any(|p| p.remembered > 0.0);
    if remembers || (!c.server.tcp_no_metrics_save && !c.clients.is_empty()) {
        drivers.push(("the TCP metrics cache".into(), crate::tcp::metrics::TABLE_BYTES as u64));
    }
    drivers.push(("the time series".into(), series_bytes(c)));
    drivers.retain(|d| d.1 > 0);
    drivers.sort_by_key(|d| std::cmp::Reverse(d.1));
    let bytes = drivers.iter().map(|d| d.1).fold(0u64, u64::saturating_add);
    Estimate { bytes, drivers }
}

/// Memory this process may still use: the least of the memory the kernel
/// reports available, the address-space limit (`ulimit -v`) and the
/// cgroup's limit. None where none can be read.
pub fn available() -> Option<Available> {
    let mut best: Option<Available> = None;
    let mut offer = |bytes: u64, what: &'static str, address_space: bool| {
        if best.as_ref().is_none_or(|b| bytes < b.bytes) {
            best = Some(Available { bytes, what, address_space });
        }
    };
    let read = |p: &str| std::fs::read_to_string(p).ok();
    if let Some(m) = read("/proc/meminfo").and_then(|t| field_kib(&t, "MemAvailable:")) {
        offer(m, "memory available", false);
    }
    if let Some(limits) = read("/proc/self/limits") {
        let soft = limits
            .lines()
            .find(|l| l.starts_with("Max address space"))
            .and_then(|l| l.split_whitespace().nth(3).and_then(|v| v.parse::<u64>().ok()));
        if let Some(limit) = soft {
            let used = read("/proc/self/status").and_then(|t| field_kib(&t, "VmSize:")).unwrap_or(0);
            offer(limit.saturating_sub(used), "address-space limit (ulimit -v)", true);
        }
    }
    if let Some(max) = read("/sys/fs/cgroup/memory.max").and_then(|t| t.trim().parse::<u64>().ok()) {
        let cur =
            read("/sys/fs/cgroup/memory.current").and_then(|t| t.trim().parse::<u64>().ok()).unwrap_or(0);
        offer(max.saturating_sub(cur), "cgroup memory limit", false);
    }
    best
}

fn field_kib(text: &str, name: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with(name))?;
    line[name.len()..].split_whitespace().next()?.parse::<u64>().ok().map(|k| k * 1024)
}

/// What limits the memory a study may take.
#[derive(Clone, Debug, PartialEq)]
pub struct Available {
    pub bytes: u64,
    pub what: &'static str,
    /// An address-space limit also counts what the allocator reserves.
    pub address_space: bool,
}

/// The thread count that fits, and a line to say if it was lowered.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit {
    pub threads: usize,
    pub note: Option<String>,
}

/// Checks that `threads` runs side by side (the largest ones), plus the
/// results the study holds, fit in `available`; lowers the thread count
/// where that makes them fit; refuses (unless `force`) where one run alone
/// does not.
pub fn fit<'a>(
    configs: impl Iterator<Item = &'a RunConfig>,
    threads: usize,
    available: Option<Available>,
    force: bool,
) -> Result<Fit> {
    let mut runs: Vec<Estimate> = Vec::new();
    let mut held: u64 = 0;
    for c in configs {
        held = held.saturating_add(series_bytes(c));
        runs.push(estimate(c));
    }
    let Some(avail) = available else { return Ok(Fit { threads, note: None }) };
    runs.sort_by_key(|e| std::cmp::Reverse(e.bytes));
    let need = |t: usize| {
        let (base, per_thread) = match avail.address_space {
            true => (ADDRESS_SPACE_BASE, PER_THREAD_ADDRESS_SPACE),
            false => (PROCESS_BASE, 0),
        };
        runs.iter().take(t).map(|e| e.bytes).fold(base + held, u64::saturating_add) + per_thread * t as u64
    };
    let fits = (1..=threads.max(1)).rev().find(|&t| need(t) <= avail.bytes);
    match fits {
        Some(t) if t == threads => Ok(Fit { threads, note: None }),
        Some(t) => Ok(Fit {
            threads: t,
            note: Some(format!(
                "synsim: using {t} thread(s), not {threads}: {threads} runs side by side would need about {} \
                 and the {} is {} (largest run: {})",
                gb(need(threads)),
                avail.what,
                gb(avail.bytes),
                runs[0].explain()
            )),
        }),
        None if force => Ok(Fit {
            threads: 1,
            note: Some(format!(
                "synsim: --force: running although one run needs {} and the {} is {}",
                runs[0].explain(),
                avail.what,
                gb(avail.bytes)
            )),
        }),
        None => bail!(
            "this study will not fit in memory: its largest run needs {}, and with the study's results \
             about {} in all, but the {} is {}. Lower the rate, hosts or duration (or raise bin), or pass \
             --force to try anyway",
            runs.first().map(|e| e.explain()).unwrap_or_default(),
            gb(need(1)),
            avail.what,
            gb(avail.bytes)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::Experiment;

    fn config(body: &str) -> RunConfig {
        let text = if body.starts_with("duration") {
            body.to_string()
        } else {
            format!("duration = \"20s\"\n{body}")
        };
        Experiment::parse(&text, "t.toml", "t").unwrap().points()[0].config.clone()
    }

    #[test]
    fn time_wait_grows_with_rate_times_sixty_seconds() {
        let c = config("duration = \"120s\"\n[clients.web]\nhosts = 80_000_000\nrate = 1_000_000\n");
        let e = estimate(&c);
        // 60M TIME-WAIT entries and 80M hosts dominate.
        assert!(e.bytes > 60_000_000 * BYTES_PER_ENTRY, "{e:?}");
        assert!(e.drivers[0].0.contains("TIME-WAIT"), "{e:?}");
        let small = estimate(&config("[clients.web]\nhosts = 100\nrate = 10\n"));
        // Beside the TCP metrics cache, a fixed table, under 1 MB.
        assert!(small.bytes < (1 << 20) + crate::tcp::metrics::TABLE_BYTES as u64, "{small:?}");
        assert!(small.drivers.iter().any(|d| d.0 == "the TCP metrics cache"), "{small:?}");
    }

    #[test]
    fn server_tw_is_capped_by_its_buckets() {
        let c = config(
            "[server]\ntcp_max_tw_buckets = 1000\n[clients.web]\nhosts = 1000\nrate = 10000\ncloser = \"server\"\n",
        );
        let tw = estimate(&c).drivers.iter().find(|d| d.0.contains("server")).cloned().unwrap();
        assert_eq!(tw.1, 1000 * BYTES_PER_ENTRY);
    }

    #[test]
    fn threads_are_lowered_until_the_runs_fit_and_a_run_too_big_is_refused() {
        let c = config("[clients.web]\nhosts = 1000\nrate = 100000\n");
        let one = estimate(&c).bytes + PROCESS_BASE + series_bytes(&c);
        let avail = |bytes| Some(Available { bytes, what: "memory available", address_space: false });
        let cs = [c.clone(), c.clone(), c.clone()];
        assert_eq!(fit(cs.iter(), 3, avail(u64::MAX), false).unwrap(), Fit { threads: 3, note: None });
        let f = fit(cs.iter(), 3, avail(one + one / 2), false).unwrap();
        assert_eq!(f.threads, 1);
        assert!(f.note.unwrap().contains("using 1 thread"));
        let e = fit(cs.iter(), 3, avail(one / 2), false).unwrap_err().to_string();
        assert!(e.contains("will not fit") && e.contains("TIME-WAIT") && e.contains("--force"), "{e}");
        assert_eq!(fit(cs.iter(), 3, avail(one / 2), true).unwrap().threads, 1);
        assert_eq!(fit(cs.iter(), 3, None, false).unwrap().threads, 3);
    }
}
