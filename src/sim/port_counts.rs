//! Ports each client or attacking host holds toward the server, by parity
//! (`__inet_hash_connect` prefers one parity for connect(), so the port
//! search needs both counts).
//!
//! A population keeps a flat table unless it is big (over a million hosts)
//! and few of its hosts hold a port at any moment: then only those are
//! kept. 10 million new visitors at 200 connections/s hold about 12k ports
//! at once, and a flat table of 40 MB, faulted in and zeroed for every run
//! of a sweep, cost the default study a fifth of its wall time (sys time
//! from the page faults, user time from cache misses in a table too big
//! for any cache). Where most hosts hold a port (the 10-million-host
//! benchmark: 200k connections/s, each host's port held through 60 s of
//! TIME-WAIT), the flat table is faster and smaller than a map.

use rustc_hash::FxHashMap;

/// Populations up to this many hosts keep a flat table (4 MB at most).
const FLAT_MAX_HOSTS: u64 = 1 << 20;

/// A port is held at most this long after connect() (SYN retries, the
/// connection, TIME-WAIT), give or take: the bound on holders is the
/// arrival rate times this.
const HELD_AT_MOST_S: f64 = 64.0;

/// Sparse when the hosts outnumber the possible holders this many times.
const SPARSE_RATIO: f64 = 16.0;

#[derive(Debug)]
pub(super) enum PortCounts {
    /// Allocated on first use: a population that never connects costs
    /// nothing.
    Flat { hosts: usize, counts: Vec<[u16; 2]> },
    /// Hosts holding at least one port; an entry goes when both counts
    /// reach zero.
    Sparse(FxHashMap<u32, [u16; 2]>),
}

impl PortCounts {
    /// A table for `hosts` hosts that connect at `rate` per second in all
    /// (None: a closed loop, whose holders are not bounded by a rate).
    pub fn new(hosts: u64, rate: Option<f64>) -> Self {
        let holders = rate.map_or(f64::INFINITY, |r| r * HELD_AT_MOST_S);
        if hosts <= FLAT_MAX_HOSTS || hosts as f64 <= SPARSE_RATIO * holders {
            PortCounts::Flat { hosts: hosts as usize, counts: Vec::new() }
        } else {
            PortCounts::Sparse(FxHashMap::default())
        }
    }

    /// Ports `host` holds now, even and odd.
    pub fn get(&self, host: u32) -> [u16; 2] {
        match self {
            PortCounts::Flat { counts, .. } => counts.get(host as usize).copied().unwrap_or([0, 0]),
            PortCounts::Sparse(map) => map.get(&host).copied().unwrap_or([0, 0]),
        }
    }

    /// `host` took `port`.
    pub fn take(&mut self, host: u32, port: u16) {
        let parity = (port & 1) as usize;
        match self {
            PortCounts::Flat { hosts, counts } => {
                if counts.is_empty() {
                    *counts = vec![[0, 0]; *hosts];
                }
                counts[host as usize][parity] += 1;
            }
            PortCounts::Sparse(map) => map.entry(host).or_default()[parity] += 1,
        }
    }

    /// `host` gave `port` back.
    pub fn give_back(&mut self, host: u32, port: u16) {
        let parity = (port & 1) as usize;
        match self {
            PortCounts::Flat { counts, .. } => counts[host as usize][parity] -= 1,
            PortCounts::Sparse(map) => {
                let c = map.get_mut(&host).expect("a port given back was taken");
                c[parity] -= 1;
                if *c == [0, 0] {
                    map.remove(&host);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> [PortCounts; 2] {
        [PortCounts::new(8, None), PortCounts::Sparse(FxHashMap::default())]
    }

    #[test]
    fn counts_ports_by_parity_per_host() {
        for mut t in both() {
            t.take(3, 40_000);
            t.take(3, 40_002);
            t.take(3, 40_001);
            t.take(5, 40_001);
            assert_eq!(t.get(3), [2, 1]);
            assert_eq!(t.get(5), [0, 1]);
            assert_eq!(t.get(4), [0, 0]);
            t.give_back(3, 40_000);
            assert_eq!(t.get(3), [1, 1]);
        }
    }

    #[test]
    fn a_sparse_table_keeps_only_hosts_holding_ports() {
        let flat = |t: &PortCounts| matches!(t, PortCounts::Flat { .. });
        assert!(flat(&PortCounts::new(1_000_000, Some(1.0))), "small tables stay flat");
        assert!(flat(&PortCounts::new(10_000_000, Some(200_000.0))), "most hosts hold a port");
        assert!(flat(&PortCounts::new(10_000_000, None)), "a closed loop has no rate bound");
        let mut t = PortCounts::new(10_000_000, Some(200.0));
        t.take(9_999_999, 1);
        t.take(9_999_999, 2);
        t.give_back(9_999_999, 1);
        t.give_back(9_999_999, 2);
        assert_eq!(t.get(9_999_999), [0, 0]);
        let PortCounts::Sparse(map) = t else { panic!("10M hosts keep a sparse table") };
        assert!(map.is_empty(), "a host that gave every port back is forgotten");
    }
}
