//! A study's progress on stderr: a bar on a terminal, a line every few
//! seconds otherwise. Progress is counted in expected work, not runs, so
//! one long run among short ones moves the bar and the ETA: each run is
//! weighted by the segments it should simulate, and a running run counts
//! by the simulated time it has reached (`RunWatch`).

use crate::config::RunConfig;
use crate::sim::RunWatch;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How progress is shown.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A bar when stderr is a terminal, lines otherwise.
    Auto,
    Bar,
    Lines,
    Quiet,
}

/// A line at least this often in line mode.
const LINE_EVERY: Duration = Duration::from_secs(5);
/// The bar's refresh.
const BAR_EVERY: Duration = Duration::from_millis(200);

/// The work a run should take, in segments simulated (roughly: a
/// connection's handshake and teardown are ~8 segments with their events,
/// an attack SYN and its answer ~2), plus a floor per run.
pub fn expected_work(c: &RunConfig) -> f64 {
    let d = c.duration.as_secs_f64();
    let clients: f64 = c
        .clients
        .values()
        .map(|p| {
            let rate =
                p.rate.unwrap_or_else(|| p.concurrency.unwrap_or(0) as f64 / p.hold.as_secs_f64().max(0.05));
            8.0 * rate * p.active_s(c.duration)
        })
        .sum();
    let attacks: f64 = c.attackers.values().map(|a| 2.0 * a.rate * a.active_s(c.duration)).sum();
    clients + attacks + d / c.bin.as_secs_f64().max(1e-9) + 100.0
}

/// One run to do: its weight, its length and what it reports.
struct Slot {
    weight: f64,
    duration_ns: u64,
    watch: RunWatch,
    finished: AtomicBool,
    final_events: std::sync::atomic::AtomicU64,
}

struct Shared {
    slots: Vec<Slot>,
    total_weight: f64,
    runs_total: usize,
    resumed: usize,
    start: Instant,
}

impl Shared {
    /// (share of the work done, runs done, events so far).
    fn measure(&self) -> (f64, usize, u64) {
        let (mut done, mut runs, mut events) = (0.0, self.resumed, 0);
        for s in &self.slots {
            if s.finished.load(Relaxed) {
                done += s.weight;
                runs += 1;
                events += s.final_events.load(Relaxed);
            } else {
                let reached = s.watch.reached_ns.load(Relaxed) as f64 / s.duration_ns.max(1) as f64;
                done += s.weight * reached.min(1.0);
                events += s.watch.events.load(Relaxed);
            }
        }
        ((done / self.total_weight.max(1e-9)).min(1.0), runs, events)
    }

    fn status(&self) -> String {
        let (share, runs, events) = self.measure();
        let elapsed = self.start.elapsed().as_secs_f64();
        // No ETA until the estimate has something to stand on.
        let eta = if share > 0.0 && (share >= 0.02 || elapsed >= 3.0) {
            format!("ETA {}", clock(elapsed * (1.0 - share) / share))
        } else {
            "ETA –".into()
        };
        format!(
            "{runs}/{} runs, {:.0} % of the work, {} events ({}/s), {} elapsed, {eta}",
            self.runs_total,
            100.0 * share,
            count(events as f64),
            count(events as f64 / elapsed.max(1e-3)),
            clock(elapsed),
        )
    }
}

/// "4 s", "1 min 05 s", "2 h 03 min".
pub fn clock(s: f64) -> String {
    let s = s.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
    }
}

/// "312k", "18.4M", "950".
pub fn count(n: f64) -> String {
    match n {
        n if n >= 1e9 => format!("{:.1}G", n / 1e9),
        n if n >= 1e6 => format!("{:.1}M", n / 1e6),
        n if n >= 1e3 => format!("{:.0}k", n / 1e3),
        n => format!("{n:.0}"),
    }
}

/// The display of one study. A thread refreshes it until `finish`.
pub struct Reporter {
    shared: Arc<Shared>,
    stop: Arc<AtomicBool>,
    ticker: Mutex<Option<std::thread::JoinHandle<()>>>,
    bar: Option<ProgressBar>,
}

