//! One run's world: the event loop, the links, the server with its
//! listener and ingress queue, client populations, attackers, and the
//! applications on both ends. Connections live in a slab indexed by small
//! integers with generation counters; a host is an address, not an object.

use super::addr::{AddressPlan, Origin, SERVER};
use super::kernel;
use super::metrics::{Counters, Gauge, GaugeStats, Histogram};
use crate::config::{AttackKind, Closer, RateProfile, RunConfig, ServerConfig};
use crate::engine::rng::mix64;
use crate::engine::{Scheduler, SimDuration, SimRng, SimTime, Stream, TimingWheel, stream_rng};
use crate::net::{DelaySampler, Direction, DropRule, DropRules, LossChannel, RuleAction};
use crate::tcp::params::{DEFAULT_MSS, IP_LOCAL_PORT_RANGE, tcp_time_stamp};
use crate::tcp::ports::{PortChoice, Ports};
use crate::tcp::time_wait::TimeWaitBuckets;
use crate::tcp::{
    CloseCause, Disposition, Flags, Listener, RequestOutcome, Segment, SockAddr, State, SynVerdict, Tcb,
    TcpParams, reset_for,
};
use crate::trace::{RecordKind, Side, TraceRecord};
use rand::{Rng, RngExt};
use rand_distr::{Distribution, Exp};
use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::collections::VecDeque;

/// Everything that can happen. Small and `Copy` (48 bytes).
#[derive(Copy, Clone, Debug)]
pub enum Event {
    /// A segment reaches its destination host.
    Arrive(Segment),
    /// The server finished taking one segment off its ingress queue.
    IngressDone,
    /// A connection's timer may be due (lazily cancelled: checked against
    /// the slot's generation and queued deadline).
    Timer { slot: u32, generation: u32 },
    /// The application on this connection calls close().
    AppClose { slot: u32, generation: u32 },
    /// Open loop: the next Poisson arrival of a population.
    ClientArrival { pop: u16 },
    /// Closed loop: a user of a population connects.
    UserConnect { pop: u16, user: u32 },
    /// The server application calls accept().
    AcceptTick,
    /// The next attack packet or connection.
    Attack { attacker: u16 },
    /// End of the warm-up: gauges start measuring.
    WarmupEnd,
    /// A time-series bin ends.
    Sample,
    /// A scripted scenario step.
    Script { index: u32 },
    /// The oldest fresh TIME-WAIT entries expire (see `World::tw_fifo`).
    TimeWaitSweep,
}

/// What a scenario script can make happen at a given time.
#[derive(Clone, Debug)]
pub enum ScriptAction {
    /// The traced client connects to the server.
    Connect,
    /// The application on that side calls close().
    Close(Side),
    /// The application on that side sends bytes.
    Send(Side, u16),
    /// A segment appears on the client->server path (an old duplicate, a
    /// spoofed SYN), as if sent now by its source.
    Inject(Segment),
    /// An old duplicate of the traced client's next SYN: same 4-tuple,
    /// an older sequence number.
    InjectOldSyn { seq_offset: u32 },
}

/// The application's role for a connection slot.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Role {
    /// A legitimate client's socket.
    Client {
        pop: u16,
        user: u32,
        started: SimTime,
        measured: bool,
        established: bool,
        closes_first: bool,
        closed_by_app: bool,
    },
    /// A request in the listener's SYN queue.
    Request { pop: u16 },
    /// An established server socket (in the accept queue until accepted).
    ServerChild { pop: u16, accepted: bool, confirmed: bool, created: SimTime, sent: u32 },
    /// An attacking host's socket (connect-flood).
    AttackerConn,
}

const NO_POP: u16 = u16::MAX;
const NO_USER: u32 = u32::MAX;

/// Bytes of one connection slot (its TCB, role and timer bookkeeping).
pub const SLOT_BYTES: usize = std::mem::size_of::<Slot>();

struct Slot {
    tcb: Tcb,
    role: Role,
    generation: u32,
    /// The peer connection's slot + 1, learned from its segments (0: unknown).
    peer: u32,
    /// Deadline of the timer event in the queue for this slot.
    queued: SimTime,
}

/// Connection slots in fixed chunks: growing never moves or doubles them
/// (a `Vec` of ten million slots would copy 1.3 GB and hold twice that
/// while it grows).
#[derive(Default)]
struct Slab {
    chunks: Vec<Vec<Slot>>,
    len: usize,
}

const CHUNK: usize = 4096;

impl Slab {
    fn push(&mut self, slot: Slot) {
        if self.len % CHUNK == 0 {
            self.chunks.push(Vec::with_capacity(CHUNK));
        }
        self.chunks.last_mut().expect("a chunk").push(slot);
        self.len += 1;
    }
    fn len(&self) -> usize {
        self.len
    }
    fn get(&self, i: usize) -> Option<&Slot> {
        self.chunks.get(i / CHUNK).and_then(|c| c.get(i % CHUNK))
    }
    fn get_mut(&mut self, i: usize) -> Option<&mut Slot> {
        self.chunks.get_mut(i / CHUNK).and_then(|c| c.get_mut(i % CHUNK))
    }
    fn iter(&self) -> impl Iterator<Item = &Slot> {
        self.chunks.iter().flatten()
    }
}

impl std::ops::Index<usize> for Slab {
    type Output = Slot;
    fn index(&self, i: usize) -> &Slot {
        &self.chunks[i / CHUNK][i % CHUNK]
    }
}

impl std::ops::IndexMut<usize> for Slab {
    fn index_mut(&mut self, i: usize) -> &mut Slot {
        &mut self.chunks[i / CHUNK][i % CHUNK]
    }
}

/// One client population, ready to run.
struct Population {
    hosts: u64,
    base: u32,
    rate: Option<f64>,
    concurrency: u64,
    think: SimDuration,
    hold: SimDuration,
    closer: Closer,
    client_close_share: f64,
    request_bytes: u16,
    start: SimTime,
    stop: SimTime,
    params: TcpParams,
    /// The server's kernel as this population's connections see it (the
    /// handshake ablation is per population).
    server_params: TcpParams,
    ports: Ports,
    round_robin: bool,
    next_host: u64,
    /// Open-loop arrivals left (u64::MAX: unlimited).
    arrivals_left: u64,
    /// Per host: ports in use toward the server by parity. Zeroed on first
    /// use (untouched pages cost nothing).
    port_counts: Vec<[u16; 2]>,
    /// Per host: TIME-WAIT entries against tcp_max_tw_buckets, counted
    /// only when that is below the port count and so can bind.
    tw_buckets: TimeWaitBuckets,
}

struct Attacker {
    kind: AttackKind,
    rate: f64,
    profile: RateProfile,
    start: SimTime,
    stop: SimTime,
    sources: u64,
    rst_fraction: f64,
    hosts: u64,
    base: u32,
    salt: u64,
    ports: Ports,
    port_counts: Vec<[u16; 2]>,
}

/// The server's ingress (`enqueue_to_backlog`): a FIFO of at most
/// `netdev_max_backlog` segments waiting for protocol processing.
struct Ingress {
    cap: usize,
    service: Option<SimDuration>,
    waiting: VecDeque<Segment>,
    in_service: Option<Segment>,
}

/// A link direction: its loss process and delay distribution.
struct Path {
    loss: LossChannel,
    delay: DelaySampler,
}

/// The 4-tuple map's key: (local, remote) packed into 12 bytes, so an
/// entry with its value takes 16 and hashes in two rounds, not four.
fn tuple(local: SockAddr, remote: SockAddr) -> (u64, u32) {
    ((local.ip as u64) << 32 | (local.port as u64) << 16 | remote.port as u64, remote.ip)
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

/// Everything a finished run reports.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub counters: Counters,
    pub listener: crate::tcp::ListenerCounters,
    pub connect_time: Histogram,
    pub time_wait_client: GaugeStats,
    pub time_wait_server: GaugeStats,
    pub syn_recv: GaugeStats,
    pub accept_queue: GaugeStats,
    pub ingress_queue: GaugeStats,
    pub series: Series,
    pub events: u64,
    pub sim_end: SimTime,
    pub measured_from: SimTime,
    /// Connections still open at the end (legitimate ones not yet resolved).
    pub legit_pending: u64,
    pub peak_slots: usize,
}

