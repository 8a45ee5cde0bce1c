//! The typed parameters of one run, as an experiment file writes them.
//! Names are Linux's sysctl names; every default is Linux's (docs/linux.md).
//! `experiment/` reads files into these and validates them; `sim/` runs them.

use crate::engine::SimDuration;
use crate::net::{DelaySpec, LossSpec};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything one simulation run needs (the experiment file minus the
/// sweep, strategies and replicates, which expand into many of these).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunConfig {
    /// Simulated time of the run.
    pub duration: SimDuration,
    /// Metrics ignore events before this time.
    #[serde(default)]
    pub warmup: SimDuration,
    /// The run's last stretch, in which no new attempt is measured: the
    /// measured window is [warmup, duration - drain], and attempts made in
    /// it keep resolving (SYN retries, up to 127 s with Linux's defaults)
    /// under the same load until the run ends.
    #[serde(default)]
    pub drain: SimDuration,
    /// Time-series bin width.
    #[serde(default = "default_bin")]
    pub bin: SimDuration,
    /// CONFIG_HZ of every simulated kernel: 100, 250, 300 or 1000; timers
    /// fire on the timer wheel's jiffies. 0: exact timers (ablation).
    #[serde(default = "default_hz")]
    pub hz: u32,
    #[serde(default)]
    pub network: NetworkConfig,
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub clients: BTreeMap<String, ClientConfig>,
    #[serde(default)]
    pub attackers: BTreeMap<String, AttackerConfig>,
}

fn default_bin() -> SimDuration {
    SimDuration::from_secs(1)
}

/// Paths between every host and the server. The per-direction tables
/// override `delay` and `loss` for one direction.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    #[serde(default)]
    pub delay: DelaySpec,
    #[serde(default)]
    pub loss: LossSpec,
    #[serde(default)]
    pub client_to_server: Option<PathOverride>,
    #[serde(default)]
    pub server_to_client: Option<PathOverride>,
    /// Independent delays per segment, so a segment may overtake an
    /// earlier one of its flow. Off (the default), each flow's path is
    /// FIFO, as real paths nearly always are: a segment arrives no earlier
    /// than the one its connection sent before it.
    #[serde(default)]
    pub reorder: bool,
    /// The time a host takes to put one segment on the wire (a NIC's
    /// transmit queue, or a kernel's per-packet send cost). A host sends
    /// one segment at a time, in the order it sent them: a burst (a timer
    /// tick's retransmissions) reaches the far end spread out and in
    /// order, across all of the host's connections. None: no such cost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transmission_time: Option<DelaySpec>,
    /// Every host is a network namespace of one machine (a netns testbed):
    /// all read the server's jiffies, so their timers batch on the same
    /// timer-wheel grid. Off (the default), each host is a machine of its
    /// own, its jiffies at an unrelated phase.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub one_machine: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathOverride {
    pub delay: Option<DelaySpec>,
    pub loss: Option<LossSpec>,
}

/// `[clients.NAME.network]` or `[attackers.NAME.network]`: one
/// population's paths (mobile clients beside datacenter ones). A key left
/// out is `[network]`'s. The population's loss runs on its own channels
/// (its own Gilbert-Elliott state per direction), unless `shared_loss`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PopulationNetwork {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<DelaySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss: Option<LossSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_to_server: Option<PathOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_to_client: Option<PathOverride>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reorder: Option<bool>,
    /// The population's segments are lost on `[network]`'s channels, one
    /// bottleneck per direction shared with every population that has no
    /// `network` table (then it takes `[network]`'s loss, not its own).
    #[serde(default)]
    pub shared_loss: bool,
}

impl PopulationNetwork {
    /// Whether any of its tables sets a loss (which `shared_loss` forbids).
    pub fn sets_loss(&self) -> bool {
        self.loss.is_some()
            || [&self.client_to_server, &self.server_to_client]
                .iter()
                .any(|o| o.as_ref().is_some_and(|o| o.loss.is_some()))
    }
}

/// One population's paths with every key resolved: the most specific
/// setting wins (its direction table, its own key, `[network]`'s direction
/// table, `[network]`'s key).
#[derive(Clone, Debug, PartialEq)]
pub struct ResolvedPaths {
    pub client_to_server: (DelaySpec, LossSpec),
    pub server_to_client: (DelaySpec, LossSpec),
    pub reorder: bool,
    pub shared_loss: bool,
}

