//! Value ranges serde cannot check: each failure names the dotted key.

use crate::config::{AttackKind, PathOverride, PopulationNetwork, RunConfig, ServiceTime};
use crate::engine::SimDuration;
use crate::tcp::params::TCP_TW_REUSE_DELAY_MAX;

type Check = Result<(), (String, String)>;

fn fail(key: impl Into<String>, msg: impl Into<String>) -> Check {
    Err((key.into(), msg.into()))
}

fn rate(key: String, r: f64) -> Check {
    if r.is_finite() && r >= 0.0 {
        Ok(())
    } else {
        fail(key, format!("must be a rate >= 0 per second (got {r})"))
    }
}

fn share(key: String, p: f64) -> Check {
    if (0.0..=1.0).contains(&p) { Ok(()) } else { fail(key, format!("must be in [0, 1] (got {p})")) }
}

/// Everything a run needs to make sense.
pub fn check(c: &RunConfig) -> Check {
    if c.duration.0 == 0 {
        return fail("duration", "must be longer than 0s");
    }
    if c.warmup >= c.duration {
        return fail("warmup", format!("must be shorter than duration ({} >= {})", c.warmup, c.duration));
    }
    if c.warmup + c.drain >= c.duration {
        return fail(
            "drain",
            format!(
                "leaves no measured window: warmup ({}) + drain ({}) must be shorter than duration ({})",
                c.warmup, c.drain, c.duration
            ),
        );
    }
    if c.bin.0 == 0 {
        return fail("bin", "must be longer than 0s");
    }
    if !crate::tcp::timer_wheel::HZ_CHOICES.contains(&c.hz) {
        return fail(
            "hz",
            format!("must be {} (got {})", crate::tcp::timer_wheel::HZ_CHOICES_IN_WORDS, c.hz),
        );
    }
    if c.clients.is_empty() && c.attackers.is_empty() {
        return fail("clients", "an experiment needs at least one [clients.NAME] or [attackers.NAME] table");
    }
    c.network.delay.validate().or_else(|m| fail("network.delay", m))?;
    c.network.loss.validate().or_else(|m| fail("network.loss", m))?;
    if let Some(t) = &c.network.transmission_time {
        t.validate().or_else(|m| fail("network.transmission_time", m))?;
    }
    directions("network", &c.network.client_to_server, &c.network.server_to_client)?;
    let own = c.clients.iter().map(|(n, p)| (format!("clients.{n}"), &p.network, false));
    let own = own.chain(
        c.attackers
            .iter()
            .map(|(n, a)| (format!("attackers.{n}"), &a.network, a.kind == AttackKind::SpoofedSyn)),
    );
    for (name, n, spoofed) in own {
        if let Some(n) = n {
            population_network(&format!("{name}.network"), n, spoofed)?;
        }
    }
    let s = &c.server;
    if s.tcp_max_syn_backlog < 4 {
        return fail(
            "server.tcp_max_syn_backlog",
            format!("must be at least 4 (got {})", s.tcp_max_syn_backlog),
        );
    }
    if s.tcp_early_retrans > 4 {
        return fail("server.tcp_early_retrans", format!("must be 0 to 4 (got {})", s.tcp_early_retrans));
    }
    if s.tcp_synack_retries > 20 {
        return fail(
            "server.tcp_synack_retries",
            format!("must be at most 20 (got {})", s.tcp_synack_retries),
        );
    }
    if s.netdev_max_backlog == 0 {
        return fail("server.netdev_max_backlog", "must be at least 1");
    }
    for (key, r) in [("server.packet_rate", s.packet_rate), ("server.accept_rate", s.accept_rate)] {
        if let Some(r) = r.per_second() {
            rate(key.into(), r)?;
        }
    }
    if s.workers == 0 || s.workers > 100_000 {
        return fail("server.workers", format!("must be an integer from 1 to 100000 (got {})", s.workers));
    }
    match (s.service_time, s.service_table.is_empty()) {
        (ServiceTime::Table, true) => {
            return fail("server.service_table", "service_time = \"table\" needs a table of durations");
        }
        (ServiceTime::Table, false) if s.service_table.iter().all(|d| d.0 == 0) => {
            return fail("server.service_table", "needs at least one duration above 0");
        }
        (ServiceTime::Constant | ServiceTime::Exponential, false) => {
            return fail("server.service_table", "is read only with service_time = \"table\"");
        }
        _ => {}
    }
    if s.packet_rate.per_second() == Some(0.0) {
        return fail("server.packet_rate", "must be above 0 (or \"unlimited\")");
    }
    for (name, cl) in &c.clients {
        let key = |k: &str| format!("clients.{name}.{k}");
        if cl.hosts == 0 || cl.hosts > 80_000_000 {
            return fail(key("hosts"), format!("must be an integer from 1 to 80000000 (got {})", cl.hosts));
        }
        match (cl.rate, cl.concurrency) {
            (Some(r), None) => rate(key("rate"), r)?,
            (None, Some(n)) if n > 0 && n <= 100_000_000 => {}
            (None, Some(n)) => {
                return fail(key("concurrency"), format!("must be an integer from 1 to 100000000 (got {n})"));
            }
            _ => {
                return fail(
                    key("rate"),
                    "give exactly one of `rate` (open loop) or `concurrency` (closed loop)",
                );
            }
        }
        share(key("client_close_share"), cl.client_close_share)?;
        share(key("remembered"), cl.remembered)?;
        let [lo, hi] = cl.ip_local_port_range;
        if lo == 0 || lo > hi {
            return fail(
                key("ip_local_port_range"),
                format!("must be [low, high] with 1 <= low <= high (got [{lo}, {hi}])"),
            );
        }
        if cl.tcp_early_retrans > 4 {
            return fail(key("tcp_early_retrans"), format!("must be 0 to 4 (got {})", cl.tcp_early_retrans));
        }
        if cl.tcp_syn_retries > 20 {
            return fail(key("tcp_syn_retries"), format!("must be at most 20 (got {})", cl.tcp_syn_retries));
        }
        if cl.tcp_syn_linear_timeouts > 127 {
            return fail(
                key("tcp_syn_linear_timeouts"),
                format!("must be at most 127 (got {})", cl.tcp_syn_linear_timeouts),
            );
        }
        // proc_douintvec_minmax: 1 to TCP_PAWS_MSL * 1000 milliseconds.
        let delay = cl.tcp_tw_reuse_delay;
        let ms = SimDuration::from_millis(1);
        if delay < ms || delay > TCP_TW_REUSE_DELAY_MAX || delay.as_nanos() % ms.as_nanos() != 0 {
            return fail(
                key("tcp_tw_reuse_delay"),
                format!("must be a whole number of milliseconds from 1ms to 60s (got {delay})"),
            );
        }
        if let Some(stop) = cl.stop
            && stop <= cl.start
        {
            return fail(key("stop"), format!("must be after start ({stop} <= {})", cl.start));
        }
    }
    for (name, a) in &c.attackers {
        let key = |k: &str| format!("attackers.{name}.{k}");
        rate(key("rate"), a.rate)?;
        share(key("rst_fraction"), a.rst_fraction)?;
        if a.sources == 0 || a.sources > 1 << 32 {
            return fail(
                key("sources"),
                format!("must be an integer from 1 to 4294967296 (got {})", a.sources),
            );
        }
        if a.kind != AttackKind::SpoofedSyn && (a.hosts == 0 || a.hosts > 10_000_000) {
            return fail(key("hosts"), format!("must be an integer from 1 to 10000000 (got {})", a.hosts));
        }
        if let crate::config::RateProfile::Ramp { from, .. } = a.profile {
            rate(key("profile.from"), from)?;
        }
        if let Some(stop) = a.stop
            && stop <= a.start
        {
            return fail(key("stop"), format!("must be after start ({stop} <= {})", a.start));
        }
    }
    Ok(())
}