/// The simulation of one run. The event queue is a timing wheel by
/// default: it beats `BinaryHeap` and `priority-queue` on whole runs
/// (README.md, "Speed").
pub struct World<Q: Scheduler<Event> = TimingWheel<Event>> {
    now: SimTime,
    end: SimTime,
    warmup: SimTime,
    bin: SimDuration,
    queue: Q,
    events: u64,
    slots: Slab,
    free: Vec<u32>,
    /// (local, remote) -> slot.
    demux: FxHashMap<(u64, u32), u32>,
    plan: AddressPlan,
    pops: Vec<Population>,
    attackers: Vec<Attacker>,
    server: ServerConfig,
    server_params: TcpParams,
    listener: Listener<u32>,
    accept_interval: Option<SimDuration>,
    accept_pending: bool,
    last_accept: SimTime,
    ingress: Ingress,
    c2s: Path,
    s2c: Path,
    rules: DropRules,
    rng_loss: SimRng,
    rng_delay: SimRng,
    rng_isn: SimRng,
    rng_arrivals: SimRng,
    rng_attack: SimRng,
    rng_ports: SimRng,
    out: Vec<Segment>,
    pub counters: Counters,
    measuring: bool,
    connect_time: Histogram,
    tw_client: Gauge,
    tw_server: Gauge,
    /// The server's TIME-WAIT entries against its tcp_max_tw_buckets.
    server_tw: TimeWaitBuckets,
    syn_recv: Gauge,
    accept_queue: Gauge,
    ingress_gauge: Gauge,
    series: Series,
    bin_start: (u64, u64, u64, u64),
    trace: Option<Vec<TraceRecord>>,
    script: Vec<ScriptAction>,
    traced_client: Option<SockAddr>,
    peak_slots: usize,
    listener_at_warmup: crate::tcp::ListenerCounters,
    /// Fresh TIME-WAIT timers, (deadline, slot, generation), in deadline order.
    tw_fifo: VecDeque<(SimTime, u32, u32)>,
}

impl World<TimingWheel<Event>> {
    pub fn new(cfg: &RunConfig, seed: u64, run: u64) -> Self {
        World::with_queue(cfg, seed, run, TimingWheel::new())
    }
}

fn interval(rate: Option<f64>) -> Option<SimDuration> {
    rate.map(|r| {
        if r > 0.0 { SimDuration::from_secs_f64(1.0 / r).max(SimDuration(1)) } else { SimDuration(u64::MAX) }
    })
}

impl<Q: Scheduler<Event>> World<Q> {
    pub fn with_queue(cfg: &RunConfig, seed: u64, run: u64, queue: Q) -> Self {
        let (c2s_delay, c2s_loss) = cfg.network.client_to_server();
        let (s2c_delay, s2c_loss) = cfg.network.server_to_client();
        let server_params = kernel::server_params(&cfg.server);
        let mut plan = AddressPlan::default();
        let mut pops = Vec::new();
        for (pop_index, c) in cfg.clients.values().enumerate() {
            let base = plan.add_population(pop_index as u16, c.hosts);
            let ports = kernel::client_ports(c);
            let tw_binds = c.tcp_max_tw_buckets < ports.port_count();
            let tw_buckets = TimeWaitBuckets::new(c.tcp_max_tw_buckets, c.hosts as usize, tw_binds);
            pops.push(Population {
                hosts: c.hosts,
                base,
                rate: c.rate,
                concurrency: c.concurrency.unwrap_or(0),
                think: c.think,
                hold: c.hold,
                closer: c.closer,
                client_close_share: c.client_close_share,
                request_bytes: c.request_bytes,
                start: SimTime::ZERO + c.start,
                stop: c.stop.map(|s| SimTime::ZERO + s).unwrap_or(SimTime::MAX),
                params: kernel::client_params(c),
                server_params: kernel::server_params_for(server_params, c),
                ports,
                round_robin: c.host_choice == crate::config::HostChoice::RoundRobin,
                next_host: 0,
                arrivals_left: c.max_connections.unwrap_or(u64::MAX),
                port_counts: Vec::new(),
                tw_buckets,
            });
        }
        let mut attackers = Vec::new();
        for (i, a) in cfg.attackers.values().enumerate() {
            let base = match a.kind {
                AttackKind::SpoofedSyn => 0,
                _ => plan.add_attack_hosts(i as u16, a.hosts),
            };
            attackers.push(Attacker {
                kind: a.kind,
                rate: a.rate,
                profile: a.profile.clone(),
                start: SimTime::ZERO + a.start,
                stop: a.stop.map(|s| SimTime::ZERO + s).unwrap_or(SimTime::MAX),
                sources: a.sources.clamp(1, 1 << 32),
                rst_fraction: a.rst_fraction,
                hosts: a.hosts,
                base,
                salt: mix64(seed ^ (i as u64) << 48 ^ run),
                ports: kernel::attacker_ports(),
                port_counts: Vec::new(),
            });
        }
        let mut secrets = stream_rng(seed, run, Stream::Secrets);
        let listener = Listener::new(SERVER, kernel::listener_config(&cfg.server), secrets.next_u64());
        let ingress = Ingress {
            cap: cfg.server.netdev_max_backlog as usize,
            service: interval(cfg.server.packet_rate.per_second()),
            waiting: VecDeque::new(),
            in_service: None,
        };
        let mut world = World {
            now: SimTime::ZERO,
            end: SimTime::ZERO + cfg.duration,
            warmup: SimTime::ZERO + cfg.warmup,
            bin: cfg.bin,
            queue,
            events: 0,
            slots: Slab::default(),
            free: Vec::new(),
            demux: FxHashMap::default(),
            plan,
            pops,
            attackers,
            server: cfg.server.clone(),
            server_params,
            listener,
            accept_interval: interval(cfg.server.accept_rate.per_second()),
            accept_pending: false,
            last_accept: SimTime::ZERO,
            ingress,
            c2s: Path { loss: c2s_loss.channel(), delay: c2s_delay.sampler() },
            s2c: Path { loss: s2c_loss.channel(), delay: s2c_delay.sampler() },
            rules: DropRules::default(),
            rng_loss: stream_rng(seed, run, Stream::Loss),
            rng_delay: stream_rng(seed, run, Stream::Delay),
            rng_isn: stream_rng(seed, run, Stream::Isn),
            rng_arrivals: stream_rng(seed, run, Stream::Arrivals),
            rng_attack: stream_rng(seed, run, Stream::Attack),
            rng_ports: stream_rng(seed, run, Stream::Ports),
            out: Vec::with_capacity(4),
            counters: Counters::default(),
            measuring: cfg.warmup == SimDuration::ZERO,
            connect_time: Histogram::default(),
            tw_client: Gauge::default(),
            tw_server: Gauge::default(),
            server_tw: TimeWaitBuckets::new(cfg.server.tcp_max_tw_buckets, 1, true),
            syn_recv: Gauge::default(),
            accept_queue: Gauge::default(),
            ingress_gauge: Gauge::default(),
            series: Series { columns: SERIES_COLUMNS.to_vec(), rows: Vec::new() },
            bin_start: (0, 0, 0, 0),
            trace: None,
            script: Vec::new(),
            traced_client: None,
            peak_slots: 0,
            listener_at_warmup: Default::default(),
            tw_fifo: VecDeque::new(),
        };
        world.schedule_workload();
        world
    }

    fn schedule_workload(&mut self) {
        self.queue.push(self.warmup, Event::WarmupEnd);
        if self.bin.0 > 0 {
            self.queue.push(SimTime::ZERO + self.bin, Event::Sample);
        }
        for p in 0..self.pops.len() {
            let (start, rate, users) = (self.pops[p].start, self.pops[p].rate, self.pops[p].concurrency);
            if let Some(rate) = rate.filter(|&r| r > 0.0) {
                let first = start + self.next_gap(rate);
                self.queue.push(first, Event::ClientArrival { pop: p as u16 });
            }
            for user in 0..users {
                // Stagger the users' first connections over one think time
                // (or 1 s), so a closed loop does not start as one burst.
                let spread = self.pops[p].think.max(SimDuration(1_000_000_000)).0;
                let at = start + SimDuration(self.rng_arrivals.random_range(0..spread));
                self.queue.push(at, Event::UserConnect { pop: p as u16, user: user as u32 });
            }
        }
        for a in 0..self.attackers.len() {
            let start = self.attackers[a].start;
            if self.attackers[a].rate > 0.0 {
                self.queue.push(start, Event::Attack { attacker: a as u16 });
            }
        }
    }