impl Reporter {
    /// `todo`: the runs to do (config of each); `resumed` runs were done before.
    pub fn new<'a>(
        mode: Progress,
        todo: impl Iterator<Item = &'a RunConfig>,
        runs_total: usize,
        resumed: usize,
    ) -> Reporter {
        let slots: Vec<Slot> = todo
            .map(|c| Slot {
                weight: expected_work(c),
                duration_ns: c.duration.0,
                watch: RunWatch::default(),
                finished: AtomicBool::new(false),
                final_events: Default::default(),
            })
            .collect();
        let total_weight = slots.iter().map(|s| s.weight).sum();
        let shared = Arc::new(Shared { slots, total_weight, runs_total, resumed, start: Instant::now() });
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let (bar, lines) = match mode {
            Progress::Quiet => (false, false),
            Progress::Bar => (true, false),
            Progress::Lines => (false, true),
            Progress::Auto => (terminal, !terminal),
        };
        if lines && resumed > 0 {
            crate::console::note(&format!("synsim: resuming: {resumed} of {runs_total} runs already done"));
        }
        let bar = bar.then(|| {
            let b = ProgressBar::new(1000);
            b.set_style(
                ProgressStyle::with_template("{bar:30} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b
        });
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = (bar.is_some() || lines).then(|| {
            let (shared, stop, bar) = (shared.clone(), stop.clone(), bar.clone());
            std::thread::spawn(move || {
                let every = if bar.is_some() { BAR_EVERY } else { LINE_EVERY };
                let mut last = Instant::now();
                while !stop.load(Relaxed) {
                    std::thread::sleep(Duration::from_millis(50));
                    if last.elapsed() < every {
                        continue;
                    }
                    last = Instant::now();
                    match &bar {
                        Some(b) => {
                            b.set_position((shared.measure().0 * 1000.0) as u64);
                            b.set_message(shared.status());
                        }
                        None => crate::console::note(&format!("synsim: {}", shared.status())),
                    }
                }
            })
        });
        Reporter { shared, stop, ticker: Mutex::new(ticker), bar }
    }

    /// The watch of the `i`-th run to do, for `World::run_watched`.
    pub fn watch(&self, i: usize) -> &RunWatch {
        &self.shared.slots[i].watch
    }

    /// The `i`-th run to do has finished after `events` events.
    pub fn done(&self, i: usize, events: u64) {
        let s = &self.shared.slots[i];
        s.final_events.store(events, Relaxed);
        s.finished.store(true, Relaxed);
    }

    /// Stops the display; line mode ends with a last line.
    pub fn finish(&self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.ticker.lock().ok().and_then(|mut t| t.take()) {
            let _ = t.join();
            if self.bar.is_none() {
                crate::console::note(&format!("synsim: {}", self.shared.status()));
            }
        }
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_and_counts_read_at_a_glance() {
        assert_eq!(clock(4.4), "4 s");
        assert_eq!(clock(65.0), "1 min 05 s");
        assert_eq!(clock(7380.0), "2 h 03 min");
        assert_eq!(count(312_000.0), "312k");
        assert_eq!(count(18_400_000.0), "18.4M");
        assert_eq!(count(950.0), "950");
    }

    #[test]
    fn work_grows_with_rate_and_duration() {
        let parse = |t: &str| {
            crate::experiment::Experiment::parse(t, "t.toml", "t").unwrap().points()[0].config.clone()
        };
        let small = parse("duration = \"10s\"\n[clients.web]\nhosts = 10\nrate = 10\n");
        let big = parse(
            "duration = \"100s\"\n[clients.web]\nhosts = 10\nrate = 10\n[attackers.f]\nkind = \"spoofed-syn\"\nrate = 1000\n",
        );
        assert!(expected_work(&big) > 100.0 * expected_work(&small) / 2.0);
    }

    #[test]
    fn a_running_run_counts_by_the_time_it_reached() {
        let c = crate::experiment::Experiment::parse(
            "duration = \"10s\"\n[clients.web]\nhosts = 10\nrate = 10\n",
            "t",
            "t",
        )
        .unwrap()
        .points()[0]
            .config
            .clone();
        let r = Reporter::new(Progress::Quiet, [&c, &c].into_iter(), 2, 0);
        assert_eq!(r.shared.measure().0, 0.0);
        r.watch(0).reached_ns.store(5_000_000_000, Relaxed);
        assert!((r.shared.measure().0 - 0.25).abs() < 1e-9);
        r.done(0, 10);
        r.done(1, 10);
        assert_eq!(r.shared.measure(), (1.0, 2, 20));
        r.finish();
    }
}
