//! One clear message per bad input: the file, the line and column when
//! known, the key, and what is allowed.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentError {
    pub origin: String,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// The dotted key the problem is about.
    pub key: Option<String>,
    pub message: String,
}

impl std::error::Error for ExperimentError {}

impl fmt::Display for ExperimentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.origin)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        if let Some(key) = &self.key {
            write!(f, ": {key}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map(|i| i + 1).unwrap_or(0) + 1;
    (line, col)
}

/// The dotted path of the key defined at byte `offset`: the nearest table
/// header above it joined with the key on that line.
pub fn key_path_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let line_end = text[line_start..].find('\n').map(|i| line_start + i).unwrap_or(text.len());
    let line = text[line_start..line_end].trim();
    let key = line.split('=').next()?.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') {
        return None;
    }
    let header = before[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        (l.starts_with('[') && !l.starts_with("[["))
            .then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    Some(match header {
        Some(h) if !h.is_empty() => format!("{h}.{key}"),
        _ => key.to_string(),
    })
}

/// Byte offset where `dotted` (e.g. `server.tcp_syncookies`) is defined:
/// under its table header, or as a quoted key in a `[sweep]`/`[strategies]`
/// table, or as a top-level key.
pub fn find_key(text: &str, dotted: &str) -> Option<usize> {
    let mut offset = 0;
    let mut table = String::new();
    for line in text.split_inclusive('\n') {
        let t = line.trim();
        if t.starts_with('[') {
            table = t.trim_matches(|c| c == '[' || c == ']').trim().to_string();
        } else if let Some((k, _)) = t.split_once('=') {
            let k = k.trim().trim_matches('"');
            let full = if table.is_empty() { k.to_string() } else { format!("{table}.{k}") };
            if full == dotted || k == dotted {
                return Some(offset + (line.len() - line.trim_start().len()));
            }
        }
        offset += line.len();
    }
    // A whole table: its header.
    let header = format!("[{dotted}]");
    text.find(&header)
}

/// Levenshtein distance, for "did you mean".
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + (ca != *cb) as usize).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The closest allowed name, if it is close enough to be a typo.
pub fn did_you_mean<'a>(got: &str, allowed: &[&'a str]) -> Option<&'a str> {
    allowed
        .iter()
        .map(|a| (edit_distance(got, a), *a))
        .filter(|(d, a)| *d <= (a.len() / 3).max(2))
        .min()
        .map(|(_, a)| a)
}

impl ExperimentError {
    pub fn new(origin: &str, message: impl Into<String>) -> Self {
        ExperimentError {
            origin: origin.to_string(),
            line: None,
            column: None,
            key: None,
            message: message.into(),
        }
    }

    /// An error about `key`, located where the file defines it.
    /// A key inside an inline table (`a = { "server.x" = 1 }` under
    /// `[strategies]`) is located at the nearest enclosing key the file
    /// defines on a line of its own.
    pub fn at_key(origin: &str, text: &str, key: &str, message: impl Into<String>) -> Self {
        let mut e = ExperimentError::new(origin, message);
        e.key = Some(key.to_string());
        let mut path = key;
        loop {
            if let Some(off) = find_key(text, path) {
                let (l, c) = line_col(text, off);
                e.line = Some(l);
                e.column = Some(c);
                break;
            }
            match path.rsplit_once('.') {
                Some((head, _)) => path = head,
                None => break,
            }
        }
        e
    }

    pub fn unknown_key(origin: &str, text: &str, table: &str, key: &str, allowed: &[&str]) -> Self {
        let full = if table.is_empty() { key.to_string() } else { format!("{table}.{key}") };
        let hint = did_you_mean(key, allowed).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
        ExperimentError::at_key(
            origin,
            text,
            &full,
            format!("unknown key{hint} (allowed: {})", allowed.join(", ")),
        )
    }

    /// serde/toml's error, with its position, key and a "did you mean".
    pub fn from_toml(origin: &str, text: &str, e: &toml::de::Error) -> Self {
        let mut err = ExperimentError::new(origin, e.message().trim().to_string());
        if let Some(span) = e.span() {
            let (l, c) = line_col(text, span.start);
            err.line = Some(l);
            err.column = Some(c);
            err.key = key_path_at(text, span.start);
            if err.key.is_none() && err.message == "duplicate key" {
                let start = text[..span.start].rfind('\n').map_or(0, |i| i + 1);
                let line = text[start..].lines().next().unwrap_or("").trim();
                err.message = format!("the table `{line}` is defined twice");
            }
        }
        err.message = humanize_for(&err.message, err.key.as_deref());
        if let Some(key) = &err.key {
            err.message = sysctl_prefix_hint(key, &err.message);
        }
        err
    }
}

