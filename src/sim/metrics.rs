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
    stop: Option<SimTime>,
}

impl Gauge {
    /// Starts measuring at `at` (the end of the warm-up).
    pub fn start(&mut self, at: SimTime) {
        self.start = Some(at);
        self.since = at;
        self.peak = self.value;
        self.area = 0;
    }

    /// Stops measuring at `at` (the start of the drain): the level goes
    /// on changing, its peak and mean no longer.
    pub fn stop(&mut self, at: SimTime) {
        self.set(at, self.value);
        self.stop = Some(at);
    }

    pub fn set(&mut self, at: SimTime, value: u64) {
        if self.start.is_some() && self.stop.is_none() {
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

    /// The time-weighted mean from `start` to `end` (or to `stop`).
    pub fn mean(&self, end: SimTime) -> f64 {
        let Some(start) = self.start else { return 0.0 };
        let end = self.stop.map_or(end, |s| s.min(end));
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

/// Declares `Counters` and its field-wise `since`, from one list: a
/// counter added here is windowed like every other.
macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Every counter of a run. Names after nstat where Linux has one.
        #[derive(Clone, Debug, Default, PartialEq)]
        pub struct Counters {
            $($(#[$doc])* pub $name: u64,)*
        }

        impl Counters {
            /// What was counted since `earlier` (a snapshot of these counters).
            pub fn since(&self, earlier: &Counters) -> Counters {
                Counters { $($name: self.$name - earlier.$name,)* }
            }
        }
    };
}

counters! {
    legit_attempts,
    legit_established,
    failed_timeout,
    failed_reset,
    failed_no_port,
    /// Legitimate connections that ended normally after being established.
    legit_completed,
    /// Established legitimate connections that were reset later.
    legit_reset_after_established,
    segments_sent,
    segments_lost,
    /// Segments delivered to an address nobody answers from (a SYN-ACK to
    /// a spoofed source): counted at send time, no arrival event.
    segments_to_nobody,
    retransmissions,
    attack_syns_sent,
    /// Attack SYNs that reached the server's TCP (after the ingress queue).
    attack_syns,
    ingress_drops,
    /// Legitimate connections the server application accept()ed alive
    /// (served: the user's success).
    legit_accepted,
    // nstat counters of the two namespaces: `server_*` the server's,
    // `client_*` the legitimate clients' (all populations' hosts, as one
    // namespace; attackers are neither). docs/counters.md.
    /// TcpActiveOpens: connect() calls (`tcp_connect`).
    client_active_opens,
    /// TcpAttemptFails: SYN-SENT or SYN-RECEIVED to CLOSED (`tcp_done`),
    /// and requests ended by an RST or SYN (`tcp_check_req`).
    client_attempt_fails,
    server_attempt_fails,
    /// TcpEstabResets: ESTABLISHED or CLOSE-WAIT to CLOSED (`tcp_set_state`).
    client_estab_resets,
    server_estab_resets,
    /// TcpOutRsts: RSTs sent (`tcp_v4_send_reset`, `tcp_send_active_reset`).
    client_out_rsts,
    server_out_rsts,
    /// TcpExtTCPSynRetrans of the clients: SYN retransmissions
    /// (`__tcp_retransmit_skb`); the server's are the listener's SYN-ACKs.
    client_syn_retrans,
    /// TcpExtTW: TIME-WAIT sockets made (`__inet_twsk_schedule`), counted
    /// once per connection: at TIME-WAIT, or at an orphaned FIN-WAIT-2
    /// that `tcp_time_wait(TCP_FIN_WAIT2)` turned into one.
    client_tw,
    server_tw,
    /// TcpExtTCPTimeWaitOverflow: no entry, the host holds tcp_max_tw_buckets.
    client_tw_overflow,
    server_tw_overflow,
    /// TcpExtTCPAbortOnData: close() with SO_LINGER {on, 0} (`tcp_close`).
    client_abort_on_data,
    server_abort_on_data,
    /// TcpExtTCPLossProbes: tail loss probes sent (`tcp_send_loss_probe`).
    client_loss_probes,
    server_loss_probes,
    time_wait_entered_client,
    time_wait_entered_server,
    /// TIME-WAIT entries an RST ended early (RFC 1337's assassination,
    /// allowed by `tcp_rfc1337` = 0), on the clients and on the server.
    time_wait_assassinated_client,
    time_wait_assassinated_server,
    /// New SYNs that reopened a server TIME-WAIT 4-tuple (`TCP_TW_SYN`).
    time_wait_reopened_server,
    /// Two-way ablation: connections the server established that the
    /// client never wanted, and what they cost.
    unwanted_established,
    unwanted_segments,
    unwanted_established_ns,
}

/// The time series a run records, one row per bin.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Series {
    pub columns: Vec<&'static str>,
    pub rows: Vec<(f64, Vec<f64>)>,
}

pub const SERIES_COLUMNS: [&str; 12] = [
    "time_wait_client",
    "time_wait_server",
    "syn_recv",
    "accept_queue",
    "listen_drops_per_s",
    "ingress_drops_per_s",
    "legit_established_per_s",
    "legit_attempts_per_s",
    "time_wait_assassinated_client_per_s",
    "time_wait_assassinated_server_per_s",
    // By attempt, not by event: measured connect()s started in the bin, and
    // how many of those were ever established (filled in at the run's end).
    // Batch means of the success ratio within one run read these.
    "legit_attempts_started",
    "legit_established_of_started",
];

/// Where `legit_attempts_started` sits in a series row.
const BY_START_COLUMN: usize = 10;

/// Everything a run measures while it runs.
///
/// One warm-up rule: counters count from t = 0; the run reports what they
/// gained after the warm-up (`counters_since_warmup`), as the listener's
/// are. Gauges start their window at the warm-up's end. A connection's
/// outcome (established, failed, its connect time) counts with its
/// attempt: only for attempts made after the warm-up.
pub(super) struct Metrics {
    pub counters: Counters,
    /// Past the warm-up: attempts made now are measured.
    pub measuring: bool,
    pub connect_time: Histogram,
    /// Measured legitimate connections: first SYN to the application's accept().
    pub accept_delay: Histogram,
    pub tw_client: Gauge,
    pub tw_server: Gauge,
    pub syn_recv: Gauge,
    pub accept_queue: Gauge,
    pub ingress: Gauge,
    pub series: Series,
    /// The binned counters at the start of the current bin, and the nstat
    /// counters then.
    bin_start: [u64; 6],
    nstat_at_bin_start: [f64; super::outcome::NSTAT.len()],
    at_warmup: Counters,
    listener_at_warmup: ListenerCounters,
    /// Snapshots at the start of the drain (None: no drain).
    at_measure_end: Option<(Counters, ListenerCounters)>,
    /// Per bin of attempt start: measured attempts, and how many of them
    /// were established.
    by_start: Vec<[u64; 2]>,
}

impl Metrics {
    pub fn new(measuring: bool) -> Self {
        Metrics {
            counters: Counters::default(),
            measuring,
            connect_time: Histogram::default(),
            accept_delay: Histogram::default(),
            tw_client: Gauge::default(),
            tw_server: Gauge::default(),
            syn_recv: Gauge::default(),
            accept_queue: Gauge::default(),
            ingress: Gauge::default(),
            series: Series {
                columns: SERIES_COLUMNS.iter().chain(super::outcome::NSTAT.iter()).copied().collect(),
                rows: Vec::new(),
            },
            bin_start: [0; 6],
            nstat_at_bin_start: [0.0; super::outcome::NSTAT.len()],
            at_warmup: Counters::default(),
            listener_at_warmup: ListenerCounters::default(),
            at_measure_end: None,
            by_start: Vec::new(),
        }
    }

    /// A measured connect() at `now`.
    pub fn attempt_started(&mut self, now: SimTime, bin: SimDuration) {
        self.counters.legit_attempts += 1;
        if let Some(counts) = self.by_start_bin(now, bin) {
            counts[0] += 1;
        }
    }

    /// A measured attempt that started at `started` is established.
    pub fn attempt_established(&mut self, started: SimTime, now: SimTime, bin: SimDuration) {
        self.counters.legit_established += 1;
        self.connect_time.record(now - started);
        if let Some(counts) = self.by_start_bin(started, bin) {
            counts[1] += 1;
        }
    }

    /// The (attempts, established) counts of the bin holding `at`; none
    /// when the run keeps no series (a zero bin).
    fn by_start_bin(&mut self, at: SimTime, bin: SimDuration) -> Option<&mut [u64; 2]> {
        if bin == SimDuration::ZERO {
            return None;
        }
        let i = (at.as_nanos() / bin.as_nanos()) as usize;
        if self.by_start.len() <= i {
            self.by_start.resize(i + 1, [0; 2]);
        }
        Some(&mut self.by_start[i])
    }

    /// The series as the run ends: each row's by-attempt columns filled
    /// in, now that every outcome is known (row i is bin i).
    pub fn final_series(&self) -> Series {
        let mut series = self.series.clone();
        for (i, (_, row)) in series.rows.iter_mut().enumerate() {
            let [attempts, established] = self.by_start.get(i).copied().unwrap_or_default();
            row[BY_START_COLUMN] = attempts as f64;
            row[BY_START_COLUMN + 1] = established as f64;
        }
        series
    }

    /// The warm-up ends at `now`: gauges start measuring, the counters
    /// (the run's and the listener's) are snapshot.
    pub fn warmup_end(&mut self, now: SimTime, listener: &ListenerCounters) {
        self.measuring = true;
        self.at_warmup = self.counters.clone();
        self.listener_at_warmup = listener.clone();
        for g in self.gauges() {
            g.start(now);
        }
    }

    /// The drain starts at `now`: attempts made from now on are not
    /// measured; gauges stop; counters are snapshot.
    pub fn measure_end(&mut self, now: SimTime, listener: &ListenerCounters) {
        self.measuring = false;
        self.at_measure_end = Some((self.counters.clone(), listener.clone()));
        for g in self.gauges() {
            g.stop(now);
        }
    }

    /// Every gauge, for the window's two ends.
    fn gauges(&mut self) -> [&mut Gauge; 5] {
        [
            &mut self.tw_client,
            &mut self.tw_server,
            &mut self.syn_recv,
            &mut self.accept_queue,
            &mut self.ingress,
        ]
    }

    /// The run's counts over the measured window. The outcomes of measured
    /// attempts count whenever they happen, the drain included: that is
    /// what the drain is for.
    pub fn counters_since_warmup(&self) -> Counters {
        let Some((at_end, _)) = &self.at_measure_end else { return self.counters.since(&self.at_warmup) };
        let mut window = at_end.since(&self.at_warmup);
        let c = &self.counters;
        window.legit_attempts = c.legit_attempts;
        window.legit_established = c.legit_established;
        window.failed_timeout = c.failed_timeout;
        window.failed_reset = c.failed_reset;
        window.failed_no_port = c.failed_no_port;
        window.legit_completed = c.legit_completed;
        window.legit_reset_after_established = c.legit_reset_after_established;
        window
    }

    /// The listener's counts over the measured window.
    pub fn listener_since_warmup(&self, listener: &ListenerCounters) -> ListenerCounters {
        let end = self.at_measure_end.as_ref().map_or(listener, |(_, l)| l);
        end.since(&self.listener_at_warmup)
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
        let c = [
            listener.listen_drops,
            self.counters.ingress_drops,
            self.counters.legit_established,
            self.counters.legit_attempts,
            self.counters.time_wait_assassinated_client,
            self.counters.time_wait_assassinated_server,
        ];
        let b = self.bin_start;
        let secs = bin.as_secs_f64();
        let mut row = vec![
            self.tw_client.value as f64,
            self.tw_server.value as f64,
            syn_queue as f64,
            accept_queue as f64,
        ];
        row.extend(c.iter().zip(&b).map(|(now, start)| (now - start) as f64 / secs));
        row.extend([0.0, 0.0]); // by attempt: `final_series` fills them in
        // Every nstat counter's increase over the bin, as `nstat` prints it.
        let nstat = super::outcome::nstat(&self.counters, listener);
        for (i, (_, v)) in nstat.iter().enumerate() {
            row.push(v - self.nstat_at_bin_start[i]);
            self.nstat_at_bin_start[i] = *v;
        }
        self.series.rows.push((now.as_secs_f64(), row));
        self.bin_start = c;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_before_the_warm_up_end_are_not_reported() {
        let mut m = Metrics::new(false);
        m.counters.client_tw_overflow = 5;
        m.counters.unwanted_established = 2;
        let mut l = ListenerCounters { listen_drops: 3, ..Default::default() };
        m.warmup_end(SimTime::from_millis(10), &l);
        m.counters.client_tw_overflow += 1;
        l.listen_drops += 4;
        let c = m.counters_since_warmup();
        assert_eq!((c.client_tw_overflow, c.unwanted_established), (1, 0));
        assert_eq!(m.listener_since_warmup(&l).listen_drops, 4);
    }

    #[test]
    fn the_drain_stops_window_counts_and_gauges_but_not_outcomes() {
        let mut m = Metrics::new(false);
        let mut l = ListenerCounters::default();
        m.warmup_end(SimTime::from_secs(1), &l);
        m.syn_recv.set(SimTime::from_secs(1), 10);
        m.counters.legit_attempts = 2;
        m.counters.retransmissions = 3;
        l.listen_drops = 4;
        m.measure_end(SimTime::from_secs(3), &l);
        assert!(!m.measuring, "no attempt made in the drain is measured");
        // In the drain: a measured attempt establishes, the flood goes on.
        m.counters.legit_established = 1;
        m.counters.retransmissions += 100;
        l.listen_drops += 100;
        m.syn_recv.set(SimTime::from_secs(4), 1000);
        let c = m.counters_since_warmup();
        assert_eq!((c.legit_attempts, c.legit_established, c.retransmissions), (2, 1, 3));
        assert_eq!(m.listener_since_warmup(&l).listen_drops, 4);
        let g = m.syn_recv.stats(SimTime::from_secs(9));
        assert_eq!((g.peak, g.mean, g.last), (10, 10.0, 1000), "the gauge's window ends at the drain");
    }

    #[test]
    fn without_a_warm_up_everything_counts() {
        let mut m = Metrics::new(true);
        m.warmup_end(SimTime::ZERO, &ListenerCounters::default());
        m.counters.retransmissions = 7;
        assert_eq!(m.counters_since_warmup().retransmissions, 7);
    }

    #[test]
    fn outcomes_by_start_are_kept_only_when_the_run_keeps_a_series() {
        let mut m = Metrics::new(true);
        let t = SimTime::from_secs(4);
        m.attempt_started(t, SimDuration::ZERO);
        m.attempt_established(t, t + SimDuration::from_millis(1), SimDuration::ZERO);
        assert!(m.by_start.is_empty(), "a zero bin has no series to fill");
        assert_eq!((m.counters.legit_attempts, m.counters.legit_established), (1, 1));
        m.attempt_started(t, SimDuration::from_secs(1));
        m.attempt_established(t, t + SimDuration::from_millis(1), SimDuration::from_secs(1));
        assert_eq!(m.by_start, [[0, 0], [0, 0], [0, 0], [0, 0], [1, 1]]);
    }
}
