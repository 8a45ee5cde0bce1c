//! The model's slowest clocks for a run: how long after t = 0 its queues
//! can first be in steady state. A request under an attack lives
//! `(2^(tcp_synack_retries+1) - 1)` × `TCP_TIMEOUT_INIT` (63 s by default,
//! `reqsk_timer_handler`), so a SYN queue that an attack fills settles no
//! sooner than that after the attack starts; TIME-WAIT counts climb for
//! `TCP_TIMEWAIT_LEN` (60 s) after the clients start. A transient longer
//! than the run never shows in its time series, so the report checks the
//! warm-up against these as well as against what it detects.

use crate::config::{AttackKind, RunConfig, SynCookies};

/// Seconds from t = 0 until each mechanism can be in steady state (None:
/// the run does not exercise it).
#[derive(Copy, Clone, Debug, Default, PartialEq)]
pub struct Settling {
    /// The SYN queue under an attack that fills it: success ratios, connect
    /// times, drops and SYN_RECV depend on it.
    pub syn_queue: Option<f64>,
    /// TIME-WAIT counts and their memory.
    pub time_wait: Option<f64>,
}

pub fn settling(c: &RunConfig) -> Settling {
    let later = |a: Option<f64>, b: f64| Some(a.map_or(b, |a| a.max(b)));
    let mut s = Settling::default();
    for a in c.attackers.values() {
        let fills_queue = matches!(a.kind, AttackKind::SpoofedSyn | AttackKind::HalfOpen)
            && c.server.tcp_syncookies != SynCookies::Always
            && a.rate > 0.0;
        if fills_queue {
            let retries = c.server.tcp_synack_retries.min(30) as u32;
            let life =
                ((1u64 << (retries + 1)) - 1) as f64 * crate::tcp::params::TCP_TIMEOUT_INIT.as_secs_f64();
            s.syn_queue = later(s.syn_queue, a.start.as_secs_f64() + life);
        }
    }
    for p in c.clients.values() {
        s.time_wait = later(s.time_wait, p.start.as_secs_f64() + 60.0);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_settles_a_request_lifetime_after_it_starts() {
        let text = "duration = \"20s\"\n[server]\ntcp_syncookies = 0\n[clients.web]\nhosts = 10\nrate = 1\n\
                    start = \"1s\"\n[attackers.flood]\nkind = \"spoofed-syn\"\nrate = 1000\nstart = \"2s\"\n";
        let exp = crate::experiment::Experiment::parse(text, "t.toml", "t").unwrap();
        let s = settling(&exp.points()[0].config);
        assert_eq!(s, Settling { syn_queue: Some(65.0), time_wait: Some(61.0) });
        let always = text.replace("tcp_syncookies = 0", "tcp_syncookies = 2");
        let exp = crate::experiment::Experiment::parse(&always, "t.toml", "t").unwrap();
        assert_eq!(settling(&exp.points()[0].config).syn_queue, None, "cookies always: no queue to fill");
    }
}