impl NetworkConfig {
    /// The paths of a population with its own `network` table.
    pub fn for_population(&self, p: &PopulationNetwork) -> ResolvedPaths {
        let pick = |own: Option<&PathOverride>, (delay, loss): (DelaySpec, LossSpec)| {
            (
                own.and_then(|o| o.delay.clone()).or_else(|| p.delay.clone()).unwrap_or(delay),
                own.and_then(|o| o.loss.clone()).or_else(|| p.loss.clone()).unwrap_or(loss),
            )
        };
        ResolvedPaths {
            client_to_server: pick(p.client_to_server.as_ref(), self.client_to_server()),
            server_to_client: pick(p.server_to_client.as_ref(), self.server_to_client()),
            reorder: p.reorder.unwrap_or(self.reorder),
            shared_loss: p.shared_loss,
        }
    }

    pub fn client_to_server(&self) -> (DelaySpec, LossSpec) {
        self.direction(self.client_to_server.as_ref())
    }
    pub fn server_to_client(&self) -> (DelaySpec, LossSpec) {
        self.direction(self.server_to_client.as_ref())
    }
    fn direction(&self, o: Option<&PathOverride>) -> (DelaySpec, LossSpec) {
        (
            o.and_then(|o| o.delay.clone()).unwrap_or_else(|| self.delay.clone()),
            o.and_then(|o| o.loss.clone()).unwrap_or_else(|| self.loss.clone()),
        )
    }
}

/// `tcp_syncookies`: 0, 1 or 2.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum SynCookies {
    /// 0: never; SYNs beyond the queue are dropped.
    Off,
    /// 1: only when the SYN queue overflows (Linux's default).
    OnOverflow,
    /// 2: always, unconditionally.
    Always,
}

impl TryFrom<u8> for SynCookies {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(SynCookies::Off),
            1 => Ok(SynCookies::OnOverflow),
            2 => Ok(SynCookies::Always),
            _ => Err(format!("tcp_syncookies must be 0, 1 or 2 (got {v})")),
        }
    }
}

impl From<SynCookies> for u8 {
    fn from(c: SynCookies) -> u8 {
        match c {
            SynCookies::Off => 0,
            SynCookies::OnOverflow => 1,
            SynCookies::Always => 2,
        }
    }
}

/// `tcp_tw_reuse`: 0, 1 or 2.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub enum TwReuse {
    Off,
    On,
    /// 2: loopback only (Linux's default). The simulated paths are not
    /// loopback, so this behaves as `Off`.
    LoopbackOnly,
}

impl TryFrom<u8> for TwReuse {
    type Error = String;
    fn try_from(v: u8) -> Result<Self, String> {
        match v {
            0 => Ok(TwReuse::Off),
            1 => Ok(TwReuse::On),
            2 => Ok(TwReuse::LoopbackOnly),
            _ => Err(format!("tcp_tw_reuse must be 0, 1 or 2 (got {v})")),
        }
    }
}

impl From<TwReuse> for u8 {
    fn from(c: TwReuse) -> u8 {
        match c {
            TwReuse::Off => 0,
            TwReuse::On => 1,
            TwReuse::LoopbackOnly => 2,
        }
    }
}

