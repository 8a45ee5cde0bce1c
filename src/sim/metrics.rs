//! What a run measures: counters named as nstat names them, gauges with
//! peak and time-weighted mean, a connect-time histogram, time series.

use crate::engine::{SimDuration, SimTime};
use crate::tcp::ListenerCounters;

/// A log-linear histogram of durations: 64 sub-buckets per power of two
/// of microseconds, so any quantile is within 1.6 % of the exact value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max_ns: u64,
}

const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;

impl Histogram {
    fn bucket(us: u64) -> usize {
        if us < SUB {
            return us as usize;
        }
        let exp = 63 - us.leading_zeros() - SUB_BITS; // us >> exp in [SUB, 2 SUB)
        ((exp as u64 + 1) * SUB + ((us >> exp) - SUB)) as usize
    }

    /// The upper bound (exclusive), in microseconds, of bucket `b`.
    fn upper_us(b: usize) -> u64 {
        let b = b as u64;
        if b < SUB {
            return b + 1;
        }
        let exp = b / SUB - 1;
        let mantissa = b % SUB + SUB;
        (mantissa + 1) << exp
    }

    pub fn record(&mut self, d: SimDuration) {
        let b = Self::bucket(d.as_nanos() / 1000);
        if b >= self.counts.len() {
            self.counts.resize(b + 1, 0);
        }
        self.counts[b] += 1;
        self.total += 1;
        self.max_ns = self.max_ns.max(d.as_nanos());
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max_ms(&self) -> f64 {
        self.max_ns as f64 / 1e6
    }

    /// The `q` quantile in milliseconds (the upper bound of its bucket,
    /// never above the maximum seen); NaN when empty.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        if self.total == 0 {
            return f64::NAN;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return (Self::upper_us(b) as f64 / 1e3).min(self.max_ms());
            }
        }
        self.max_ms()
    }

    /// Non-empty buckets as (upper bound in ms, count).
    pub fn buckets_ms(&self) -> Vec<(f64, u64)> {
        self.counts
            .iter()
            .enumerate()
            .filter(|(_, c)| **c > 0)
            .map(|(b, &c)| (Self::upper_us(b) as f64 / 1e3, c))
            .collect()
    }
}

/// A level that changes over time (a queue length, a TIME-WAIT count):
/// its peak and its time-weighted mean over the measured window.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Gauge {
    pub value: u64,
    pub peak: u64,
    area: u128,
    since: SimTime,
    start: Option<SimTime>,
}

impl Gauge {
    /// Starts measuring at `at` (the end of the warm-up).
    pub fn start(&mut self, at: SimTime) {
        self.start = Some(at);
        self.since = at;
        self.peak = self.value;
        self.area = 0;
    }

    pub fn set(&mut self, at: SimTime, value: u64) {
        if self.start.is_some() {
            self.area += self.value as u128 * (at.as_nanos() - self.since.as_nanos()) as u128;
            self.since = at;
            self.peak = self.peak.max(value);
        }
        self.value = value;
    }

    pub fn add(&mut self, at: SimTime, delta: i64) {
        let v = (self.value as i64 + delta).max(0) as u64;
        self.set(at, v);
    }

    /// The time-weighted mean from `start` to `end`.
    pub fn mean(&self, end: SimTime) -> f64 {
        let Some(start) = self.start else { return 0.0 };
        if end <= start {
            return self.value as f64;
        }
        let area = self.area + self.value as u128 * (end.as_nanos() - self.since.as_nanos()) as u128;
        area as f64 / (end.as_nanos() - start.as_nanos()) as f64
    }
}

/// A gauge's summary over the measured window.
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct GaugeStats {
    pub peak: u64,
    pub mean: f64,
    /// The level at the end of the run.
    pub last: u64,
}

impl Gauge {
    pub fn stats(&self, end: SimTime) -> GaugeStats {
        GaugeStats { peak: self.peak, mean: self.mean(end), last: self.value }
    }
}