    fn next_gap(&mut self, rate: f64) -> SimDuration {
        let exp = Exp::new(rate).expect("validated rate");
        SimDuration::from_secs_f64(exp.sample(&mut self.rng_arrivals)).max(SimDuration(1))
    }

    // ----- tracing -------------------------------------------------------

    /// Records every segment, timer and application call from now on.
    pub fn enable_trace(&mut self) {
        self.trace = Some(Vec::new());
    }

    pub fn take_trace(&mut self) -> Vec<TraceRecord> {
        self.trace.take().unwrap_or_default()
    }

    pub fn set_drop_rules(&mut self, rules: Vec<DropRule>) {
        self.rules = DropRules::new(rules);
    }

    /// Adds a scripted step at `at` (scenarios).
    pub fn script(&mut self, at: SimTime, action: ScriptAction) {
        let index = self.script.len() as u32;
        self.script.push(action);
        self.queue.push(at, Event::Script { index });
    }

    /// The address the traced client connects from (its first host).
    pub fn traced_client_host(&self) -> u32 {
        self.pops.first().map(|p| p.base).unwrap_or(0)
    }

    pub fn traced_client(&self) -> Option<SockAddr> {
        self.traced_client
    }

    fn side_of(&self, ip: u32) -> Side {
        if ip == SERVER.ip {
            Side::Server
        } else if self.traced_client.is_some_and(|c| c.ip == ip) || ip == self.traced_client_host() {
            Side::Client
        } else {
            Side::Other
        }
    }

    fn record(
        &mut self,
        side: Side,
        kind: RecordKind,
        seg: Option<Segment>,
        states: (Option<State>, Option<State>),
        note: impl Into<Cow<'static, str>>,
    ) {
        if let Some(t) = self.trace.as_mut() {
            let note = note.into();
            t.push(TraceRecord { at: self.now, side, kind, seg, before: states.0, after: states.1, note });
        }
    }

    /// The state of `local`'s socket toward `remote` (LISTEN for the
    /// server's port when it has none).
    /// None when not tracing: the lookup is only for the ladder.
    fn state_at(&self, local: SockAddr, remote: SockAddr) -> Option<State> {
        self.trace.as_ref()?;
        match self.demux.get(&tuple(local, remote)) {
            Some(&s) => Some(self.slots[s as usize].tcb.state),
            None if local == SERVER => Some(State::Listen),
            None => Some(State::Closed),
        }
    }

    // ----- the run loop --------------------------------------------------

    /// Runs until the end time (or until nothing is left to happen).
    pub fn run(&mut self) -> RunOutcome {
        // Pop, not peek: a timing wheel's peek costs a scan. The first event
        // past the end is dropped with the rest of the queue.
        while let Some((at, event)) = self.queue.pop() {
            if at > self.end {
                break;
            }
            self.now = at;
            self.events += 1;
            self.dispatch(event);
        }
        // The measured window closes at the end time even if the last
        // event came earlier (gauges hold their level until then).
        self.now = self.now.max(self.end);
        self.outcome()
    }

    fn dispatch(&mut self, event: Event) {
        match event {
            Event::Arrive(seg) => self.on_arrive(seg),
            Event::IngressDone => self.on_ingress_done(),
            Event::Timer { slot, generation } => self.on_timer(slot, generation),
            Event::AppClose { slot, generation } => {
                if self.live(slot, generation) {
                    self.app_close(slot);
                }
            }
            Event::ClientArrival { pop } => self.on_client_arrival(pop),
            Event::UserConnect { pop, user } => {
                if self.now < self.pops[pop as usize].stop {
                    let host = (user as u64 % self.pops[pop as usize].hosts) as u32;
                    self.client_connect(pop, host, user);
                }
            }
            Event::AcceptTick => self.on_accept_tick(),
            Event::Attack { attacker } => self.on_attack(attacker),
            Event::WarmupEnd => self.on_warmup_end(),
            Event::Sample => self.on_sample(),
            Event::Script { index } => self.on_script(index),
            Event::TimeWaitSweep => self.on_time_wait_sweep(),
        }
    }

    fn live(&self, slot: u32, generation: u32) -> bool {
        self.slots
            .get(slot as usize)
            .is_some_and(|s| s.generation == generation && s.tcb.state != State::Closed)
    }

    // ----- slots ---------------------------------------------------------

    /// The port counts of a client or attacking host (None for the server
    /// and spoofed addresses).
    fn port_counts(&mut self, ip: u32) -> Option<&mut [u16; 2]> {
        let (table, hosts, index) = match self.plan.origin(ip) {
            Origin::Population(p, h) => {
                let pop = &mut self.pops[p as usize];
                (&mut pop.port_counts, pop.hosts, h as usize)
            }
            Origin::AttackHosts(a) => {
                let at = &mut self.attackers[a as usize];
                (&mut at.port_counts, at.hosts, (ip - at.base) as usize)
            }
            _ => return None,
        };
        if table.is_empty() {
            *table = vec![[0, 0]; hosts as usize];
        }
        table.get_mut(index)
    }