/// `net.ipv4.tcp_syncookies = 1` under `[server]`: sysctls are written by
/// their last name, as in sysctl.conf without the prefix.
fn sysctl_prefix_hint(key: &str, message: &str) -> String {
    for prefix in ["net.ipv4.", "net.core.", "net.ipv6."] {
        if let Some(at) = key.find(prefix) {
            let name = &key[at + prefix.len()..];
            let table = key[..at].trim_end_matches('.');
            return format!(
                "unknown key `{prefix}{name}`; did you mean `{name}`? (in [{table}] a sysctl is written \
                 without its `{prefix}` prefix)"
            );
        }
    }
    message.to_string()
}

/// What a key allows, in the user's words, where it is narrower than its
/// type (`hosts` is a u64 but must be from 1 to 80000000). Patterns use `*`
/// for a population's name.
const ALLOWED: [(&str, &str); 19] = [
    ("hz", crate::tcp::timer_wheel::HZ_CHOICES_IN_WORDS),
    ("clients.*.hosts", "an integer from 1 to 80000000"),
    ("clients.*.concurrency", "an integer from 1 to 100000000"),
    ("clients.*.rate", "a number of connections per second >= 0"),
    ("clients.*.tcp_syn_retries", "an integer from 0 to 20"),
    ("clients.*.tcp_syn_linear_timeouts", "an integer from 0 to 127"),
    ("clients.*.tcp_tw_reuse", "0, 1 or 2"),
    ("clients.*.tcp_tw_reuse_delay", "a duration in whole milliseconds from \"1ms\" to \"60s\""),
    ("clients.*.ip_local_port_range", "[low, high]: two port numbers from 1 to 65535 with low <= high"),
    ("attackers.*.rate", "a number of SYNs (or connections) per second >= 0"),
    ("attackers.*.hosts", "an integer from 1 to 10000000"),
    ("attackers.*.sources", "an integer from 1 to 4294967296"),
    ("server.tcp_syncookies", "0, 1 or 2"),
    ("server.tcp_synack_retries", "an integer from 0 to 20"),
    ("server.tcp_max_syn_backlog", "an integer from 4 to 4294967295"),
    ("server.packet_rate", "a number of segments per second > 0, or \"unlimited\""),
    ("server.accept_rate", "a number of accept() calls per second >= 0, or \"unlimited\""),
    ("server.workers", "an integer from 1 to 100000"),
    ("server.service_time", "\"constant\", \"exponential\" or \"table\""),
];

fn allowed_for(key: &str) -> Option<&'static str> {
    let parts: Vec<&str> = key.split('.').collect();
    ALLOWED.iter().find_map(|(pattern, allowed)| {
        let pat: Vec<&str> = pattern.split('.').collect();
        (pat.len() == parts.len() && pat.iter().zip(&parts).all(|(p, k)| *p == "*" || p == k))
            .then_some(*allowed)
    })
}

/// serde's name for what it expected, in the user's words.
fn expected_in_words(want: &str) -> String {
    let integer = |max: &str| format!("a whole number from 0 to {max}");
    match want {
        "u8" => integer("255"),
        "u16" => integer("65535"),
        "u32" => integer("4294967295"),
        "u64" | "usize" => integer("18446744073709551615"),
        "i64" => "a whole number".into(),
        "f64" | "f32" => "a number".into(),
        "a boolean" => "true or false".into(),
        "a string" => "a string in quotes".into(),
        "an array of length 2" => "an array of two values, [a, b]".into(),
        "struct ClientConfig" => {
            "a table of a population's settings, e.g. [clients.web] with hosts = 1000 and rate = 100".into()
        }
        "struct AttackerConfig" => {
            "a table of an attacker's settings, e.g. [attackers.flood] with kind = \"spoofed-syn\" and rate = 1000"
                .into()
        }
        "struct ServerConfig" => "the [server] table of sysctls, e.g. tcp_syncookies = 1".into(),
        "struct NetworkConfig" => "the [network] table, e.g. delay = \"10ms\" and loss = 0.01".into(),
        "struct PathOverride" => "a table with `delay` and/or `loss`".into(),
        "struct PopulationNetwork" => {
            "a table of the population's paths, e.g. [clients.mobile.network] with delay = \"60ms\" and loss = 0.02"
                .into()
        }
        other => other.strip_prefix("struct ").map(|s| format!("a table ({s})")).unwrap_or(other.to_string()),
    }
}

