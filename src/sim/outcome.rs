//! A finished run's figures as named metrics: the columns of summary.csv.

use super::conns::Role;
use super::metrics::{Counters, GaugeStats, Histogram, Series};
use super::world::{Event, World};
use crate::engine::{Scheduler, SimTime};
use crate::tcp::{ListenerCounters, State};

/// What a TIME-WAIT entry costs a Linux host: a small `inet_timewait_sock`,
/// about 200 bytes (docs/linux.md), against about 2 KiB for a full socket.
pub const TIME_WAIT_ENTRY_BYTES: f64 = 200.0;

/// Everything a finished run reports.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Counted in the measured window (since the warm-up).
    pub counters: Counters,
    /// Counted over the whole run (what `synsim bench` divides by).
    pub totals: Counters,
    pub listener: ListenerCounters,
    pub connect_time: Histogram,
    pub accept_delay: Histogram,
    pub time_wait_client: GaugeStats,
    pub time_wait_server: GaugeStats,
    pub syn_recv: GaugeStats,
    pub accept_queue: GaugeStats,
    pub ingress_queue: GaugeStats,
    pub series: Series,
    pub events: u64,
    pub sim_end: SimTime,
    pub measured_from: SimTime,
    /// The measured window's end: the run's end, or the drain's start.
    pub measured_to: SimTime,
    /// Connections still open at the end (legitimate ones not yet resolved).
    pub legit_pending: u64,
    pub peak_slots: usize,
}

impl<Q: Scheduler<Event>> World<Q> {
    pub(super) fn outcome(&mut self) -> RunOutcome {
        let end = self.now;
        self.ingress_gauge_to_now();
        let legit_pending = self
            .conns
            .slots
            .iter()
            .filter(|s| {
                s.tcb.state != State::Closed
                    && matches!(s.role, Role::Client { measured: true, established: false, .. })
            })
            .count() as u64;
        RunOutcome {
            counters: self.metrics.counters_since_warmup(),
            totals: self.metrics.counters.clone(),
            listener: self.metrics.listener_since_warmup(&self.listener.counters),
            connect_time: self.metrics.connect_time.clone(),
            accept_delay: self.metrics.accept_delay.clone(),
            time_wait_client: self.metrics.tw_client.stats(end),
            time_wait_server: self.metrics.tw_server.stats(end),
            syn_recv: self.metrics.syn_recv.stats(end),
            accept_queue: self.metrics.accept_queue.stats(end),
            ingress_queue: self.metrics.ingress.stats(end),
            series: self.metrics.final_series(),
            events: self.events,
            sim_end: end,
            measured_from: self.warmup,
            measured_to: self.measure_end.min(end),
            legit_pending,
            peak_slots: self.conns.peak,
        }
    }
}

impl ListenerCounters {
    /// The counts accumulated since `earlier` (a snapshot at the end of the
    /// warm-up).
    pub fn since(&self, earlier: &ListenerCounters) -> ListenerCounters {
        ListenerCounters {
            listen_drops: self.listen_drops - earlier.listen_drops,
            listen_overflows: self.listen_overflows - earlier.listen_overflows,
            reqq_full_drop: self.reqq_full_drop - earlier.reqq_full_drop,
            reqq_full_do_cookies: self.reqq_full_do_cookies - earlier.reqq_full_do_cookies,
            syncookies_sent: self.syncookies_sent - earlier.syncookies_sent,
            syncookies_recv: self.syncookies_recv - earlier.syncookies_recv,
            syncookies_failed: self.syncookies_failed - earlier.syncookies_failed,
            syncookies_without_options: self.syncookies_without_options - earlier.syncookies_without_options,
            unproven_drops: self.unproven_drops - earlier.unproven_drops,
            defer_accept_drops: self.defer_accept_drops - earlier.defer_accept_drops,
            synack_retrans: self.synack_retrans - earlier.synack_retrans,
            request_timeouts: self.request_timeouts - earlier.request_timeouts,
            passive_opens: self.passive_opens - earlier.passive_opens,
            attempt_fails: self.attempt_fails - earlier.attempt_fails,
        }
    }
}

impl RunOutcome {
    /// Legitimate handshakes completed per attempt made in the measured
    /// window (NaN when there was no attempt).
    pub fn legit_success_ratio(&self) -> f64 {
        let c = &self.counters;
        if c.legit_attempts == 0 { f64::NAN } else { c.legit_established as f64 / c.legit_attempts as f64 }
    }

    /// Legitimate connections the server application accepted, per
    /// attempt: the user's success. A handshake completed but never
    /// accepted (still queued, or reset there) counts in
    /// `legit_success_ratio` (what connect() reports) but not here.
    pub fn legit_served_ratio(&self) -> f64 {
        let c = &self.counters;
        if c.legit_attempts == 0 { f64::NAN } else { c.legit_accepted as f64 / c.legit_attempts as f64 }
    }

