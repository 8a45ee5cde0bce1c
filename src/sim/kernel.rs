//! The experiment file's sysctls turned into what the TCP model reads:
//! the one place `config` meets `tcp`, so that `tcp` depends on nothing
//! but `engine`.

use crate::config::{self, ClientConfig, Handshake, RunConfig, ServerConfig};
use crate::tcp::listener::defer_accept_retrans;
use crate::tcp::params::{
    DEFAULT_MSS, IP_LOCAL_PORT_RANGE, TCP_SYN_LINEAR_TIMEOUTS, TCP_SYN_RETRIES, TCP_SYNACK_RETRIES,
    TCP_TW_REUSE_DELAY, effective_orphan_retries,
};
use crate::tcp::ports::Ports;
use crate::tcp::{ListenerConfig, SynCookies, TcpParams, TwReuse};

pub fn syncookies(c: config::SynCookies) -> SynCookies {
    match c {
        config::SynCookies::Off => SynCookies::Off,
        config::SynCookies::OnOverflow => SynCookies::OnOverflow,
        config::SynCookies::Always => SynCookies::Always,
    }
}

pub fn tw_reuse(c: config::TwReuse) -> TwReuse {
    match c {
        config::TwReuse::Off => TwReuse::Off,
        config::TwReuse::On => TwReuse::On,
        config::TwReuse::LoopbackOnly => TwReuse::LoopbackOnly,
    }
}

/// `tcp_schedule_loss_probe` runs for `tcp_early_retrans` 3 and 4.
fn sends_loss_probes(early_retrans: u8) -> bool {
    matches!(early_retrans, 3 | 4)
}

/// The listening socket's settings.
pub fn listener_config(s: &ServerConfig) -> ListenerConfig {
    ListenerConfig {
        max_ack_backlog: s.max_ack_backlog(),
        max_syn_backlog: s.tcp_max_syn_backlog,
        syncookies: syncookies(s.tcp_syncookies),
        abort_on_overflow: s.tcp_abort_on_overflow,
        synack_pruning: s.synack_pruning,
        defer_accept: defer_accept_retrans(s.tcp_defer_accept),
    }
}

/// The server's kernel (its `tcp_syn_retries` never matters: it does not
/// connect()), CONFIG_HZ `hz`.
pub fn server_params(s: &ServerConfig, hz: u32) -> TcpParams {
    TcpParams {
        syn_retries: TCP_SYN_RETRIES,
        synack_retries: s.tcp_synack_retries,
        orphan_retries: effective_orphan_retries(s.tcp_orphan_retries),
        fin_timeout: s.tcp_fin_timeout,
        timestamps: s.tcp_timestamps,
        linger_zero: s.linger_zero,
        mss: DEFAULT_MSS,
        two_way: false,
        syn_linear_timeouts: TCP_SYN_LINEAR_TIMEOUTS,
        hz,
        rfc1337: s.tcp_rfc1337,
        ts_secret: 0,
        loss_probes: sends_loss_probes(s.tcp_early_retrans),
        clock_secret: 0,
    }
}

/// The server as one population's connections see it: the handshake
/// ablation is per population.
pub fn server_params_for(server: TcpParams, c: &ClientConfig) -> TcpParams {
    TcpParams { two_way: c.handshake == Handshake::TwoWay, ..server }
}

/// A client population's kernel (its `tcp_synack_retries` never matters:
/// it does not listen), CONFIG_HZ `hz`.
pub fn client_params(c: &ClientConfig, hz: u32) -> TcpParams {
    TcpParams {
        syn_retries: c.tcp_syn_retries,
        synack_retries: TCP_SYNACK_RETRIES,
        orphan_retries: effective_orphan_retries(c.tcp_orphan_retries),
        fin_timeout: c.tcp_fin_timeout,
        timestamps: c.tcp_timestamps,
        linger_zero: c.linger_zero,
        mss: DEFAULT_MSS,
        two_way: false,
        syn_linear_timeouts: c.tcp_syn_linear_timeouts,
        hz,
        rfc1337: c.tcp_rfc1337,
        ts_secret: 0,
        loss_probes: sends_loss_probes(c.tcp_early_retrans),
        // The world sets it (its hosts' jiffies phases).
        clock_secret: 0,
    }
}

/// The secret behind every client's and attacking host's jiffies phase
/// (`TcpParams::clock_secret`): none when the hosts are namespaces of one
/// machine (`[network] one_machine`), which all read the server's jiffies.
/// Drawn from the timestamp secret, so no random stream shifts.
pub fn clock_secret(cfg: &RunConfig, ts_secret: u64) -> u64 {
    if cfg.network.one_machine { 0 } else { crate::engine::rng::mix64(ts_secret ^ 0x6a69_6666_6965_7321) | 1 }
}

/// An attacking host's kernel: Linux defaults, CONFIG_HZ `hz`, its jiffies
/// phase from `clock_secret`.
pub fn attacker_params(hz: u32, clock_secret: u64) -> TcpParams {
    TcpParams { hz, clock_secret, ..TcpParams::default() }
}

/// A client population's ephemeral ports.
pub fn client_ports(c: &ClientConfig) -> Ports {
    Ports::new(c.ip_local_port_range, tw_reuse(c.tcp_tw_reuse), c.tcp_tw_reuse_delay, c.tcp_timestamps)
}

/// An attacking host's ports: Linux defaults.
pub fn attacker_ports() -> Ports {
    Ports::new(IP_LOCAL_PORT_RANGE, TwReuse::Off, TCP_TW_REUSE_DELAY, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::params::{TCP_FIN_TIMEOUT, TCP_SYNACK_RETRIES};

    #[test]
    fn default_sysctls_are_the_model_defaults() {
        let s = ServerConfig::default();
        assert_eq!(server_params(&s, crate::tcp::params::DEFAULT_HZ), TcpParams::default());
        let l = listener_config(&s);
        assert_eq!((l.max_ack_backlog, l.syncookies), (4096, SynCookies::OnOverflow));
        assert_eq!(s.tcp_synack_retries, TCP_SYNACK_RETRIES);
        assert_eq!(s.tcp_fin_timeout, TCP_FIN_TIMEOUT);
    }

    #[test]
    fn two_way_is_a_per_population_ablation() {
        let mut c: ClientConfig = toml::from_str("hosts = 1").unwrap();
        assert!(!server_params_for(TcpParams::default(), &c).two_way);
        c.handshake = Handshake::TwoWay;
        assert!(server_params_for(TcpParams::default(), &c).two_way);
        let cp = client_params(&c, 250);
        assert_eq!((cp.syn_retries, cp.syn_linear_timeouts, cp.hz), (TCP_SYN_RETRIES, 4, 250));
        let rc: crate::config::RunConfig = toml::from_str("duration = \"1s\"").unwrap();
        assert_eq!(rc.hz, TcpParams::default().hz, "the file's default hz is the model's");
    }
}