    fn insert(&mut self, tcb: Tcb, role: Role) -> u32 {
        let key = (tcb.local, tcb.remote);
        let slot = match self.free.pop() {
            Some(i) => {
                let s = &mut self.slots[i as usize];
                s.tcb = tcb;
                s.role = role;
                s.peer = 0;
                s.generation = s.generation.wrapping_add(1);
                s.queued = SimTime::MAX;
                i
            }
            None => {
                self.slots.push(Slot { tcb, role, generation: 0, peer: 0, queued: SimTime::MAX });
                (self.slots.len() - 1) as u32
            }
        };
        self.demux.insert(tuple(key.0, key.1), slot);
        if let Some(c) = self.port_counts(key.0.ip) {
            c[(key.0.port & 1) as usize] += 1;
        }
        self.peak_slots = self.peak_slots.max(self.demux.len());
        slot
    }

    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        self.demux.remove(&tuple(s.tcb.local, s.tcb.remote));
        let (ip, parity) = (s.tcb.local.ip, (s.tcb.local.port & 1) as usize);
        s.generation = s.generation.wrapping_add(1);
        s.queued = SimTime::MAX;
        self.free.push(slot);
        if let Some(c) = self.port_counts(ip) {
            c[parity] -= 1;
        }
    }

    /// The connection a segment is for: its hint when the hinted slot holds
    /// that 4-tuple alive, else the 4-tuple map (the same answer, slower).
    /// Learns the sender's slot for the replies.
    fn lookup(&mut self, seg: &Segment) -> Option<u32> {
        let hinted = seg.dst_slot.checked_sub(1).filter(|&h| {
            self.slots.get(h as usize).is_some_and(|s| {
                s.tcb.local == seg.dst && s.tcb.remote == seg.src && s.tcb.state != State::Closed
            })
        });
        let slot = hinted.or_else(|| self.demux.get(&tuple(seg.dst, seg.src)).copied())?;
        if seg.src_slot != 0 {
            self.slots[slot as usize].peer = seg.src_slot;
        }
        Some(slot)
    }

    fn arm_timer(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        let Some(deadline) = s.tcb.poll_timeout() else { return };
        let generation = s.generation;
        // A fresh TIME-WAIT ends exactly TCP_TIMEWAIT_LEN from now, so these
        // deadlines arrive in order: a FIFO holds them, with one queued
        // sweep for its head, instead of a queue entry each. It takes the
        // FIFO even when an earlier event is queued for the slot (a FIN's
        // retransmission timer, usually): that event is stale from now on
        // and dropped when it pops, rather than re-queueing the TIME-WAIT
        // timer into the wheel for a minute.
        let fresh_tw = s.tcb.timer_kind() == crate::tcp::TimerKind::TimeWait
            && deadline == self.now + crate::tcp::params::TCP_TIMEWAIT_LEN
            && deadline != s.queued
            && self.tw_fifo.back().is_none_or(|b| b.0 <= deadline);
        if fresh_tw {
            s.queued = deadline;
            if self.tw_fifo.is_empty() {
                self.queue.push(deadline, Event::TimeWaitSweep);
            }
            self.tw_fifo.push_back((deadline, slot, generation));
        } else if deadline < s.queued {
            s.queued = deadline;
            self.queue.push(deadline, Event::Timer { slot, generation });
        }
    }

    /// Fires every FIFO'd TIME-WAIT timer that is due, then queues the next sweep.
    fn on_time_wait_sweep(&mut self) {
        self.events -= 1; // each expiry below counts as the event
        while let Some(&(at, slot, generation)) = self.tw_fifo.front() {
            if at > self.now {
                self.queue.push(at, Event::TimeWaitSweep);
                return;
            }
            self.tw_fifo.pop_front();
            self.events += 1;
            self.on_timer(slot, generation);
        }
    }

    fn on_timer(&mut self, slot: u32, generation: u32) {
        let Some(s) = self.slots.get_mut(slot as usize) else { return };
        if s.generation != generation || s.queued != self.now {
            return; // stale: re-armed or released since
        }
        s.queued = SimTime::MAX;
        match s.tcb.poll_timeout() {
            Some(deadline) if deadline <= self.now => {}
            Some(_) => return self.arm_timer(slot),
            None => return,
        }
        let before = s.tcb.state;
        let what = timer_name(&s.tcb);
        let role = s.role;
        let p = self.params_for(role);
        let mut out = std::mem::take(&mut self.out);
        let expired_request = if let Role::Request { .. } = role {
            let s = &mut self.slots[slot as usize];
            self.listener.request_timeout(self.now, &mut s.tcb, &p, &mut out)
        } else {
            let s = &mut self.slots[slot as usize];
            s.tcb.handle_timeout(self.now, &p, &mut out);
            false
        };
        // Retransmissions: everything a timer sends is one.
        if self.measuring {
            self.counters.retransmissions += out.len() as u64;
            if before == State::SynSent {
                self.counters.client_syn_retrans += out.len() as u64;
            }
        }
        let local = self.slots[slot as usize].tcb.local;
        let after = self.slots[slot as usize].tcb.state;
        if before == State::TimeWait && local.ip == SERVER.ip && self.measuring {
            self.counters.time_wait_expired_server += 1; // TcpExtTW: expired in the timer
        }
        let side = self.side_of(local.ip);
        self.record(side, RecordKind::Timer(what), None, (Some(before), Some(after)), "");
        self.out = out;
        if expired_request {
            self.flush(side);
            self.release(slot);
            self.update_listener_gauges();
            return;
        }
        self.settle(slot, before);
    }

    /// After a TCB call: send what it produced, react to its state change,
    /// release it if closed, re-arm its timer.
    fn settle(&mut self, slot: u32, before: State) {
        let (local, peer) = (self.slots[slot as usize].tcb.local, self.slots[slot as usize].peer);
        for seg in self.out.iter_mut() {
            seg.src_slot = slot + 1;
            seg.dst_slot = peer;
        }
        if let Role::ServerChild { sent, .. } = &mut self.slots[slot as usize].role {
            *sent += self.out.len() as u32;
        }
        self.flush(self.side_of(local.ip));
        let after = self.slots[slot as usize].tcb.state;
        if before != after {
            self.on_transition(slot, before, after);
        }
        if self.slots[slot as usize].tcb.state == State::Closed {
            self.release(slot);
        } else {
            self.arm_timer(slot);
        }
    }

    fn params_for(&self, role: Role) -> TcpParams {
        match role {
            Role::Client { pop, .. } => self.pops[pop as usize].params,
            Role::Request { pop } | Role::ServerChild { pop, .. } => self.server_params_for(pop),
            Role::AttackerConn => TcpParams::default(),
        }
    }

    fn server_params_for(&self, pop: u16) -> TcpParams {
        if pop == NO_POP { self.server_params } else { self.pops[pop as usize].server_params }
    }

    // ----- the wire ------------------------------------------------------

    fn flush(&mut self, from: Side) {
        let mut out = std::mem::take(&mut self.out);
        for seg in out.drain(..) {
            self.transmit(seg, from);
        }
        self.out = out;
    }

    /// Puts a segment on the path toward its destination: drop rules, the
    /// loss process, then the delay.
    fn transmit(&mut self, seg: Segment, from: Side) {
        let to_server = seg.dst.ip == SERVER.ip;
        let direction = if to_server { Direction::ClientToServer } else { Direction::ServerToClient };
        if self.measuring {
            self.counters.segments_sent += 1;
            if seg.flags.rst() {
                self.counters.tcp_out_rsts += (from == Side::Server) as u64;
            }
        }
        let state = self.state_at(seg.src, seg.dst);
        self.record(from, RecordKind::Sent, Some(seg), (state, state), "");
        let mut extra = SimDuration::ZERO;
        if let Some((action, rule)) = self.rules.check(&seg, direction) {
            match action {
                RuleAction::Drop => {
                    self.counters.segments_lost += self.measuring as u64;
                    self.record(from, RecordKind::Lost, Some(seg), (None, None), format!("{rule}"));
                    return;
                }
                RuleAction::Delay(ns) => extra = SimDuration(ns),
            }
        }
        let path = if to_server { &mut self.c2s } else { &mut self.s2c };
        if path.loss.lose(&mut self.rng_loss) {
            self.counters.segments_lost += self.measuring as u64;
            self.record(from, RecordKind::Lost, Some(seg), (None, None), "lost on the link");
            return;
        }
        let delay = path.delay.sample(&mut self.rng_delay) + extra;
        self.queue.push(self.now + delay, Event::Arrive(seg));
    }

    fn on_arrive(&mut self, seg: Segment) {
        if seg.dst.ip != SERVER.ip {
            return self.host_receive(seg);
        }
        let Some(service) = self.ingress.service else {
            return self.server_receive(seg);
        };
        if self.ingress.in_service.is_none() {
            self.ingress.in_service = Some(seg);
            self.queue.push(self.now + service, Event::IngressDone);
        } else if self.ingress.waiting.len() < self.ingress.cap {
            self.ingress.waiting.push_back(seg);
        } else {
            // `enqueue_to_backlog`: softnet_stat's dropped column.
            self.counters.ingress_drops += self.measuring as u64;
            let st = self.state_at(seg.dst, seg.src);
            self.record(
                Side::Server,
                RecordKind::Received,
                Some(seg),
                (st, st),
                "dropped: netdev backlog full",
            );
            return;
        }
        self.ingress_gauge.set(self.now, self.ingress.waiting.len() as u64);
    }

    fn on_ingress_done(&mut self) {
        let seg = self.ingress.in_service.take().expect("a segment in service");
        if let Some(next) = self.ingress.waiting.pop_front() {
            self.ingress.in_service = Some(next);
            let service = self.ingress.service.expect("limited ingress");
            self.queue.push(self.now + service, Event::IngressDone);
        }
        self.ingress_gauge.set(self.now, self.ingress.waiting.len() as u64);
        self.server_receive(seg);
    }

    // ----- the server ----------------------------------------------------

    fn server_receive(&mut self, seg: Segment) {
        let origin = self.plan.origin(seg.src.ip);
        let pop = match origin {
            Origin::Population(p, _) => p,
            _ => NO_POP,
        };
        if seg.flags.syn() && !seg.flags.ack() && !matches!(origin, Origin::Population(..)) {
            self.counters.attack_syns += self.measuring as u64;
        }
        let before_state = self.state_at(seg.dst, seg.src);
        if let Some(slot) = self.lookup(&seg) {
            self.server_segment_for_slot(slot, seg, pop, before_state);
        } else if seg.dst.port == SERVER.port {
            self.listener_segment(seg, pop, None, before_state);
        } else {
            self.out.extend(reset_for(&seg));
            self.record(Side::Server, RecordKind::Received, Some(seg), (before_state, before_state), "");
            self.flush(Side::Server);
        }
        self.update_listener_gauges();
    }

    fn server_segment_for_slot(&mut self, slot: u32, seg: Segment, pop: u16, before_state: Option<State>) {
        let role = self.slots[slot as usize].role;
        let before = self.slots[slot as usize].tcb.state;
        let p = self.params_for(role);
        let mut out = std::mem::take(&mut self.out);
        if let Role::Request { pop: rpop } = role {
            let s = &mut self.slots[slot as usize];
            let outcome = self.listener.on_request_segment(self.now, &mut s.tcb, &seg, &p, &mut out);
            let after = s.tcb.state;
            let note = match outcome {
                RequestOutcome::Overflowed => "accept queue full: ACK dropped",
                _ => "",
            };
            self.record(Side::Server, RecordKind::Received, Some(seg), (before_state, Some(after)), note);
            self.out = out;
            match outcome {
                RequestOutcome::Pending | RequestOutcome::Overflowed => self.settle(slot, before),
                RequestOutcome::Removed => {
                    self.flush(Side::Server);
                    self.release(slot);
                }
                RequestOutcome::Established => {
                    self.slots[slot as usize].role = Role::ServerChild {
                        pop: rpop,
                        accepted: false,
                        confirmed: true,
                        created: self.now,
                        sent: 0,
                    };
                    self.settle(slot, State::Established);
                    self.enqueue_accept(slot);
                }
            }
            return;
        }
        let s = &mut self.slots[slot as usize];
        if seg.flags.ack()
            && !seg.flags.rst()
            && let Role::ServerChild { confirmed, .. } = &mut s.role
        {
            *confirmed = true;
        }
        let disposition = s.tcb.handle_segment(self.now, &seg, &p, &mut out);
        let after = s.tcb.state;
        self.out = out;
        match disposition {
            Disposition::Done => {
                self.record(Side::Server, RecordKind::Received, Some(seg), (before_state, Some(after)), "");
                self.settle(slot, before);
            }
            Disposition::ReopenFromTimeWait { isn } => {
                // TIME-WAIT gives way to the new SYN (`TCP_TW_SYN`).
                self.counters.time_wait_reopened_server += self.measuring as u64;
                self.on_transition(slot, before, State::Closed);
                self.release(slot);
                self.listener_segment(seg, pop, Some(isn), before_state);
            }
        }
    }

    fn listener_segment(&mut self, seg: Segment, pop: u16, isn: Option<u32>, before_state: Option<State>) {
        let p = self.server_params_for(pop);
        let mut out = std::mem::take(&mut self.out);
        let f = seg.flags;
        if f.syn() && !f.ack() && !f.rst() {
            let verdict = self.listener.on_syn(self.now, &seg, &p, &mut out);
            match verdict {
                SynVerdict::Queue => {
                    let isn = isn.unwrap_or_else(|| self.rng_isn.next_u32());
                    let tcb = self.listener.new_request(self.now, &seg, isn, &p, &mut out);
                    let established = tcb.state == State::Established;
                    let role = if established {
                        Role::ServerChild {
                            pop,
                            accepted: false,
                            confirmed: false,
                            created: self.now,
                            sent: 0,
                        }
                    } else {
                        Role::Request { pop }
                    };
                    let after = tcb.state;
                    let slot = self.insert(tcb, role);
                    self.slots[slot as usize].peer = seg.src_slot;
                    self.record(
                        Side::Server,
                        RecordKind::Received,
                        Some(seg),
                        (before_state, Some(after)),
                        "",
                    );
                    self.out = out;
                    self.settle(slot, State::Listen);
                    if established {
                        self.enqueue_accept(slot);
                    }
                }
                SynVerdict::Cookie => {
                    self.record(
                        Side::Server,
                        RecordKind::Received,
                        Some(seg),
                        (before_state, before_state),
                        "SYN cookie sent",
                    );
                    self.out = out;
                    self.flush(Side::Server);
                }
                SynVerdict::Dropped => {
                    let note = if self.listener.accept_queue_full() {
                        "accept queue full: SYN dropped"
                    } else {
                        "SYN queue full: SYN dropped"
                    };
                    self.record(
                        Side::Server,
                        RecordKind::Received,
                        Some(seg),
                        (before_state, before_state),
                        note,
                    );
                    self.out = out;
                }
            }
            return;
        }
        let child = self.listener.on_stray_segment(self.now, &seg, &p, &mut out);
        let note = if child.is_some() { "valid SYN cookie: connection rebuilt" } else { "" };
        let after = child.as_ref().map(|c| c.state).or(before_state);
        self.record(Side::Server, RecordKind::Received, Some(seg), (before_state, after), note);
        self.out = out;
        match child {
            Some(tcb) => {
                let state = tcb.state;
                let role =
                    Role::ServerChild { pop, accepted: false, confirmed: true, created: self.now, sent: 0 };
                let slot = self.insert(tcb, role);
                self.slots[slot as usize].peer = seg.src_slot;
                let generation = self.slots[slot as usize].generation;
                self.settle(slot, state);
                // The cookie ACK may have carried an RST or FIN that ended it already.
                if self.live(slot, generation) {
                    self.enqueue_accept(slot);
                }
            }
            None => self.flush(Side::Server),
        }
    }

    fn enqueue_accept(&mut self, slot: u32) {
        self.listener.enqueue_accept(slot);
        self.update_listener_gauges();
        self.schedule_accept();
    }

    fn schedule_accept(&mut self) {
        if self.accept_pending || self.listener.accept_queue_len() == 0 {
            return;
        }
        match self.accept_interval {
            // An application that accepts at once takes the connection now:
            // no event needed (callers have settled the connection first).
            None => self.on_accept_tick(),
            Some(iv) if iv.0 == u64::MAX => {} // accept_rate = 0: never
            Some(iv) => {
                self.accept_pending = true;
                let at = (self.last_accept + iv).max(self.now);
                self.queue.push(at, Event::AcceptTick);
            }
        }
    }

    fn on_accept_tick(&mut self) {
        self.accept_pending = false;
        self.last_accept = self.now;
        while let Some(slot) = self.listener.accept() {
            // A child may have died while it waited (reset, timeout).
            let alive = self.slots[slot as usize].tcb.state != State::Closed
                && matches!(self.slots[slot as usize].role, Role::ServerChild { accepted: false, .. });
            if alive {
                self.server_app_accept(slot);
                if self.accept_interval.is_some() {
                    break; // one accept() per tick when rate-limited
                }
            }
        }
        self.update_listener_gauges();
        self.schedule_accept();
    }

    /// The server application took a connection: it answers (if configured),
    /// and closes when the client has, or after the hold when it closes first.
    fn server_app_accept(&mut self, slot: u32) {
        let generation = self.slots[slot as usize].generation;
        let (pop, local, remote) = {
            let s = &mut self.slots[slot as usize];
            let Role::ServerChild { pop, accepted, .. } = &mut s.role else { return };
            *accepted = true;
            (*pop, s.tcb.local, s.tcb.remote)
        };
        self.record(
            Side::Server,
            RecordKind::App("accept"),
            None,
            (self.state_at(local, remote), self.state_at(local, remote)),
            "",
        );
        let p = self.server_params_for(pop);
        if self.server.response_bytes > 0 {
            let before = self.slots[slot as usize].tcb.state;
            let mut out = std::mem::take(&mut self.out);
            self.slots[slot as usize].tcb.send(self.now, self.server.response_bytes, &p, &mut out);
            self.out = out;
            self.settle(slot, before);
        }
        if !self.live(slot, generation) {
            return;
        }
        if self.slots[slot as usize].tcb.state == State::CloseWait {
            self.queue.push(self.now + self.server.close_delay, Event::AppClose { slot, generation });
            return;
        }
        // Who closes first was decided by the client when it connected
        // (found through the peer hint, or the 4-tuple map).
        let peer = self.slots[slot as usize].peer;
        let client = peer
            .checked_sub(1)
            .filter(|&c| {
                self.slots.get(c as usize).is_some_and(|s| {
                    s.tcb.local == remote && s.tcb.remote == local && s.tcb.state != State::Closed
                })
            })
            .or_else(|| self.demux.get(&tuple(remote, local)).copied());
        if pop != NO_POP
            && let Some(client) = client
            && let Role::Client { closes_first: false, .. } = self.slots[client as usize].role
        {
            let hold = self.pops[pop as usize].hold;
            self.queue.push(self.now + hold, Event::AppClose { slot, generation });
        }
    }

    fn update_listener_gauges(&mut self) {
        self.syn_recv.set(self.now, self.listener.syn_queue_len() as u64);
        self.accept_queue.set(self.now, self.listener.accept_queue_len() as u64);
    }

    // ----- hosts other than the server ------------------------------------

    fn host_receive(&mut self, seg: Segment) {
        let side = self.side_of(seg.dst.ip);
        let before_state = self.state_at(seg.dst, seg.src);
        if let Some(slot) = self.lookup(&seg) {
            let p = self.params_for(self.slots[slot as usize].role);
            let s = &mut self.slots[slot as usize];
            let before = s.tcb.state;
            let mut out = std::mem::take(&mut self.out);
            let disposition = s.tcb.handle_segment(self.now, &seg, &p, &mut out);
            let after = s.tcb.state;
            self.out = out;
            self.record(side, RecordKind::Received, Some(seg), (before_state, Some(after)), "");
            if let Disposition::ReopenFromTimeWait { .. } = disposition {
                // No listener on a client: the SYN ends the TIME-WAIT and gets a RST.
                self.out.extend(reset_for(&seg));
            }
            self.settle(slot, before);
            return;
        }
        // No socket: a real host answers RST (RFC 9293 §3.10.7.1); a spoofed
        // address may belong to nobody, or to a real host that answers.
        let answers = match self.plan.origin(seg.dst.ip) {
            Origin::Population(..) => true,
            Origin::AttackHosts(a) => self.attackers[a as usize].kind == AttackKind::ConnectFlood,
            Origin::Elsewhere => self.spoofed_host_answers(seg.dst.ip),
            Origin::Server => false,
        };
        let note = if answers { "no socket: RST" } else { "no host at this address" };
        self.record(side, RecordKind::Received, Some(seg), (before_state, before_state), note);
        if answers {
            self.out.extend(reset_for(&seg));
            self.flush(side);
        }
    }

    fn spoofed_host_answers(&self, ip: u32) -> bool {
        self.attackers.iter().any(|a| {
            a.kind == AttackKind::SpoofedSyn
                && a.rst_fraction > 0.0
                && (mix64(ip as u64 ^ a.salt) as f64 / u64::MAX as f64) < a.rst_fraction
        })
    }

    // ----- state changes and the applications -----------------------------

    fn on_transition(&mut self, slot: u32, before: State, mut after: State) {
        let now = self.now;
        let role = self.slots[slot as usize].role;
        let is_server = self.slots[slot as usize].tcb.local.ip == SERVER.ip;
        if before == State::TimeWait {
            self.time_wait_left(slot, is_server);
        }
        // No TIME-WAIT entry when the host holds tcp_max_tw_buckets: closed.
        if after == State::TimeWait && !self.time_wait_entered(slot, is_server) {
            after = State::Closed;
        }
        match role {
            Role::Client { pop, user, started, measured, established, closes_first, closed_by_app } => {
                if after == State::Established && !established {
                    if let Role::Client { established, .. } = &mut self.slots[slot as usize].role {
                        *established = true;
                    }
                    if measured {
                        self.counters.legit_established += 1;
                        self.connect_time.record(now - started);
                    }
                    let generation = self.slots[slot as usize].generation;
                    let p = self.pops[pop as usize].params;
                    let bytes = self.pops[pop as usize].request_bytes;
                    if bytes > 0 {
                        let mut out = std::mem::take(&mut self.out);
                        self.slots[slot as usize].tcb.send(now, bytes, &p, &mut out);
                        self.out = out;
                        self.flush(Side::Client);
                    }
                    if closes_first {
                        let hold = self.pops[pop as usize].hold;
                        self.queue.push(now + hold, Event::AppClose { slot, generation });
                    }
                }
                if after == State::CloseWait && !closed_by_app {
                    // The client read EOF: it closes at once.
                    let generation = self.slots[slot as usize].generation;
                    self.queue.push(now, Event::AppClose { slot, generation });
                }
                if after == State::Closed {
                    let cause = self.slots[slot as usize].tcb.close_cause;
                    if !established && !self.slots_established(slot) {
                        if measured {
                            match cause {
                                Some(CloseCause::Reset) => self.counters.failed_reset += 1,
                                Some(CloseCause::Timeout) => self.counters.failed_timeout += 1,
                                _ => {}
                            }
                            self.counters.tcp_attempt_fails += 1;
                        }
                    } else if measured {
                        match cause {
                            Some(CloseCause::Reset) => self.counters.legit_reset_after_established += 1,
                            _ => self.counters.legit_completed += 1,
                        }
                    }
                    if !closed_by_app {
                        self.user_done(pop, user);
                    }
                }
            }
            Role::ServerChild { created, confirmed, sent, .. } => {
                if after == State::Closed {
                    if self.slots[slot as usize].tcb.close_cause == Some(CloseCause::Reset) {
                        self.counters.tcp_estab_resets += self.measuring as u64;
                        if !confirmed && sent > 0 {
                            // Two-way ablation: a connection nobody wanted.
                            self.counters.unwanted_established += 1;
                            self.counters.unwanted_segments += sent as u64;
                            self.counters.unwanted_established_ns += (now - created).as_nanos();
                        }
                    }
                } else if after == State::CloseWait
                    && let Role::ServerChild { accepted: true, .. } = role
                {
                    let generation = self.slots[slot as usize].generation;
                    self.queue.push(now + self.server.close_delay, Event::AppClose { slot, generation });
                }
            }
            Role::Request { .. } | Role::AttackerConn => {}
        }
    }

    fn slots_established(&self, slot: u32) -> bool {
        matches!(self.slots[slot as usize].role, Role::Client { established: true, .. })
    }

    /// The TIME-WAIT buckets of the host at `ip` and its index there
    /// (None: a host whose entries are not limited).
    fn tw_buckets(&mut self, ip: u32) -> Option<(&mut TimeWaitBuckets, usize)> {
        if ip == SERVER.ip {
            return Some((&mut self.server_tw, 0));
        }
        let Origin::Population(p, h) = self.plan.origin(ip) else { return None };
        Some((&mut self.pops[p as usize].tw_buckets, h as usize))
    }

    /// `tcp_time_wait`: count the entry, or make none when the host holds
    /// `tcp_max_tw_buckets` already (TcpExtTCPTimeWaitOverflow).
    /// Returns false when no entry was made.
    fn time_wait_entered(&mut self, slot: u32, is_server: bool) -> bool {
        let now = self.now;
        let ip = self.slots[slot as usize].tcb.local.ip;
        let entered = self.tw_buckets(ip).is_none_or(|(b, h)| b.try_enter(h));
        if !entered {
            self.slots[slot as usize].tcb.discard(now, CloseCause::Normal);
            if is_server {
                self.counters.tw_overflow_server += 1;
            } else {
                self.counters.tw_overflow_client += 1;
            }
            return false;
        }
        if is_server {
            self.tw_server.add(now, 1);
            self.counters.time_wait_entered_server += self.measuring as u64;
        } else {
            self.tw_client.add(now, 1);
            self.counters.time_wait_entered_client += self.measuring as u64;
        }
        true
    }

    fn time_wait_left(&mut self, slot: u32, is_server: bool) {
        let now = self.now;
        let ip = self.slots[slot as usize].tcb.local.ip;
        if let Some((b, h)) = self.tw_buckets(ip) {
            b.leave(h);
        }
        if is_server {
            self.tw_server.add(now, -1);
        } else {
            self.tw_client.add(now, -1);
        }
    }

    fn app_close(&mut self, slot: u32) {
        let before = self.slots[slot as usize].tcb.state;
        let role = self.slots[slot as usize].role;
        let p = self.params_for(role);
        let mut out = std::mem::take(&mut self.out);
        self.slots[slot as usize].tcb.close(self.now, &p, &mut out);
        self.out = out;
        if p.linger_zero && self.slots[slot as usize].tcb.close_cause == Some(CloseCause::Abort) {
            self.counters.abort_on_linger += self.measuring as u64;
        }
        let local = self.slots[slot as usize].tcb.local;
        let after = self.slots[slot as usize].tcb.state;
        self.record(self.side_of(local.ip), RecordKind::App("close"), None, (Some(before), Some(after)), "");
        if let Role::Client { pop, user, closed_by_app: false, .. } = role {
            if let Role::Client { closed_by_app, .. } = &mut self.slots[slot as usize].role {
                *closed_by_app = true;
            }
            self.user_done(pop, user);
        }
        self.settle(slot, before);
    }

    /// A closed-loop user finished one connection: the next one after `think`.
    fn user_done(&mut self, pop: u16, user: u32) {
        if user != NO_USER {
            let at = self.now + self.pops[pop as usize].think;
            self.queue.push(at, Event::UserConnect { pop, user });
        }
    }

    fn on_client_arrival(&mut self, pop: u16) {
        let p = &mut self.pops[pop as usize];
        if self.now >= p.stop || p.arrivals_left == 0 {
            return;
        }
        p.arrivals_left -= 1;
        let p = &self.pops[pop as usize];
        let rate = p.rate.expect("open loop");
        let hosts = p.hosts;
        let host = if p.round_robin {
            let pop_mut = &mut self.pops[pop as usize];
            let h = pop_mut.next_host % hosts;
            pop_mut.next_host += 1;
            h as u32
        } else {
            self.rng_arrivals.random_range(0..hosts) as u32
        };
        let next = self.now + self.next_gap(rate);
        self.queue.push(next, Event::ClientArrival { pop });
        self.client_connect(pop, host, NO_USER);
    }

    /// connect() from host `host` of population `pop`.
    fn client_connect(&mut self, pop: u16, host: u32, user: u32) -> Option<u32> {
        let now = self.now;
        let measured = self.measuring;
        if measured {
            self.counters.legit_attempts += 1;
            self.counters.tcp_active_opens += 1;
        }
        let ip = self.pops[pop as usize].base + host;
        let in_use = self.port_counts(ip).map(|c| [c[0] as u32, c[1] as u32]).unwrap_or([0, 0]);
        let choice = {
            let demux = &self.demux;
            let slots = &self.slots;
            self.pops[pop as usize].ports.choose(now, ip, SERVER, in_use, &mut self.rng_ports, |local| {
                demux.get(&tuple(local, SERVER)).map(|&s| &slots[s as usize].tcb)
            })
        };
        let (port, isn) = match choice {
            PortChoice::Free(port) => (port, self.rng_isn.next_u32()),
            PortChoice::ReuseTimeWait(port, isn) => {
                // `tcp_twsk_unique`: the TIME-WAIT entry gives way.
                let key = (SockAddr::new(ip, port), SERVER);
                let slot = self.demux[&tuple(key.0, key.1)];
                self.slots[slot as usize].tcb.discard(now, CloseCause::Normal);
                let note = "tcp_tw_reuse: the TIME-WAIT 4-tuple is taken over".to_string();
                self.record(
                    Side::Client,
                    RecordKind::App("connect"),
                    None,
                    (Some(State::TimeWait), Some(State::Closed)),
                    note,
                );
                self.on_transition(slot, State::TimeWait, State::Closed);
                self.release(slot);
                (port, isn)
            }
            PortChoice::Exhausted => {
                if measured {
                    self.counters.failed_no_port += 1;
                }
                self.record(
                    Side::Client,
                    RecordKind::App("connect"),
                    None,
                    (Some(State::Closed), Some(State::Closed)),
                    "EADDRNOTAVAIL: no free port",
                );
                self.user_done(pop, user);
                return None;
            }
        };
        let local = SockAddr::new(ip, port);
        let pop_ref = &self.pops[pop as usize];
        let p = pop_ref.params;
        let closes_first = match pop_ref.closer {
            Closer::Client => true,
            Closer::Server => false,
            Closer::Mixed => self.rng_arrivals.random::<f64>() < pop_ref.client_close_share,
        };
        let mut out = std::mem::take(&mut self.out);
        let tcb = Tcb::connect(now, local, SERVER, isn, &p, &mut out);
        self.out = out;
        let role = Role::Client {
            pop,
            user,
            started: now,
            measured,
            established: false,
            closes_first,
            closed_by_app: false,
        };
        let slot = self.insert(tcb, role);
        self.record(
            Side::Client,
            RecordKind::App("connect"),
            None,
            (Some(State::Closed), Some(State::SynSent)),
            "",
        );
        self.settle(slot, State::SynSent);
        Some(slot)
    }

    // ----- attackers -----------------------------------------------------

    /// The attack's instantaneous rate at `now` (packets per second).
    fn attack_rate(a: &Attacker, now: SimTime) -> f64 {
        let since = now.saturating_sub(a.start);
        match a.profile {
            RateProfile::Constant | RateProfile::Poisson => a.rate,
            RateProfile::OnOff { on, off } => {
                let period = on.0 + off.0;
                if period == 0 || since.0 % period < on.0 { a.rate } else { 0.0 }
            }
            RateProfile::Ramp { from, over } => {
                if since >= over || over.0 == 0 {
                    a.rate
                } else {
                    from + (a.rate - from) * since.0 as f64 / over.0 as f64
                }
            }
        }
    }

    fn on_attack(&mut self, index: u16) {
        let now = self.now;
        let a = &self.attackers[index as usize];
        if now >= a.stop || now >= self.end {
            return;
        }
        let rate = Self::attack_rate(a, now);
        // Schedule the next packet first: constant spacing, or Poisson.
        let next = if rate <= 0.0 {
            // An off period: wake at its end.
            match a.profile {
                RateProfile::OnOff { on, off } => {
                    let period = on.0 + off.0;
                    let since = now.saturating_sub(a.start).0;
                    now + SimDuration(period - since % period)
                }
                _ => SimTime::MAX,
            }
        } else {
            let gap = match a.profile {
                RateProfile::Constant => SimDuration::from_secs_f64(1.0 / rate),
                _ => {
                    SimDuration::from_secs_f64(Exp::new(rate).expect("positive").sample(&mut self.rng_attack))
                }
            };
            now + gap.max(SimDuration(1))
        };
        if next < SimTime::MAX {
            self.queue.push(next, Event::Attack { attacker: index });
        }
        if rate <= 0.0 {
            return;
        }
        let a = &self.attackers[index as usize];
        match a.kind {
            AttackKind::SpoofedSyn => {
                let source = self.rng_attack.random_range(0..a.sources);
                let mut ip = mix64(source ^ a.salt) as u32;
                if ip == SERVER.ip {
                    ip ^= 1;
                }
                let port = self.rng_attack.random_range(1024..=65535u32) as u16;
                let seg = Segment {
                    src: SockAddr::new(ip, port),
                    dst: SERVER,
                    seq: self.rng_attack.next_u32(),
                    flags: Flags::SYN,
                    mss: DEFAULT_MSS,
                    ..Default::default()
                };
                self.counters.attack_syns_sent += self.measuring as u64;
                self.transmit(seg, Side::Other);
            }
            AttackKind::HalfOpen => {
                let ip = a.base + self.rng_attack.random_range(0..a.hosts) as u32;
                let [low, high] = IP_LOCAL_PORT_RANGE;
                let port = self.rng_attack.random_range(low as u32..=high as u32) as u16;
                let seg = Segment {
                    src: SockAddr::new(ip, port),
                    dst: SERVER,
                    seq: self.rng_attack.next_u32(),
                    tsval: tcp_time_stamp(now),
                    flags: Flags::SYN,
                    mss: DEFAULT_MSS,
                    ..Default::default()
                };
                self.counters.attack_syns_sent += self.measuring as u64;
                self.transmit(seg, Side::Other);
            }
            AttackKind::ConnectFlood => {
                let ip = a.base + self.rng_attack.random_range(0..a.hosts) as u32;
                let p = TcpParams::default();
                let in_use = self.port_counts(ip).map(|c| [c[0] as u32, c[1] as u32]).unwrap_or([0, 0]);
                let choice = {
                    let demux = &self.demux;
                    let slots = &self.slots;
                    self.attackers[index as usize].ports.choose(
                        now,
                        ip,
                        SERVER,
                        in_use,
                        &mut self.rng_ports,
                        |local| demux.get(&tuple(local, SERVER)).map(|&s| &slots[s as usize].tcb),
                    )
                };
                let PortChoice::Free(port) = choice else { return };
                let isn = self.rng_isn.next_u32();
                let mut out = std::mem::take(&mut self.out);
                let tcb = Tcb::connect(now, SockAddr::new(ip, port), SERVER, isn, &p, &mut out);
                self.out = out;
                self.counters.attack_syns_sent += self.measuring as u64;
                let slot = self.insert(tcb, Role::AttackerConn);
                self.settle(slot, State::SynSent);
            }
        }
    }

    // ----- measurement ---------------------------------------------------

    fn on_warmup_end(&mut self) {
        self.measuring = true;
        self.listener_at_warmup = self.listener.counters.clone();
        let now = self.now;
        for g in [
            &mut self.tw_client,
            &mut self.tw_server,
            &mut self.syn_recv,
            &mut self.accept_queue,
            &mut self.ingress_gauge,
        ] {
            g.start(now);
        }
    }

    fn bin_counters(&self) -> (u64, u64, u64, u64) {
        (
            self.listener.counters.listen_drops,
            self.counters.ingress_drops,
            self.counters.legit_established,
            self.counters.legit_attempts,
        )
    }

    fn on_sample(&mut self) {
        let c = self.bin_counters();
        let b = self.bin_start;
        let secs = self.bin.as_secs_f64();
        let row = vec![
            self.tw_client.value as f64,
            self.tw_server.value as f64,
            self.listener.syn_queue_len() as f64,
            self.listener.accept_queue_len() as f64,
            (c.0 - b.0) as f64 / secs,
            (c.1 - b.1) as f64 / secs,
            (c.2 - b.2) as f64 / secs,
            (c.3 - b.3) as f64 / secs,
        ];
        self.series.rows.push((self.now.as_secs_f64(), row));
        self.bin_start = c;
        let next = self.now + self.bin;
        if next <= self.end {
            self.queue.push(next, Event::Sample);
        }
    }

    fn outcome(&mut self) -> RunOutcome {
        let end = self.now;
        let legit_pending = self
            .slots
            .iter()
            .filter(|s| {
                s.tcb.state != State::Closed
                    && matches!(s.role, Role::Client { measured: true, established: false, .. })
            })
            .count() as u64;
        RunOutcome {
            counters: self.counters.clone(),
            listener: self.listener.counters.since(&self.listener_at_warmup),
            connect_time: self.connect_time.clone(),
            time_wait_client: self.tw_client.stats(end),
            time_wait_server: self.tw_server.stats(end),
            syn_recv: self.syn_recv.stats(end),
            accept_queue: self.accept_queue.stats(end),
            ingress_queue: self.ingress_gauge.stats(end),
            series: self.series.clone(),
            events: self.events,
            sim_end: end,
            measured_from: self.warmup,
            legit_pending,
            peak_slots: self.peak_slots,
        }
    }

    // ----- scenario scripts ---------------------------------------------

    fn on_script(&mut self, index: u32) {
        let action = self.script[index as usize].clone();
        match action {
            ScriptAction::Connect => {
                let user = NO_USER;
                if let Some(slot) = self.client_connect(0, 0, user) {
                    self.traced_client = Some(self.slots[slot as usize].tcb.local);
                }
            }
            ScriptAction::Close(side) => {
                if let Some(slot) = self.traced_slot(side) {
                    self.app_close(slot);
                }
            }
            ScriptAction::Send(side, len) => {
                if let Some(slot) = self.traced_slot(side) {
                    let before = self.slots[slot as usize].tcb.state;
                    let p = self.params_for(self.slots[slot as usize].role);
                    let mut out = std::mem::take(&mut self.out);
                    self.slots[slot as usize].tcb.send(self.now, len, &p, &mut out);
                    self.out = out;
                    self.record(
                        side,
                        RecordKind::App("send"),
                        None,
                        (Some(before), Some(self.slots[slot as usize].tcb.state)),
                        format!("{len} bytes"),
                    );
                    self.settle(slot, before);
                }
            }
            ScriptAction::Inject(seg) => {
                let side = self.side_of(seg.src.ip);
                self.transmit(seg, side);
            }
            ScriptAction::InjectOldSyn { seq_offset } => {
                // The old incarnation used the port the traced client will pick.
                let ip = self.traced_client_host();
                let port = self.pops[0].ports.peek_port(ip, SERVER);
                let seg = Segment {
                    src: SockAddr::new(ip, port),
                    dst: SERVER,
                    seq: self.rng_isn.next_u32().wrapping_sub(seq_offset),
                    flags: Flags::SYN,
                    mss: DEFAULT_MSS,
                    ..Default::default()
                };
                self.record(
                    Side::Client,
                    RecordKind::App("old duplicate SYN"),
                    None,
                    (None, None),
                    "an earlier incarnation's SYN, delayed in the network",
                );
                self.transmit(seg, Side::Other);
            }
        }
    }

    /// The traced connection's slot on `side`.
    fn traced_slot(&self, side: Side) -> Option<u32> {
        let client = self.traced_client?;
        let key = match side {
            Side::Client => (client, SERVER),
            _ => (SERVER, client),
        };
        self.demux.get(&tuple(key.0, key.1)).copied()
    }

    /// The traced connection's state on each side (client, server).
    pub fn traced_states(&self) -> (Option<State>, Option<State>) {
        (
            self.traced_slot(Side::Client).map(|s| self.slots[s as usize].tcb.state),
            self.traced_slot(Side::Server).map(|s| self.slots[s as usize].tcb.state),
        )
    }

    /// Connections in TIME-WAIT right now, on the server or on the clients
    /// (counted from the connections themselves, to check the gauges).
    pub fn time_wait_entries(&self, server: bool) -> u64 {
        self.demux
            .values()
            .filter(|&&s| {
                let t = &self.slots[s as usize].tcb;
                t.state == State::TimeWait && (t.local.ip == SERVER.ip) == server
            })
            .count() as u64
    }

    pub fn listener(&self) -> &Listener<u32> {
        &self.listener
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn events(&self) -> u64 {
        self.events
    }
}

