//! The traced scenarios, by name: one client, one server, a constant
//! one-way delay, Linux defaults, and the exact drop rules and scripted
//! steps each scenario needs. Traces run with exact timers (`hz = 0`), so
//! that they show the protocol's own times (1 s, 60 s), unless a scenario
//! sets the kernel's timer wheel (`syn-timeout-linear`). One table: a scenario is a name, a summary
//! and a setup; `synsim trace` and the tests read nothing else.

use crate::config::{
    ClientConfig, Closer, Handshake, HostChoice, Rate, RunConfig, ServerConfig, SynCookies, TwReuse,
};
use crate::engine::{SimDuration, SimTime};
use crate::net::{DelaySpec, Direction, DropRule, Occurrence, RuleAction};
use crate::sim::addr::SERVER;
use crate::sim::{ScriptAction, World};
use crate::tcp::params::{
    DEFAULT_HZ, DEFAULT_MSS, IP_LOCAL_PORT_RANGE, TCP_FIN_TIMEOUT, TCP_MAX_TW_BUCKETS,
    TCP_SYN_LINEAR_TIMEOUTS, TCP_SYN_RETRIES, TCP_TW_REUSE_DELAY,
};
use crate::tcp::{Flags, Segment, SegmentKind, SockAddr};
use crate::trace::{Side, TraceRecord};
use Direction::*;
use SegmentKind::*;
use std::collections::BTreeMap;

/// The one-way delay every scenario uses.
pub const ONE_WAY: SimDuration = SimDuration::from_millis(10);
/// How long the client application holds an established connection.
pub const HOLD: SimDuration = SimDuration::from_millis(500);
/// A trace runs until nothing is left to happen, or this long.
pub const TRACE_LIMIT: SimDuration = SimDuration::from_secs(600);

pub struct Scenario {
    pub name: &'static str,
    pub summary: &'static str,
    /// Edits the defaults into this scenario.
    pub setup: fn(&mut Parts),
}

