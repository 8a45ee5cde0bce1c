//! Who is at which address. Hosts are address ranges, not objects: a
//! population of a million clients is one `(base, count)` pair.

use crate::tcp::SockAddr;

/// The server: 10.0.0.1, port 80.
pub const SERVER: SockAddr = SockAddr::new(0x0A00_0001, 80);

/// First address of the client populations: 11.0.0.1.
const CLIENT_BASE: u32 = 0x0B00_0001;
/// First address of the attackers' real hosts: 100.64.0.1.
const ATTACK_BASE: u32 = 0x6440_0001;

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    Server,
    /// Population index and host index within it.
    Population(u16, u32),
    /// An attacker's real hosts (half-open, connect-flood).
    AttackHosts(u16),
    /// Any other address: spoofed sources.
    Elsewhere,
}

#[derive(Clone, Debug, Default)]
pub struct AddressPlan {
    pops: Vec<(u32, u32, u16)>,
    attack: Vec<(u32, u32, u16)>,
}

impl AddressPlan {
    /// Places a population after the previous ones; returns its first address.
    pub fn add_population(&mut self, pop: u16, hosts: u64) -> u32 {
        let base = self.pops.last().map(|&(b, n, _)| b + n).unwrap_or(CLIENT_BASE);
        self.pops.push((base, hosts.min((ATTACK_BASE - base) as u64) as u32, pop));
        base
    }

    pub fn add_attack_hosts(&mut self, attacker: u16, hosts: u64) -> u32 {
        let base = self.attack.last().map(|&(b, n, _)| b + n).unwrap_or(ATTACK_BASE);
        self.attack.push((base, hosts.min((u32::MAX - base) as u64) as u32, attacker));
        base
    }

    pub fn origin(&self, ip: u32) -> Origin {
        if ip == SERVER.ip {
            return Origin::Server;
        }
        for &(base, n, pop) in &self.pops {
            if ip >= base && ip - base < n {
                return Origin::Population(pop, ip - base);
            }
        }
        for &(base, n, a) in &self.attack {
            if ip >= base && ip - base < n {
                return Origin::AttackHosts(a);
            }
        }
        Origin::Elsewhere
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_do_not_overlap_and_map_back() {
        let mut plan = AddressPlan::default();
        let a = plan.add_population(0, 1000);
        let b = plan.add_population(1, 10);
        let x = plan.add_attack_hosts(0, 5);
        assert_eq!(b, a + 1000);
        assert_eq!(plan.origin(a + 999), Origin::Population(0, 999));
        assert_eq!(plan.origin(b), Origin::Population(1, 0));
        assert_eq!(plan.origin(b + 10), Origin::Elsewhere);
        assert_eq!(plan.origin(x + 4), Origin::AttackHosts(0));
        assert_eq!(plan.origin(SERVER.ip), Origin::Server);
    }
}
