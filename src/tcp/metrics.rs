//! The server's TCP metrics cache (`net/ipv4/tcp_metrics.c`), as far as
//! connection setup reads it: which peers are "proven" (`tcp_peer_is_proven`),
//! the exception to `tcp_conn_request`'s last-quarter rule.
//!
//! Linux keeps one entry per peer address in a hash of `tcp_metrics_hash`
//! buckets (16384 on a host with at least 512 MB, `tcp_net_metrics_init`).
//! A lookup walks the bucket's chain; a new entry goes to the chain's head,
//! unless the chain already holds more than `TCP_METRICS_RECLAIM_DEPTH`
//! entries, when the oldest one is overwritten in place (`tcpm_new`). So at
//! most six entries per bucket: the cache never holds more than 98304
//! peers, however many hosts a study has. Only what the proven test needs
//! is stored: the address, the stamp and whether an RTT is recorded.

use crate::engine::SimTime;

/// `tcp_metrics_hash` buckets: 16 * 1024 (hosts with >= 512 MB of RAM).
pub const TCP_METRICS_HASH_SLOTS: usize = 16 * 1024;
const HASH_LOG: u32 = TCP_METRICS_HASH_SLOTS.trailing_zeros();
/// A chain longer than this gets its oldest entry reclaimed, not a new one.
pub const TCP_METRICS_RECLAIM_DEPTH: usize = 5;
const CHAIN: usize = TCP_METRICS_RECLAIM_DEPTH + 1;
/// `TCP_METRICS_TIMEOUT`: an entry not refreshed for an hour is reset to
/// the route's defaults (no RTT) when next looked up (`tcpm_check_stamp`).
pub const TCP_METRICS_TIMEOUT_MS: u32 = 60 * 60 * 1000;
/// `GOLDEN_RATIO_32` of `hash_32()`.
const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// The whole table, once allocated: 1.2 MB (and its 2 KB occupancy bitmap).
pub const TABLE_BYTES: usize =
    TCP_METRICS_HASH_SLOTS * std::mem::size_of::<[Entry; CHAIN]>() + TCP_METRICS_HASH_SLOTS / 8;

/// One `tcp_metrics_block`, reduced to what `tcp_peer_is_proven` reads.
/// 12 bytes; `addr == 0` marks an unused place in a chain.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
struct Entry {
    addr: u32,
    /// `tcpm_stamp`, in milliseconds of simulated time (wrapping, compared
    /// as `time_after` compares jiffies).
    stamp_ms: u32,
    /// `tcpm_vals[TCP_METRIC_RTT] != 0`.
    rtt: bool,
}

/// The cache. Empty (no allocation) until the first entry is written.
#[derive(Clone, Debug, Default)]
pub struct TcpMetrics {
    /// Each bucket's chain, head first; unused places at the end.
    buckets: Vec<[Entry; CHAIN]>,
    /// One bit per bucket that holds an entry (entries are never removed):
    /// 2 KB that stay in cache, so a flood's lookups of addresses that are
    /// not there (most of them) rarely touch the 1.2 MB table.
    occupied: Vec<u64>,
    /// `net_hash_mix(net)`: a per-boot random value mixed into the hash.
    mix: u32,
    entries: usize,
}

fn ms(now: SimTime) -> u32 {
    now.as_millis() as u32
}

/// `time_after(a, b)` on a wrapping clock.
fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

impl TcpMetrics {
    pub fn new(mix: u32) -> Self {
        TcpMetrics { buckets: Vec::new(), occupied: Vec::new(), mix, entries: 0 }
    }