/// Every counter of a run. Names after nstat where Linux has one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    pub legit_attempts: u64,
    pub legit_established: u64,
    pub failed_timeout: u64,
    pub failed_reset: u64,
    pub failed_no_port: u64,
    /// Legitimate connections that ended normally after being established.
    pub legit_completed: u64,
    /// Established legitimate connections that were reset later.
    pub legit_reset_after_established: u64,
    pub segments_sent: u64,
    pub segments_lost: u64,
    pub retransmissions: u64,
    pub attack_syns_sent: u64,
    /// Attack SYNs that reached the server's TCP (after the ingress queue).
    pub attack_syns: u64,
    pub ingress_drops: u64,
    pub tcp_active_opens: u64,
    pub tcp_attempt_fails: u64,
    pub tcp_estab_resets: u64,
    pub tcp_out_rsts: u64,
    /// Client SYN retransmissions (the clients' TcpExtTCPSynRetrans).
    pub client_syn_retrans: u64,
    pub time_wait_entered_client: u64,
    pub time_wait_entered_server: u64,
    pub tw_overflow_client: u64,
    pub tw_overflow_server: u64,
    /// SO_LINGER {on, 0} aborts (Linux counts them as TcpExtTCPAbortOnData).
    pub abort_on_linger: u64,
    /// Server TIME-WAIT entries that ran their full length (TcpExtTW).
    pub time_wait_expired_server: u64,
    /// New SYNs that reopened a server TIME-WAIT 4-tuple (`TCP_TW_SYN`).
    pub time_wait_reopened_server: u64,
    /// Two-way ablation: connections the server established that the
    /// client never wanted, and what they cost.
    pub unwanted_established: u64,
    pub unwanted_segments: u64,
    pub unwanted_established_ns: u64,
}

/// The time series a run records, one row per bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub columns: Vec<&'static str>,
    pub rows: Vec<(f64, Vec<f64>)>,
}

pub const SERIES_COLUMNS: [&str; 8] = [
    "time_wait_client",
    "time_wait_server",
    "syn_recv",
    "accept_queue",
    "listen_drops_per_s",
    "ingress_drops_per_s",
    "legit_established_per_s",
    "legit_attempts_per_s",
];

/// Everything a run measures while it runs.
pub(super) struct Metrics {
    pub counters: Counters,
    /// Past the warm-up.
    pub measuring: bool,
    pub connect_time: Histogram,
    pub tw_client: Gauge,
    pub tw_server: Gauge,
    pub syn_recv: Gauge,
    pub accept_queue: Gauge,
    pub ingress: Gauge,
    pub series: Series,
    /// The binned counters at the start of the current bin.
    bin_start: (u64, u64, u64, u64),
    listener_at_warmup: ListenerCounters,
}

impl Metrics {
    pub fn new(measuring: bool) -> Self {
        Metrics {
            counters: Counters::default(),
            measuring,
            connect_time: Histogram::default(),
            tw_client: Gauge::default(),
            tw_server: Gauge::default(),
            syn_recv: Gauge::default(),
            accept_queue: Gauge::default(),
            ingress: Gauge::default(),
            series: Series { columns: SERIES_COLUMNS.to_vec(), rows: Vec::new() },
            bin_start: (0, 0, 0, 0),
            listener_at_warmup: ListenerCounters::default(),
        }
    }

    /// The warm-up ends at `now`: gauges start measuring, the listener's
    /// counters are snapshot.
    pub fn warmup_end(&mut self, now: SimTime, listener: &ListenerCounters) {
        self.measuring = true;
        self.listener_at_warmup = listener.clone();
        for g in [
            &mut self.tw_client,
            &mut self.tw_server,
            &mut self.syn_recv,
            &mut self.accept_queue,
            &mut self.ingress,
        ] {
            g.start(now);
        }
    }

    /// The listener's counts over the measured window.
    pub fn listener_since_warmup(&self, listener: &ListenerCounters) -> ListenerCounters {
        listener.since(&self.listener_at_warmup)
    }

    /// A bin of `bin` ends at `now`: one row of the time series.
    pub fn sample(
        &mut self,
        now: SimTime,
        bin: SimDuration,
        listener: &ListenerCounters,
        syn_queue: u32,
        accept_queue: usize,
    ) {
        let c = (
            listener.listen_drops,
            self.counters.ingress_drops,
            self.counters.legit_established,
            self.counters.legit_attempts,
        );
        let b = self.bin_start;
        let secs = bin.as_secs_f64();
        let row = vec![
            self.tw_client.value as f64,
            self.tw_server.value as f64,
            syn_queue as f64,
            accept_queue as f64,
            (c.0 - b.0) as f64 / secs,
            (c.1 - b.1) as f64 / secs,
            (c.2 - b.2) as f64 / secs,
            (c.3 - b.3) as f64 / secs,
        ];
        self.series.rows.push((now.as_secs_f64(), row));
        self.bin_start = c;
    }
}