/// The per-direction tables under `at` (`network` or a population's).
fn directions(at: &str, c2s: &Option<PathOverride>, s2c: &Option<PathOverride>) -> Check {
    for (dir, o) in [("client_to_server", c2s), ("server_to_client", s2c)] {
        if let Some(o) = o {
            if let Some(d) = &o.delay {
                d.validate().or_else(|m| fail(format!("{at}.{dir}.delay"), m))?;
            }
            if let Some(l) = &o.loss {
                l.validate().or_else(|m| fail(format!("{at}.{dir}.loss"), m))?;
            }
        }
    }
    Ok(())
}

/// `[clients.NAME.network]`, `[attackers.NAME.network]`.
fn population_network(at: &str, n: &PopulationNetwork, spoofed: bool) -> Check {
    if let Some(d) = &n.delay {
        d.validate().or_else(|m| fail(format!("{at}.delay"), m))?;
    }
    if let Some(l) = &n.loss {
        l.validate().or_else(|m| fail(format!("{at}.loss"), m))?;
    }
    directions(at, &n.client_to_server, &n.server_to_client)?;
    if n.shared_loss && n.sets_loss() {
        return fail(
            format!("{at}.shared_loss"),
            "a population on the shared bottleneck is lost at [network]'s loss: remove its own `loss`, \
             or set shared_loss = false to give it its own loss channel",
        );
    }
    if spoofed && n.server_to_client.is_some() {
        return fail(
            format!("{at}.server_to_client"),
            "a spoofed-syn attacker has no path back: the SYN-ACKs go to the spoofed addresses, on \
             [network]'s paths (its own network sets the path of its SYNs)",
        );
    }
    Ok(())
}