    /// Every metric, in summary.csv's column order.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let c = &self.counters;
        let l = &self.listener;
        let h = &self.connect_time;
        let measured_s = (self.measured_to.as_secs_f64() - self.measured_from.as_secs_f64()).max(0.0);
        let mut m = vec![
            ("legit_attempts", c.legit_attempts as f64),
            ("legit_established", c.legit_established as f64),
            ("legit_success_ratio", self.legit_success_ratio()),
            ("legit_pending", self.legit_pending as f64),
            ("failed_timeout", c.failed_timeout as f64),
            ("failed_reset", c.failed_reset as f64),
            ("failed_no_port", c.failed_no_port as f64),
            ("legit_completed", c.legit_completed as f64),
            ("legit_reset_after_established", c.legit_reset_after_established as f64),
            ("connect_p50_ms", h.quantile_ms(0.50)),
            ("connect_p90_ms", h.quantile_ms(0.90)),
            ("connect_p99_ms", h.quantile_ms(0.99)),
            ("connect_max_ms", if h.count() == 0 { f64::NAN } else { h.max_ms() }),
            ("legit_accepted", c.legit_accepted as f64),
            ("legit_served_ratio", self.legit_served_ratio()),
            ("accept_delay_p50_ms", self.accept_delay.quantile_ms(0.50)),
            ("accept_delay_p90_ms", self.accept_delay.quantile_ms(0.90)),
            ("accept_delay_p99_ms", self.accept_delay.quantile_ms(0.99)),
            ("segments_sent", c.segments_sent as f64),
            ("segments_lost", c.segments_lost as f64),
            ("retransmissions", c.retransmissions as f64),
            ("client_syn_retrans", c.client_syn_retrans as f64),
            ("time_wait_peak_client", self.time_wait_client.peak as f64),
            ("time_wait_mean_client", self.time_wait_client.mean),
            ("time_wait_peak_server", self.time_wait_server.peak as f64),
            ("time_wait_mean_server", self.time_wait_server.mean),
            ("time_wait_memory_peak_server_bytes", self.time_wait_server.peak as f64 * TIME_WAIT_ENTRY_BYTES),
            ("time_wait_memory_peak_client_bytes", self.time_wait_client.peak as f64 * TIME_WAIT_ENTRY_BYTES),
            ("time_wait_entered_client", c.time_wait_entered_client as f64),
            ("time_wait_entered_server", c.time_wait_entered_server as f64),
            ("time_wait_overflow_client", c.client_tw_overflow as f64),
            ("time_wait_assassinated_client", c.time_wait_assassinated_client as f64),
            ("time_wait_assassinated_server", c.time_wait_assassinated_server as f64),
            ("attack_syns_sent", c.attack_syns_sent as f64),
            ("attack_syns", c.attack_syns as f64),
            ("syn_recv_peak", self.syn_recv.peak as f64),
            ("syn_recv_mean", self.syn_recv.mean),
            ("accept_queue_peak", self.accept_queue.peak as f64),
            ("accept_queue_mean", self.accept_queue.mean),
            ("ingress_drops", c.ingress_drops as f64),
            ("ingress_queue_peak", self.ingress_queue.peak as f64),
            ("ingress_queue_mean", self.ingress_queue.mean),
            ("request_timeouts", l.request_timeouts as f64),
            ("unproven_drops", l.unproven_drops as f64),
        ];
        m.extend(nstat(c, l));
        m.extend([
            ("syncookies_without_wscale_sack", l.syncookies_without_options as f64),
            ("time_wait_reopened_server", c.time_wait_reopened_server as f64),
            ("unwanted_established", c.unwanted_established as f64),
            ("unwanted_segments", c.unwanted_segments as f64),
            ("unwanted_established_s", c.unwanted_established_ns as f64 / 1e9),
            ("peak_connections", self.peak_slots as f64),
            ("events", self.events as f64),
            ("sim_s", self.sim_end.as_secs_f64()),
            ("warmup_s", self.measured_from.as_secs_f64()),
            ("measured_s", measured_s),
        ]);
        m
    }
}

/// The counters kept under their nstat names, in one place: summary.csv
/// reports them over the measured window, timeseries.csv per bin (as
/// `nstat` prints deltas). One naming scheme for the two network
/// namespaces: the server's under the plain nstat name (what `nstat` in the
/// server's namespace prints), the legitimate clients' with the prefix
/// `client_` (docs/counters.md).
pub const NSTAT: [&str; 26] = [
    "TcpPassiveOpens",
    "TcpAttemptFails",
    "TcpEstabResets",
    "TcpOutRsts",
    "TcpExtListenOverflows",
    "TcpExtListenDrops",
    "TcpExtTCPReqQFullDrop",
    "TcpExtTCPReqQFullDoCookies",
    "TcpExtSyncookiesSent",
    "TcpExtSyncookiesRecv",
    "TcpExtSyncookiesFailed",
    "TcpExtTCPSynRetrans",
    "TcpExtTW",
    "TcpExtTCPTimeWaitOverflow",
    "TcpExtTCPAbortOnData",
    "TcpExtTCPDeferAcceptDrop",
    "TcpExtTCPLossProbes",
    "client_TcpActiveOpens",
    "client_TcpAttemptFails",
    "client_TcpEstabResets",
    "client_TcpOutRsts",
    "client_TcpExtTCPSynRetrans",
    "client_TcpExtTW",
    "client_TcpExtTCPTimeWaitOverflow",
    "client_TcpExtTCPAbortOnData",
    "client_TcpExtTCPLossProbes",
];

/// The values of [`NSTAT`], in its order.
pub fn nstat(c: &Counters, l: &ListenerCounters) -> [(&'static str, f64); NSTAT.len()] {
    let v = [
        l.passive_opens,
        c.server_attempt_fails + l.attempt_fails,
        c.server_estab_resets,
        c.server_out_rsts,
        l.listen_overflows,
        l.listen_drops,
        l.reqq_full_drop,
        l.reqq_full_do_cookies,
        l.syncookies_sent,
        l.syncookies_recv,
        l.syncookies_failed,
        l.synack_retrans,
        c.server_tw,
        c.server_tw_overflow,
        c.server_abort_on_data,
        l.defer_accept_drops,
        c.server_loss_probes,
        c.client_active_opens,
        c.client_attempt_fails,
        c.client_estab_resets,
        c.client_out_rsts,
        c.client_syn_retrans,
        c.client_tw,
        c.client_tw_overflow,
        c.client_abort_on_data,
        c.client_loss_probes,
    ];
    std::array::from_fn(|i| (NSTAT[i], v[i] as f64))
}