/// A rate in events per second, or `"unlimited"` (no limit).
#[derive(Copy, Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Rate {
    PerSecond(f64),
    Named(Unlimited),
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match toml::Value::deserialize(d)? {
            toml::Value::Float(r) => Ok(Rate::PerSecond(r)),
            toml::Value::Integer(r) => Ok(Rate::PerSecond(r as f64)),
            toml::Value::String(s) if s == "unlimited" => Ok(Rate::UNLIMITED),
            other => Err(D::Error::custom(format!(
                "a rate is written as a number per second like 5000, or \"unlimited\" (got {})",
                crate::serde_forms::describe(&other)
            ))),
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unlimited {
    Unlimited,
}

impl Rate {
    pub const UNLIMITED: Rate = Rate::Named(Unlimited::Unlimited);
    /// None: unlimited.
    pub fn per_second(self) -> Option<f64> {
        match self {
            Rate::PerSecond(r) => Some(r),
            Rate::Named(_) => None,
        }
    }
}

/// The listening server and its kernel. Defaults are Linux's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The `backlog` argument of listen().
    pub listen_backlog: u32,
    /// `net.core.somaxconn`: listen() clips its backlog to it.
    pub somaxconn: u32,
    pub tcp_max_syn_backlog: u32,
    pub tcp_syncookies: SynCookies,
    pub tcp_synack_retries: u8,
    /// 1: answer RST when the accept queue is full at the final ACK.
    pub tcp_abort_on_overflow: bool,
    /// Linux's young-request pruning in `reqsk_timer_handler`; false makes
    /// the SYN queue a textbook loss system (an ablation, not a sysctl).
    pub synack_pruning: bool,
    /// `net.ipv4.tcp_no_metrics_save`: true, connections that end write no
    /// TCP metrics entry (`tcp_update_metrics`), so no peer becomes proven.
    pub tcp_no_metrics_save: bool,
    /// TCP_DEFER_ACCEPT on the listening socket, seconds (0: off): a bare
    /// final ACK does not complete the handshake until data comes or about
    /// this long has passed (`tcp_check_req`, `syn_ack_recalc`).
    pub tcp_defer_accept: u32,
    /// Ingress queue in front of TCP processing (`enqueue_to_backlog`).
    pub netdev_max_backlog: u32,
    /// Segments per second the server takes off its ingress queue.
    pub packet_rate: Rate,
    /// The application's mean rate of accept() calls, over all its
    /// workers; 0 never accepts, "unlimited" accepts at once.
    pub accept_rate: Rate,
    /// Application threads: each calls accept(), serves the connection it
    /// got for one service time, and calls accept() again.
    pub workers: u32,
    /// The shape of the per-connection service time; its mean is
    /// `workers / accept_rate`.
    pub service_time: ServiceTime,
    /// With `service_time = "table"`: measured service times, drawn
    /// uniformly and scaled so their mean is `workers / accept_rate`.
    pub service_table: Vec<SimDuration>,
    pub tcp_max_tw_buckets: u32,
    pub tcp_fin_timeout: SimDuration,
    /// 0 means 8 (`tcp_orphan_retries()`).
    pub tcp_orphan_retries: u8,
    pub tcp_timestamps: bool,
    /// SO_LINGER {on, 0} on the server's sockets: close() sends RST.
    pub linger_zero: bool,
    /// Delay between the application reading EOF and calling close().
    pub close_delay: SimDuration,
    /// Bytes the application sends on each accepted connection (0: none).
    pub response_bytes: u16,
    /// `tcp_rfc1337`: TIME-WAIT ignores RSTs.
    pub tcp_rfc1337: bool,
    /// `tcp_early_retrans` (0-4): 3 and 4 send tail loss probes.
    pub tcp_early_retrans: u8,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen_backlog: 4096,
            somaxconn: 4096,
            tcp_max_syn_backlog: 2048,
            tcp_syncookies: SynCookies::OnOverflow,
            tcp_synack_retries: 5,
            tcp_abort_on_overflow: false,
            synack_pruning: true,
            tcp_no_metrics_save: false,
            tcp_defer_accept: 0,
            netdev_max_backlog: 1000,
            packet_rate: Rate::UNLIMITED,
            accept_rate: Rate::UNLIMITED,
            workers: 1,
            service_time: ServiceTime::Constant,
            service_table: Vec::new(),
            tcp_max_tw_buckets: 131_072,
            tcp_fin_timeout: SimDuration::from_secs(60),
            tcp_orphan_retries: 0,
            tcp_timestamps: true,
            linger_zero: false,
            close_delay: SimDuration::ZERO,
            response_bytes: 0,
            tcp_rfc1337: false,
            tcp_early_retrans: TCP_EARLY_RETRANS,
        }
    }
}

impl ServerConfig {
    /// `sk_max_ack_backlog = min(backlog, somaxconn)` (`__sys_listen`).
    pub fn max_ack_backlog(&self) -> u32 {
        self.listen_backlog.min(self.somaxconn)
    }
}

/// How the server application's per-connection service time varies.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceTime {
    /// Always the mean: one worker accepts exactly `accept_rate` per second
    /// while connections wait.
    #[default]
    Constant,
    /// Exponential with the mean (a Poisson server).
    Exponential,
    /// Drawn from `service_table`.
    Table,
}

/// Who calls close() first on a legitimate connection.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Closer {
    Client,
    Server,
    /// Each connection: the client with probability `client_close_share`.
    Mixed,
}