fn timer_name(tcb: &Tcb) -> &'static str {
    use crate::tcp::TimerKind;
    match (tcb.timer_kind(), tcb.state) {
        (TimerKind::Retransmit, State::SynSent) => "SYN retransmission timer",
        (TimerKind::Retransmit, State::SynReceived) => "SYN-ACK retransmission timer",
        (TimerKind::Retransmit, _) => "retransmission timer",
        (TimerKind::FinWait2, _) => "FIN-WAIT-2 timeout (tcp_fin_timeout)",
        (TimerKind::TimeWait, _) => "TIME-WAIT expiry",
        (TimerKind::None, _) => "timer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_within_48_bytes() {
        // DESIGN.md's budget: events are small and Copy.
        assert!(std::mem::size_of::<Event>() <= 48, "{}", std::mem::size_of::<Event>());
    }

    #[test]
    fn every_fresh_time_wait_waits_in_the_fifo_not_the_queue() {
        // Clients close first; each enters TIME-WAIT while its FIN's
        // retransmission event is still queued. 2000 connections in 2 s,
        // stopped 8 s later: all of them in TIME-WAIT.
        let cfg: RunConfig = toml::from_str(
            r#"
            duration = "10s"
            [network]
            delay = "10ms"
            [clients.web]
            hosts = 2000
            rate = 1000
            host_choice = "round-robin"
            max_connections = 2000
            hold = "10ms"
            "#,
        )
        .unwrap();
        let mut world = World::new(&cfg, 1, 0);
        world.run();
        assert_eq!(world.time_wait_entries(false), 2000);
        assert_eq!(world.tw_fifo.len(), 2000);
        // What is left in the queue: stale retransmission events, the
        // sampling tick, the sweep: none of them a TIME-WAIT timer.
        let pending: Vec<(SimTime, Event)> = std::iter::from_fn(|| world.queue.pop()).collect();
        let live_timers = pending
            .iter()
            .filter(|&&(at, e)| match e {
                Event::Timer { slot, generation } => {
                    world.live(slot, generation) && world.slots[slot as usize].queued == at
                }
                _ => false,
            })
            .count();
        assert_eq!(live_timers, 0);
    }
}
