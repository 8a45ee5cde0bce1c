//! TIME-WAIT rules that live outside one connection's state machine:
//! the `tcp_max_tw_buckets` limit per host (`inet_twsk_alloc` refuses an
//! entry past it, `tcp_time_wait` then closes the socket outright and
//! counts TcpExtTCPTimeWaitOverflow) and the ISN a reopened 4-tuple starts
//! at (`tcp_timewait_state_process`, `tcp_twsk_unique`).

/// The ISN a new connection gets when it takes over a TIME-WAIT 4-tuple:
/// past the old incarnation's sequence space by a maximal window plus
/// two, never 0 (`tw_snd_nxt + 65535 + 2`).
pub fn reopen_isn(snd_nxt: u32) -> u32 {
    let isn = snd_nxt.wrapping_add(65_535 + 2);
    if isn == 0 { 1 } else { isn }
}

/// TIME-WAIT entries per host against `tcp_max_tw_buckets`. The counts
/// are allocated on first use, so hosts that never close cost nothing.
#[derive(Clone, Debug, Default)]
pub struct TimeWaitBuckets {
    /// None: the limit cannot bind (it is at or above what the hosts can
    /// ever hold), so nothing is counted.
    limit: Option<u32>,
    hosts: usize,
    counts: Vec<u32>,
}

impl TimeWaitBuckets {
    /// `limit` entries per host among `hosts` hosts; `binds` false when
    /// the limit can never be reached (each entry holds a port, so a client
    /// with fewer ports than the limit never reaches it).
    pub fn new(limit: u32, hosts: usize, binds: bool) -> Self {
        TimeWaitBuckets { limit: binds.then_some(limit), hosts, counts: Vec::new() }
    }

    /// `inet_twsk_alloc`: makes an entry for `host`, or refuses (false)
    /// when the host holds the limit already.
    pub fn try_enter(&mut self, host: usize) -> bool {
        let Some(limit) = self.limit else { return true };
        if self.counts.is_empty() {
            self.counts = vec![0; self.hosts];
        }
        let c = &mut self.counts[host];
        if *c >= limit {
            return false;
        }
        *c += 1;
        true
    }

    /// An entry of `host` ended (expired, reopened or taken over).
    pub fn leave(&mut self, host: usize) {
        if self.limit.is_some() {
            self.counts[host] -= 1;
        }
    }

    /// Entries `host` holds now (0 when not counted).
    pub fn count(&self, host: usize) -> u32 {
        self.counts.get(host).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_limit_and_frees_on_leave() {
        let mut b = TimeWaitBuckets::new(2, 3, true);
        assert!(b.try_enter(1));
        assert!(b.try_enter(1));
        assert!(!b.try_enter(1), "the third entry overflows");
        assert!(b.try_enter(0), "hosts are counted apart");
        b.leave(1);
        assert_eq!(b.count(1), 1);
        assert!(b.try_enter(1));
    }

    #[test]
    fn a_limit_that_cannot_bind_counts_nothing() {
        let mut b = TimeWaitBuckets::new(0, 1, false);
        assert!(b.try_enter(0));
        b.leave(0);
        assert_eq!(b.count(0), 0);
    }

    #[test]
    fn reopen_isn_skips_a_window_and_never_zero() {
        assert_eq!(reopen_isn(1000), 1000 + 65_537);
        assert_eq!(reopen_isn(0u32.wrapping_sub(65_537)), 1);
    }
}