/// A population of legitimate client hosts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub hosts: u64,
    /// Open loop: new connections per second over the population, Poisson.
    #[serde(default)]
    pub rate: Option<f64>,
    /// Closed loop: this many users, each connecting again `think` after
    /// its previous connection ended.
    #[serde(default)]
    pub concurrency: Option<u64>,
    #[serde(default)]
    pub think: SimDuration,
    /// Established -> the closer calls close().
    #[serde(default = "default_hold")]
    pub hold: SimDuration,
    #[serde(default = "default_closer")]
    pub closer: Closer,
    #[serde(default = "half")]
    pub client_close_share: f64,
    /// Bytes the client sends once established (0: none).
    #[serde(default)]
    pub request_bytes: u16,
    #[serde(default)]
    pub start: SimDuration,
    #[serde(default)]
    pub stop: Option<SimDuration>,
    #[serde(default = "default_syn_retries")]
    pub tcp_syn_retries: u8,
    /// SYN retransmissions at a fixed 1 s before the doubling starts
    /// (Linux >= 6.5; 0: the older doubling schedule).
    #[serde(default = "default_syn_linear_timeouts")]
    pub tcp_syn_linear_timeouts: u8,
    #[serde(default = "default_tw_reuse")]
    pub tcp_tw_reuse: TwReuse,
    /// `tcp_tw_reuse_delay`: how long after it began a TIME-WAIT may be
    /// taken over (whole milliseconds, 1 ms to 60 s).
    #[serde(default = "default_tw_reuse_delay")]
    pub tcp_tw_reuse_delay: SimDuration,
    #[serde(default = "yes")]
    pub tcp_timestamps: bool,
    #[serde(default = "default_port_range")]
    pub ip_local_port_range: [u16; 2],
    #[serde(default = "default_fin_timeout")]
    pub tcp_fin_timeout: SimDuration,
    #[serde(default)]
    pub tcp_orphan_retries: u8,
    #[serde(default = "default_tw_buckets")]
    pub tcp_max_tw_buckets: u32,
    /// SO_LINGER {on, 0} on the clients' sockets.
    #[serde(default)]
    pub linger_zero: bool,
    /// `tcp_rfc1337`: TIME-WAIT ignores RSTs.
    #[serde(default)]
    pub tcp_rfc1337: bool,
    /// `tcp_early_retrans` (0-4): 3 and 4 send tail loss probes.
    #[serde(default = "default_early_retrans")]
    pub tcp_early_retrans: u8,
    /// The handshake variant, for ablation: "three-way" (TCP) or "two-way"
    /// (the server establishes on the SYN).
    #[serde(default)]
    pub handshake: Handshake,
    /// Which host makes an open-loop arrival: "random" (uniform) or
    /// "round-robin" (host 0, 1, 2, ...: each host connects once before any
    /// connects twice).
    #[serde(default)]
    pub host_choice: HostChoice,
    /// Open loop: stop after this many connect() calls (none: no limit).
    #[serde(default)]
    pub max_connections: Option<u64>,
    /// Share of the hosts the server's TCP metrics cache remembers at the
    /// start (each host drawn alone): 0 is a fresh boot, 1 every host
    /// completed a connection just before the run (`tcp_peer_is_proven`).
    #[serde(default)]
    pub remembered: f64,
    /// Open loop: how arrivals are spaced.
    #[serde(default)]
    pub arrival: Arrival,
    /// This population's own paths (none: `[network]`'s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<PopulationNetwork>,
}

/// How an open-loop population's connect() calls are spaced in time.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Exponential gaps (a Poisson process).
    #[default]
    Poisson,
    /// Exactly 1/rate apart, as load generators and testbeds often send.
    Constant,
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HostChoice {
    #[default]
    Random,
    RoundRobin,
}

fn default_hold() -> SimDuration {
    SimDuration::from_millis(100)
}
fn default_closer() -> Closer {
    Closer::Client
}
fn half() -> f64 {
    0.5
}
fn default_syn_retries() -> u8 {
    6
}
fn default_syn_linear_timeouts() -> u8 {
    crate::tcp::params::TCP_SYN_LINEAR_TIMEOUTS
}
fn default_hz() -> u32 {
    crate::tcp::timer_wheel::DEFAULT_HZ
}
fn default_tw_reuse() -> TwReuse {
    TwReuse::LoopbackOnly
}
fn default_tw_reuse_delay() -> SimDuration {
    crate::tcp::params::TCP_TW_REUSE_DELAY
}
fn yes() -> bool {
    true
}
fn default_port_range() -> [u16; 2] {
    [32768, 60999]
}
fn default_fin_timeout() -> SimDuration {
    SimDuration::from_secs(60)
}
fn default_tw_buckets() -> u32 {
    131_072
}
/// Linux's default `tcp_early_retrans`: tail loss probes, no delayed ER.
pub const TCP_EARLY_RETRANS: u8 = 3;
fn default_early_retrans() -> u8 {
    TCP_EARLY_RETRANS
}