/// serde's description of the value it got, in the file's terms.
fn got_in_words(got: &str) -> String {
    let inner = |s: &str| s.trim_matches('`').to_string();
    if let Some(v) = got.strip_prefix("integer ") {
        inner(v)
    } else if let Some(v) = got.strip_prefix("floating point ") {
        inner(v)
    } else if let Some(v) = got.strip_prefix("boolean ") {
        inner(v)
    } else if let Some(v) = got.strip_prefix("string ") {
        format!("the string {v}")
    } else {
        match got {
            "map" => "a table".into(),
            "sequence" => "an array".into(),
            other => other.to_string(),
        }
    }
}

/// serde's messages in the user's words: unknown fields with "did you
/// mean", wrong types and out-of-range values as "must be ... (got ...)",
/// unknown variants with the allowed values. `key` (dotted), where known,
/// narrows what is allowed.
pub fn humanize_for(message: &str, key: Option<&str>) -> String {
    let allowed = key.and_then(allowed_for);
    let must = |want: &str, got: &str| {
        let want = allowed.map(str::to_string).unwrap_or_else(|| expected_in_words(want));
        format!("must be {want} (got {})", got_in_words(got))
    };
    for prefix in ["invalid type: ", "invalid value: "] {
        if let Some(rest) = message.strip_prefix(prefix)
            && let Some((got, want)) = rest.split_once(", expected ")
        {
            return must(want, got);
        }
    }
    if let Some(rest) = message.strip_prefix("invalid length ")
        && let Some((n, want)) = rest.split_once(", expected ")
    {
        return must(want, &format!("{n} values"));
    }
    if let Some(rest) = message.strip_prefix("unknown variant `")
        && let Some((got, tail)) = rest.split_once('`')
    {
        let names: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
        let hint = did_you_mean(got, &names).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
        return format!("unknown value `{got}`{hint} (allowed: {})", names.join(", "));
    }
    if message.starts_with("data did not match any variant of untagged enum")
        && let Some(allowed) = allowed
    {
        return format!("must be {allowed}");
    }
    humanize(message)
}

/// serde's "unknown field `x`, expected one of `a`, `b`" as "unknown key;
/// did you mean `a`? (allowed: a, b)"; other messages pass through.
pub fn humanize(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return message.to_string();
    };
    let Some((got, tail)) = rest.split_once('`') else { return message.to_string() };
    let allowed: Vec<&str> = tail.split('`').skip(1).step_by(2).collect();
    let hint = did_you_mean(got, &allowed).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
    if allowed.is_empty() {
        format!("unknown key `{got}`{hint}")
    } else {
        format!("unknown key `{got}`{hint} (allowed: {})", allowed.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let allowed = ["tcp_syncookies", "tcp_synack_retries", "somaxconn"];
        assert_eq!(did_you_mean("tcp_syncokies", &allowed), Some("tcp_syncookies"));
        assert_eq!(did_you_mean("somaxcon", &allowed), Some("somaxconn"));
        assert_eq!(did_you_mean("banana", &allowed), None);
    }

    #[test]
    fn finds_keys_and_their_paths() {
        let text = "seed = 1\n[server]\ntcp_syncookies = 2\n[sweep]\n\"network.loss\" = [0.1]\n";
        let off = find_key(text, "server.tcp_syncookies").unwrap();
        assert_eq!(line_col(text, off), (3, 1));
        assert_eq!(key_path_at(text, off).as_deref(), Some("server.tcp_syncookies"));
        let off = find_key(text, "sweep.network.loss").unwrap();
        assert_eq!(line_col(text, off).0, 5);
    }

    #[test]
    fn rewrites_serde_unknown_field() {
        let m = humanize("unknown field `tcp_syncokies`, expected one of `tcp_syncookies`, `somaxconn`");
        assert!(
            m.contains("did you mean `tcp_syncookies`?") && m.contains("allowed: tcp_syncookies, somaxconn"),
            "{m}"
        );
    }
}