    /// Entries in the cache.
    pub fn len(&self) -> usize {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    /// Bytes the cache holds (the bucket array, once allocated).
    pub fn memory_bytes(&self) -> usize {
        self.buckets.capacity() * std::mem::size_of::<[Entry; CHAIN]>() + self.occupied.capacity() * 8
    }

    /// `hash_32(ipv4_addr_hash(addr) ^ net_hash_mix(net), log)`; the address
    /// hashed as Linux reads a `__be32` on a little-endian host.
    fn bucket(&self, addr: u32) -> usize {
        ((addr.swap_bytes() ^ self.mix).wrapping_mul(GOLDEN_RATIO_32) >> (32 - HASH_LOG)) as usize
    }

    fn find(&mut self, addr: u32) -> Option<&mut Entry> {
        let b = self.bucket(addr);
        if self.occupied.get(b / 64).is_none_or(|w| w & (1 << (b % 64)) == 0) {
            return None;
        }
        self.buckets[b].iter_mut().take_while(|e| e.addr != 0).find(|e| e.addr == addr)
    }

    /// `tcpm_check_stamp`: an hour without refresh resets the entry to the
    /// route's metrics (no RTT) and restamps it (`tcpm_suck_dst`).
    fn check_stamp(e: &mut Entry, now_ms: u32) {
        if after(now_ms, e.stamp_ms.wrapping_add(TCP_METRICS_TIMEOUT_MS)) {
            e.rtt = false;
            e.stamp_ms = now_ms;
        }
    }

    /// `tcp_peer_is_proven`: the peer has an entry with an RTT in it.
    pub fn peer_is_proven(&mut self, now: SimTime, addr: u32) -> bool {
        let now_ms = ms(now);
        self.find(addr).is_some_and(|e| {
            Self::check_stamp(e, now_ms);
            e.rtt
        })
    }

    /// `tcp_update_metrics` when a connection to `addr` ends well (TIME-WAIT,
    /// or LAST-ACK to CLOSED). `rtt_estimated`: the connection has an RTT
    /// estimate and its retransmission timer is not backed off; else the
    /// session "failed to estimate rtt" and an existing entry loses its RTT
    /// (no entry is made, and the stamp is not refreshed).
    pub fn update(&mut self, now: SimTime, addr: u32, rtt_estimated: bool) {
        let now_ms = ms(now);
        if let Some(e) = self.find(addr) {
            Self::check_stamp(e, now_ms);
            e.rtt = rtt_estimated;
            if rtt_estimated {
                e.stamp_ms = now_ms;
            }
            return;
        }
        if rtt_estimated {
            self.insert(Entry { addr, stamp_ms: now_ms, rtt: true });
        }
    }

    /// `tcpm_new`: at the chain's head, or over the chain's oldest entry
    /// (the first one found with the smallest stamp) when the chain is full.
    fn insert(&mut self, entry: Entry) {
        if self.buckets.is_empty() {
            self.buckets = vec![[Entry::default(); CHAIN]; TCP_METRICS_HASH_SLOTS];
            self.occupied = vec![0; TCP_METRICS_HASH_SLOTS / 64];
        }
        let b = self.bucket(entry.addr);
        self.occupied[b / 64] |= 1 << (b % 64);
        let chain = &mut self.buckets[b];
        let len = chain.iter().take_while(|e| e.addr != 0).count();
        if len > TCP_METRICS_RECLAIM_DEPTH {
            let mut oldest = 0;
            for i in 1..len {
                if after(chain[oldest].stamp_ms, chain[i].stamp_ms) {
                    oldest = i;
                }
            }
            chain[oldest] = entry;
            return;
        }
        chain.copy_within(0..len, 1);
        chain[0] = entry;
        self.entries += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: SimTime = SimTime::ZERO;

    /// Addresses that all land in `addr`'s bucket (found by search).
    fn same_bucket(m: &TcpMetrics, addr: u32, n: usize) -> Vec<u32> {
        let b = m.bucket(addr);
        (addr..).filter(|&a| m.bucket(a) == b).take(n).collect()
    }

    #[test]
    fn an_entry_with_an_rtt_proves_its_peer() {
        let mut m = TcpMetrics::new(7);
        assert!(!m.peer_is_proven(T0, 0x0B00_0001));
        assert_eq!(m.memory_bytes(), 0, "nothing allocated before the first entry");
        m.update(SimTime::from_secs(1), 0x0B00_0001, true);
        assert!(m.peer_is_proven(SimTime::from_secs(2), 0x0B00_0001));
        assert!(!m.peer_is_proven(SimTime::from_secs(2), 0x0B00_0002));
        assert_eq!(m.len(), 1);
        assert_eq!(m.memory_bytes(), TABLE_BYTES);
        assert_eq!(
            TABLE_BYTES,
            TCP_METRICS_HASH_SLOTS * CHAIN * 12 + 2048,
            "12 bytes an entry, a bit a bucket"
        );
    }

    #[test]
    fn a_session_without_an_rtt_makes_no_entry_and_clears_one() {
        let mut m = TcpMetrics::new(0);
        m.update(T0, 42, false);
        assert!(m.is_empty(), "tcp_get_metrics(create = false)");
        m.update(T0, 42, true);
        m.update(SimTime::from_secs(5), 42, false);
        assert_eq!(m.len(), 1, "the entry stays");
        assert!(!m.peer_is_proven(SimTime::from_secs(6), 42), "with RTT 0");
        m.update(SimTime::from_secs(7), 42, true);
        assert!(m.peer_is_proven(SimTime::from_secs(8), 42));
    }

    #[test]
    fn a_full_chain_reclaims_its_oldest_entry() {
        let mut m = TcpMetrics::new(3);
        let addrs = same_bucket(&m, 0x0B00_0001, CHAIN + 1);
        // Six entries fill the chain; the second one written is refreshed
        // later, so the first is the oldest.
        for (i, &a) in addrs[..CHAIN].iter().enumerate() {
            m.update(SimTime::from_secs(i as u64), a, true);
        }
        m.update(SimTime::from_secs(10), addrs[1], true);
        assert_eq!(m.len(), CHAIN);
        m.update(SimTime::from_secs(11), addrs[CHAIN], true);
        assert_eq!(m.len(), CHAIN, "reclaimed, not added");
        let now = SimTime::from_secs(12);
        assert!(!m.peer_is_proven(now, addrs[0]), "the oldest went");
        for &a in &addrs[1..] {
            assert!(m.peer_is_proven(now, a), "{a:#x}");
        }
    }

    #[test]
    fn equal_stamps_reclaim_the_chain_head() {
        // `time_before` is strict: the first of the oldest, from the head.
        let mut m = TcpMetrics::new(3);
        let addrs = same_bucket(&m, 0x0B00_0001, CHAIN + 2);
        for &a in &addrs {
            m.update(T0, a, true);
        }
        let proven: Vec<bool> = addrs.iter().map(|&a| m.peer_is_proven(T0, a)).collect();
        assert_eq!(proven, [true, true, true, true, true, false, false, true]);
    }

    #[test]
    fn an_entry_expires_an_hour_after_its_last_refresh() {
        let mut m = TcpMetrics::new(0);
        m.update(T0, 9, true);
        let hour = SimTime::from_millis(TCP_METRICS_TIMEOUT_MS as u64);
        assert!(m.peer_is_proven(hour, 9), "time_after is strict");
        assert!(!m.peer_is_proven(SimTime(hour.0 + 1_000_000), 9));
        // Reset, restamped: the next good session proves it again.
        m.update(SimTime(hour.0 + 2_000_000), 9, true);
        assert!(m.peer_is_proven(SimTime(hour.0 + 3_000_000), 9));
        // A refresh restarts the hour.
        m.update(SimTime::from_secs(4000), 9, true);
        assert!(m.peer_is_proven(SimTime::from_secs(4000 + 3599), 9));
    }
}