#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Handshake {
    #[default]
    ThreeWay,
    TwoWay,
}

/// What an attacker does.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttackKind {
    /// SYNs from random source addresses that never answer (or answer RST).
    SpoofedSyn,
    /// Real hosts that send SYN and never the final ACK.
    HalfOpen,
    /// Real hosts that complete the handshake and never send anything.
    ConnectFlood,
}

/// How the attack rate varies over time: `profile = "poisson"` or a table
/// tagged by `shape`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "kebab-case", deny_unknown_fields)]
#[serde(remote = "Self")]
pub enum RateProfile {
    /// Evenly spaced packets at `rate`.
    Constant,
    /// Poisson arrivals at `rate`.
    #[default]
    Poisson,
    /// `rate` during `on`, nothing during `off`, repeating.
    OnOff { on: SimDuration, off: SimDuration },
    /// From `from` per second at `start` linearly to `rate` at `ramp`
    /// after `start`, then `rate`.
    Ramp { from: f64, over: SimDuration },
}

/// How a rate profile is written, for messages.
pub const PROFILE_FORMS: &str = "\"constant\", \"poisson\", or one of { shape = \"constant\" }, \
    { shape = \"poisson\" }, { shape = \"on-off\", on = \"1s\", off = \"4s\" }, { shape = \"ramp\", from = 0, over = \"10s\" }";

impl<'de> Deserialize<'de> for RateProfile {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The table form, through serde's derive on the remote definition.
        #[derive(Deserialize)]
        struct Tagged(#[serde(with = "RateProfile")] RateProfile);
        crate::serde_forms::scalar_or_table(
            d,
            "a rate profile",
            PROFILE_FORMS,
            |v| {
                let s = v.as_str()?;
                Some(match s {
                    "constant" => Ok(RateProfile::Constant),
                    "poisson" => Ok(RateProfile::Poisson),
                    "on-off" | "ramp" => Err(format!("the `{s}` profile needs its parameters in a table")),
                    other => {
                        Err(format!("unknown profile `{other}` (allowed: constant, poisson, on-off, ramp)"))
                    }
                })
            },
            |t: Tagged| t.0,
        )
    }
}

impl Serialize for RateProfile {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RateProfile::serialize(self, s)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackerConfig {
    pub kind: AttackKind,
    /// SYNs (or connections) per second.
    pub rate: f64,
    #[serde(default)]
    pub profile: RateProfile,
    #[serde(default)]
    pub start: SimDuration,
    #[serde(default)]
    pub stop: Option<SimDuration>,
    /// spoofed-syn: how many distinct source addresses (up to 2^32).
    #[serde(default = "all_addresses")]
    pub sources: u64,
    /// spoofed-syn: the share of spoofed sources that are real hosts and
    /// answer an unexpected SYN-ACK with RST.
    #[serde(default)]
    pub rst_fraction: f64,
    /// half-open and connect-flood: how many real attacking hosts.
    #[serde(default = "default_attack_hosts")]
    pub hosts: u64,
    /// The attacker's own paths (none: `[network]`'s). A spoofed-syn
    /// attacker's SYNs take its client-to-server path; the answers go to
    /// spoofed addresses, which are `[network]`'s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<PopulationNetwork>,
}

fn all_addresses() -> u64 {
    1 << 32
}
fn default_attack_hosts() -> u64 {
    1000
}

/// Seconds a population or attacker is active within a run of `duration`:
/// from its `start` to its `stop` (or the run's end).
fn active_s(start: SimDuration, stop: Option<SimDuration>, duration: SimDuration) -> f64 {
    let end = stop.unwrap_or(duration).min(duration);
    end.as_secs_f64() - start.min(end).as_secs_f64()
}

impl ClientConfig {
    pub fn active_s(&self, duration: SimDuration) -> f64 {
        active_s(self.start, self.stop, duration)
    }
}

impl AttackerConfig {
    pub fn active_s(&self, duration: SimDuration) -> f64 {
        active_s(self.start, self.stop, duration)
    }
}