/// Every scenario `synsim trace` knows, in the order `--list` shows them.
pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "normal",
        summary: "three-way handshake, then the teardown (client closes first): the server closes before its delayed ACK fires, so one FIN-ACK carries it",
        setup: |_| {},
    },
    Scenario {
        name: "lost-syn",
        summary: "the first SYN is lost: the same SYN is sent again at 1 s",
        setup: |s| s.rules.push(drop(Syn, 1, ClientToServer)),
    },
    Scenario {
        name: "syn-timeout",
        summary: "every SYN is lost: retries at 1, 3, 7, 15, 31, 63 s, connect() fails at 127 s",
        setup: |s| {
            // The article's schedule is the doubling one of kernels before
            // 6.5: tcp_syn_linear_timeouts = 0 (syn-timeout-linear shows
            // today's default).
            s.client.tcp_syn_linear_timeouts = 0;
            s.rules.push(drop_all(Syn, ClientToServer));
        },
    },
    Scenario {
        name: "syn-timeout-linear",
        summary: "the same on Linux >= 6.5 at HZ 250: retries every ~1 s five times, then doubling; connect() fails at ~135 s",
        setup: |s| {
            // tcp_syn_linear_timeouts = 4 (the default) on the timer wheel:
            // SYNs at 0, 1.024, 2.048, 3.072, 4.096, 5.12, 7.136, 11.264,
            // 19.456, 35.584, 69.632 s; the expiry that finds 6 + 4
            // retransmissions done, at 135.168 s, fails connect().
            s.hz = DEFAULT_HZ;
            s.rules.push(drop_all(Syn, ClientToServer));
        },
    },
    Scenario {
        name: "lost-synack",
        summary: "the SYN-ACK is lost: client resends its SYN, server its SYN-ACK, both at 1 s",
        setup: |s| s.rules.push(drop(SynAck, 1, ServerToClient)),
    },
    Scenario {
        name: "lost-final-ack",
        summary: "the third segment is lost: the server resends its SYN-ACK, the client ACKs again",
        setup: |s| {
            // Hold past the server's SYN-ACK retransmission at 1.01 s, so
            // that no FIN carries the missing ACK first.
            s.rules.push(drop(Ack, 1, ClientToServer));
            s.client.hold = SimDuration::from_secs(2);
        },
    },
    Scenario {
        name: "lost-final-ack-data",
        summary: "the third segment is lost, but the client's first data carries the ACK",
        setup: |s| {
            s.rules.push(drop(Ack, 1, ClientToServer));
            s.client.request_bytes = 100;
        },
    },
    Scenario {
        name: "old-duplicate-syn",
        summary: "an old SYN arrives first: the client answers its SYN-ACK with RST",
        setup: old_duplicate_syn,
    },
    Scenario {
        name: "old-duplicate-syn-two-way",
        summary: "the same with a two-way handshake: the server establishes a connection nobody wanted",
        setup: |s| {
            old_duplicate_syn(s);
            s.client.handshake = Handshake::TwoWay;
            s.server.response_bytes = 100;
        },
    },
    Scenario {
        name: "syn-flood-glimpse",
        summary: "spoofed SYNs fill a tiny SYN queue (backlog 4): the legitimate SYN is dropped and retried",
        setup: |s| syn_flood_glimpse(s, SynCookies::Off),
    },
    Scenario {
        name: "syn-flood-glimpse-cookies",
        summary: "the same with tcp_syncookies = 1: the legitimate SYN gets a cookie and gets through",
        setup: |s| syn_flood_glimpse(s, SynCookies::OnOverflow),
    },
    Scenario {
        name: "syncookie-lost-final-ack",
        summary: "cookies always on and the final ACK lost: the first data completes the handshake",
        setup: |s| {
            s.server.tcp_syncookies = SynCookies::Always;
            s.rules.push(drop(Ack, 1, ClientToServer));
            s.client.hold = SimDuration::from_secs(2);
            s.script.push((ms(1000), ScriptAction::Send(Side::Client, 100)));
        },
    },
    Scenario {
        name: "lost-fin",
        summary: "the client's first FIN is lost: FIN-WAIT-1 retransmits it",
        setup: |s| s.rules.push(drop(Fin, 1, ClientToServer)),
    },
    Scenario {
        name: "lost-fin-forever",
        summary: "every client FIN is lost: after tcp_orphan_retries (8) the client gives up",
        setup: |s| s.rules.push(drop_all(Fin, ClientToServer)),
    },
    Scenario {
        name: "lost-fin-ack",
        summary: "the server closes 1 s after the FIN; its delayed ACK (at once: no data, exact timers) is lost: the client resends its FIN, CLOSE-WAIT ACKs again",
        setup: |s| {
            s.rules.push(drop(Ack, 1, ServerToClient));
            s.server.close_delay = SimDuration::from_secs(1);
        },
    },
    Scenario {
        name: "lost-server-fin",
        summary: "the server's FIN is lost: LAST-ACK resends it, the client waits in FIN-WAIT-2",
        setup: |s| {
            s.rules.push(drop(Fin, 1, ServerToClient));
            s.server.close_delay = SimDuration::from_secs(1);
        },
    },
    Scenario {
        name: "lost-last-ack",
        summary: "the client's last ACK is lost: TIME-WAIT ACKs the resent FIN and restarts its 60 s",
        setup: |s| s.rules.push(drop(Ack, 2, ClientToServer)),
    },
    Scenario {
        name: "simultaneous-close",
        summary: "both close at once: FIN-WAIT-1 -> CLOSING -> TIME-WAIT on both sides",
        setup: |s| {
            // The client closes HOLD after it is established (at 20 ms).
            s.script.push((ms(20) + HOLD, ScriptAction::Close(Side::Server)));
        },
    },
    Scenario {
        name: "close-after-delayed-ack",
        summary: "the server reads a 100-byte request and closes 100 ms after the client's FIN: its delayed ACK fires first (at 40 ms), a bare ACK, then its FIN",
        setup: |s| {
            // The request starts the delayed-ACK engine (ato 40 ms); the
            // FIN puts the server in pingpong mode, so its ACK waits.
            s.client.request_bytes = 100;
            s.server.close_delay = SimDuration::from_millis(100);
        },
    },
    Scenario {
        name: "server-closes-first",
        summary: "the server closes first and holds the TIME-WAIT",
        setup: |s| s.client.closer = Closer::Server,
    },
    Scenario {
        name: "server-closes-after-response",
        summary: "the server sends 100 bytes and closes after the hold: the client ACKs the data at once (quick ACK), and its close() on EOF comes before its delayed ACK of the FIN: one FIN-ACK",
        setup: |s| {
            s.client.closer = Closer::Server;
            s.server.response_bytes = 100;
        },
    },
    Scenario {
        name: "linger-zero",
        summary: "SO_LINGER {on, 0}: close() sends RST, no TIME-WAIT, the server sees a reset",
        setup: |s| s.client.linger_zero = true,
    },
    Scenario {
        name: "accept-queue-overflow",
        summary: "a slow application (backlog 1, one worker, 2 s per connection): the final ACK finds the accept queue full and is dropped; the request stays, SYN-ACKs repeat, the client's FIN is resent until a slot frees and it is accepted",
        setup: |s| accept_queue_overflow(s, false),
    },
    Scenario {
        name: "accept-queue-overflow-abort",
        summary: "the same with tcp_abort_on_overflow = 1: the final ACK is answered with RST, connect() has succeeded, the client's next call gets ECONNRESET",
        setup: |s| accept_queue_overflow(s, true),
    },
    Scenario {
        name: "tw-reuse",
        summary: "reconnect from the port still in TIME-WAIT: tcp_tw_reuse = 1 takes it over after 1 s",
        setup: |s| reconnect_from_time_wait(s, TwReuse::On),
    },
    Scenario {
        name: "tw-reuse-off",
        summary: "the same without tcp_tw_reuse: the TIME-WAIT port is skipped, another is used",
        setup: |s| reconnect_from_time_wait(s, TwReuse::Off),
    },
];

