//! Exact drop rules for scenarios: "drop the 1st SYN-ACK server->client".
//! Written `KIND[:N][:DIR]`, e.g. `synack:1:s2c`, `fin:2`, `ack:3:c2s`;
//! N counts segments of that kind in that direction from 1, `*` drops all.

use crate::tcp::{Segment, SegmentKind};
use std::fmt;

/// Direction of travel between the traced client and server.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    ClientToServer,
    ServerToClient,
}

impl Direction {
    pub fn arrow(self) -> &'static str {
        match self {
            Direction::ClientToServer => "client->server",
            Direction::ServerToClient => "server->client",
        }
    }
}

/// Which occurrences of a segment kind a rule matches.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Occurrence {
    Nth(u32),
    All,
}

/// What happens to a matching segment.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum RuleAction {
    Drop,
    /// Held back by this many extra nanoseconds (reordering).
    Delay(u64),
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DropRule {
    pub kind: SegmentKind,
    pub occurrence: Occurrence,
    /// None: either direction (the count is per direction).
    pub direction: Option<Direction>,
    pub action: RuleAction,
}

impl DropRule {
    pub const fn drop_nth(kind: SegmentKind, n: u32, direction: Direction) -> Self {
        DropRule {
            kind,
            occurrence: Occurrence::Nth(n),
            direction: Some(direction),
            action: RuleAction::Drop,
        }
    }

    /// Parses `KIND[:N|*][:c2s|s2c]`.
    pub fn parse(text: &str) -> Result<DropRule, String> {
        let usage = || {
            format!(
                "bad drop rule `{text}`: write KIND[:N][:DIR], KIND one of syn, synack, ack, data, fin, rst; \
                 N a count from 1 or * for all; DIR c2s or s2c (e.g. synack:1:s2c)"
            )
        };
        let mut parts = text.split(':');
        let kind = parts.next().and_then(SegmentKind::parse).ok_or_else(usage)?;
        let mut occurrence = Occurrence::Nth(1);
        let mut direction = None;
        for part in parts {
            match part.to_ascii_lowercase().as_str() {
                "*" | "all" => occurrence = Occurrence::All,
                "c2s" | "client->server" => direction = Some(Direction::ClientToServer),
                "s2c" | "server->client" => direction = Some(Direction::ServerToClient),
                n => match n.parse::<u32>() {
                    Ok(n) if n >= 1 => occurrence = Occurrence::Nth(n),
                    _ => return Err(usage()),
                },
            }
        }
        Ok(DropRule { kind, occurrence, direction, action: RuleAction::Drop })
    }
}

impl fmt::Display for DropRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = match self.action {
            RuleAction::Drop => "drop".to_string(),
            RuleAction::Delay(ns) => format!("delay by {}", crate::engine::SimDuration(ns)),
        };
        let which = match self.occurrence {
            Occurrence::Nth(1) => "the 1st".to_string(),
            Occurrence::Nth(2) => "the 2nd".to_string(),
            Occurrence::Nth(3) => "the 3rd".to_string(),
            Occurrence::Nth(n) => format!("the {n}th"),
            Occurrence::All => "every".to_string(),
        };
        let dir = self.direction.map(|d| format!(" {}", d.arrow())).unwrap_or_default();
        let kind = match self.kind {
            SegmentKind::SynAck => "SYN-ACK".to_string(),
            SegmentKind::Data => "data segment".to_string(),
            k => k.name().to_uppercase(),
        };
        write!(f, "{verb} {which} {kind}{dir}")
    }
}

/// Applies a list of rules, counting segments per (kind, direction).
#[derive(Clone, Debug, Default)]
pub struct DropRules {
    rules: Vec<DropRule>,
    seen: Vec<u32>,
}

impl DropRules {
    pub fn new(rules: Vec<DropRule>) -> Self {
        DropRules { rules, seen: vec![0; SegmentKind::ALL.len() * 2] }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Counts `seg` and returns the action of the first rule it matches.
    pub fn check(&mut self, seg: &Segment, direction: Direction) -> Option<(RuleAction, DropRule)> {
        if self.rules.is_empty() {
            return None;
        }
        let kind = seg.kind();
        let slot = SegmentKind::ALL.iter().position(|k| *k == kind).unwrap() * 2 + direction as usize;
        self.seen[slot] += 1;
        let count = self.seen[slot];
        self.rules
            .iter()
            .find(|r| {
                r.kind == kind
                    && r.direction.is_none_or(|d| d == direction)
                    && match r.occurrence {
                        Occurrence::Nth(n) => n == count,
                        Occurrence::All => true,
                    }
            })
            .map(|r| (r.action, *r))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::Flags;

    #[test]
    fn parses_the_forms() {
        assert_eq!(
            DropRule::parse("synack:1:s2c").unwrap(),
            DropRule::drop_nth(SegmentKind::SynAck, 1, Direction::ServerToClient)
        );
        let all = DropRule::parse("syn:*").unwrap();
        assert_eq!(all.occurrence, Occurrence::All);
        assert_eq!(all.direction, None);
        assert!(DropRule::parse("syn:0").is_err());
        assert!(DropRule::parse("urg:1").is_err());
        assert!(DropRule::parse("fin:1:sideways").is_err());
    }

    #[test]
    fn counts_per_kind_and_direction() {
        let mut rules =
            DropRules::new(vec![DropRule::drop_nth(SegmentKind::Syn, 2, Direction::ClientToServer)]);
        let syn = Segment { flags: Flags::SYN, ..Default::default() };
        assert!(rules.check(&syn, Direction::ServerToClient).is_none());
        assert!(rules.check(&syn, Direction::ClientToServer).is_none());
        assert!(rules.check(&syn, Direction::ClientToServer).is_some());
        assert!(rules.check(&syn, Direction::ClientToServer).is_none());
    }
}