/// A traced run's configuration, before it is built.
pub struct TraceSetup {
    pub config: RunConfig,
    pub rules: Vec<DropRule>,
    pub script: Vec<(SimTime, ScriptAction)>,
}

fn client() -> ClientConfig {
    ClientConfig {
        hosts: 1,
        rate: None,
        concurrency: None,
        think: SimDuration::ZERO,
        hold: HOLD,
        closer: Closer::Client,
        client_close_share: 1.0,
        request_bytes: 0,
        start: SimDuration::ZERO,
        stop: None,
        tcp_syn_retries: TCP_SYN_RETRIES,
        tcp_syn_linear_timeouts: TCP_SYN_LINEAR_TIMEOUTS,
        tcp_tw_reuse: TwReuse::LoopbackOnly,
        tcp_tw_reuse_delay: TCP_TW_REUSE_DELAY,
        tcp_timestamps: true,
        ip_local_port_range: IP_LOCAL_PORT_RANGE,
        tcp_fin_timeout: TCP_FIN_TIMEOUT,
        tcp_orphan_retries: 0,
        tcp_max_tw_buckets: TCP_MAX_TW_BUCKETS,
        linger_zero: false,
        tcp_rfc1337: false,
        tcp_early_retrans: crate::config::TCP_EARLY_RETRANS,
        handshake: Handshake::ThreeWay,
        host_choice: HostChoice::Random,
        max_connections: None,
        remembered: 0.0,
        arrival: Default::default(),
        network: None,
    }
}

fn drop(kind: SegmentKind, n: u32, dir: Direction) -> DropRule {
    DropRule::drop_nth(kind, n, dir)
}

fn drop_all(kind: SegmentKind, dir: Direction) -> DropRule {
    DropRule { kind, occurrence: Occurrence::All, direction: Some(dir), action: RuleAction::Drop }
}

fn ms(v: u64) -> SimTime {
    SimTime::from_millis(v)
}

/// A SYN from a spoofed source that will never answer.
fn spoofed_syn(i: u32) -> Segment {
    Segment {
        src: SockAddr::new(0xC633_6400 + i, 40_000 + i as u16), // 198.51.100.0/24, a documentation range
        dst: SERVER,
        seq: 0x1000_0000u32.wrapping_mul(i + 1),
        flags: Flags::SYN,
        mss: DEFAULT_MSS,
        ..Default::default()
    }
}

/// The parts a scenario's setup edits, Linux defaults to start with.
pub struct Parts {
    /// CONFIG_HZ (`RunConfig::hz`).
    pub hz: u32,
    pub client: ClientConfig,
    pub server: ServerConfig,
    pub rules: Vec<DropRule>,
    pub script: Vec<(SimTime, ScriptAction)>,
}

fn old_duplicate_syn(s: &mut Parts) {
    // The old SYN is the first on the path; the client's own SYN is held
    // back 30 ms so that the old one's story plays out first (RFC 9293
    // Figure 8).
    s.script.insert(0, (SimTime::ZERO, ScriptAction::InjectOldSyn { seq_offset: 1_000_000 }));
    s.rules.push(DropRule {
        kind: Syn,
        occurrence: Occurrence::Nth(2),
        direction: Some(ClientToServer),
        action: RuleAction::Delay(SimDuration::from_millis(30).as_nanos()),
    });
}

fn syn_flood_glimpse(s: &mut Parts, cookies: SynCookies) {
    s.server.listen_backlog = 4;
    s.server.tcp_syncookies = cookies;
    s.script.clear();
    // sk_max_ack_backlog = 4 holds 5 requests (`qlen > max` is full).
    for i in 0..5 {
        s.script.push((SimTime::ZERO, ScriptAction::Inject(spoofed_syn(i))));
    }
    s.script.push((ms(1), ScriptAction::Connect));
}

fn accept_queue_overflow(s: &mut Parts, abort: bool) {
    // listen(1): the accept queue holds 2 (`sk_acceptq_is_full` is `>`).
    // The one worker takes the first connection at 30 ms and serves it
    // 2 s; the next two fill the queue; the traced one's SYN (at 215 ms)
    // still finds room, its final ACK (at 235 ms) does not.
    s.server.listen_backlog = 1;
    s.server.accept_rate = Rate::PerSecond(0.5);
    s.server.tcp_abort_on_overflow = abort;
    s.script = [0, 100, 200, 205].iter().map(|&t| (ms(t), ScriptAction::Connect)).collect();
}

fn reconnect_from_time_wait(s: &mut Parts, reuse: TwReuse) {
    s.client.ip_local_port_range = [50000, 50001];
    s.client.tcp_tw_reuse = reuse;
    s.script.push((ms(2000), ScriptAction::Connect));
}

/// The setup of scenario `name`, or None if there is no such scenario.
pub fn setup(name: &str) -> Option<TraceSetup> {
    let scenario = SCENARIOS.iter().find(|s| s.name == name)?;
    let mut parts = Parts {
        hz: 0,
        client: client(),
        server: ServerConfig::default(),
        rules: Vec::new(),
        script: vec![(SimTime::ZERO, ScriptAction::Connect)],
    };
    (scenario.setup)(&mut parts);
    let config = RunConfig {
        duration: TRACE_LIMIT,
        warmup: SimDuration::ZERO,
        drain: SimDuration::ZERO,
        bin: SimDuration::ZERO,
        hz: parts.hz,
        // One clock for both hosts, as on the kernel check's testbed the
        // traces are compared with (validation/kernel/fincheck.py).
        network: crate::config::NetworkConfig {
            delay: DelaySpec::Fixed(ONE_WAY),
            one_machine: true,
            ..Default::default()
        },
        server: parts.server,
        clients: BTreeMap::from([("traced".to_string(), parts.client)]),
        attackers: BTreeMap::new(),
    };
    Some(TraceSetup { config, rules: parts.rules, script: parts.script })
}

/// The result of tracing a scenario.
pub struct Trace {
    pub records: Vec<TraceRecord>,
    pub client: SockAddr,
    pub server: SockAddr,
    pub end: SimTime,
}

/// Runs a setup with extra drop rules and returns its records.
pub fn run(setup: TraceSetup, extra_rules: &[DropRule], seed: u64) -> Trace {
    let mut world = World::new(&setup.config, seed, 0);
    let mut rules = setup.rules;
    rules.extend_from_slice(extra_rules);
    world.set_drop_rules(rules);
    world.enable_trace();
    for (at, action) in setup.script {
        world.script(at, action);
    }
    let outcome = world.run();
    let client = world.traced_client().unwrap_or(SockAddr::new(world.traced_client_host(), 0));
    Trace { records: world.take_trace(), client, server: SERVER, end: outcome.sim_end }
}

/// Traces scenario `name`; None if there is no such scenario.
pub fn trace(name: &str, extra_rules: &[DropRule], seed: u64) -> Option<Trace> {
    setup(name).map(|s| run(s, extra_rules, seed))
}
