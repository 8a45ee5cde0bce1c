//! Sweep axes and their cartesian product, with strategy overlays.

use super::error::{ExperimentError, did_you_mean, humanize_for, key_path_at};
use super::validate::check;
use super::{Point, RUN_KEYS};
use crate::config::RunConfig;
use toml::{Table, Value};

/// One axis of the sweep: a key (`strategy` or a dotted path) and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Axis {
    pub key: String,
    pub values: Vec<Value>,
    /// The values as text, as summary.csv writes them.
    pub labels: Vec<String>,
}

/// How a value is written in CSV files and reports.
pub fn label(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Integer(i) => i.to_string(),
        Value::Float(f) => format!("{f}"),
        Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn range(origin: &str, text: &str, key: &str, t: &Table) -> Result<Vec<Value>, ExperimentError> {
    let bad = |msg: String| ExperimentError::at_key(origin, text, &format!("sweep.{key}"), msg);
    for k in t.keys() {
        if !["from", "to", "steps", "scale"].contains(&k.as_str()) {
            return Err(bad(format!("unknown key `{k}` in a range (allowed: from, to, steps, scale)")));
        }
    }
    let num = |name: &str| match t.get(name) {
        Some(Value::Integer(i)) => Ok((*i as f64, true)),
        Some(Value::Float(f)) if f.is_finite() => Ok((*f, false)),
        _ => Err(bad(format!("a range needs a number `{name}`"))),
    };
    let (from, int_from) = num("from")?;
    let (to, int_to) = num("to")?;
    let steps = match t.get("steps") {
        Some(Value::Integer(s)) if *s >= 1 && *s <= 10_000 => *s as usize,
        _ => return Err(bad("a range needs `steps`, an integer from 1 to 10000".into())),
    };
    let log = match t.get("scale").map(|v| v.as_str()) {
        None | Some(Some("linear")) => false,
        Some(Some("log")) => true,
        _ => return Err(bad("`scale` is \"linear\" or \"log\"".into())),
    };
    if log && (from <= 0.0 || to <= 0.0) {
        return Err(bad(format!("a log range needs from > 0 and to > 0 (got {from} to {to})")));
    }
    let integer = int_from && int_to;
    let mut values = Vec::with_capacity(steps);
    for i in 0..steps {
        let f = if steps == 1 { 0.0 } else { i as f64 / (steps - 1) as f64 };
        let x = if log { (from.ln() + f * (to.ln() - from.ln())).exp() } else { from + f * (to - from) };
        let v = if integer { Value::Integer(x.round() as i64) } else { Value::Float(x) };
        if !values.contains(&v) {
            values.push(v);
        }
    }
    Ok(values)
}

/// The axes of `[sweep]`, in file order. With `[strategies]` but no
/// `strategy` axis, every strategy is run (an implicit first axis).
pub fn axes(
    origin: &str,
    text: &str,
    base: &Table,
    sweep: &Table,
    strategies: &Table,
) -> Result<Vec<Axis>, ExperimentError> {
    let mut axes = Vec::new();
    for (name, overlay) in strategies {
        if !overlay.is_table() {
            return Err(ExperimentError::at_key(
                origin,
                text,
                &format!("strategies.{name}"),
                "a strategy is a table of dotted keys, e.g. { \"server.tcp_syncookies\" = 2 }",
            ));
        }
    }
    for (key, v) in sweep {
        let at = |msg: String| ExperimentError::at_key(origin, text, &format!("sweep.{key}"), msg);
        let values = match v {
            Value::Array(a) if a.is_empty() => {
                return Err(at("empty sweep axis: give at least one value".into()));
            }
            Value::Array(a) => a.clone(),
            Value::Table(t) => range(origin, text, key, t)?,
            other => return Err(at(format!("an axis is a list of values or a range table (got {other})"))),
        };
        if key == "strategy" {
            for v in &values {
                let name = v.as_str().unwrap_or("");
                if !strategies.contains_key(name) {
                    let known: Vec<&str> = strategies.keys().map(|s| s.as_str()).collect();
                    let hint = did_you_mean(name, &known)
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_default();
                    return Err(at(format!(
                        "unknown strategy `{}`{hint} (defined in [strategies]: {})",
                        label(v),
                        if known.is_empty() { "none".to_string() } else { known.join(", ") }
                    )));
                }
            }
        } else {
            let head = key.split('.').next().unwrap_or("");
            if !RUN_KEYS.contains(&head)
                || !key.contains('.')
                    && !["duration", "measure", "warmup", "drain", "bin", "hz"].contains(&head)
            {
                let hint = did_you_mean(head, &RUN_KEYS)
                    .map(|s| format!("; did you mean `{s}`?"))
                    .unwrap_or_default();
                return Err(at(format!(
                    "a sweep key is a dotted path into the run configuration{hint} (it starts with one of: {}), or `strategy`",
                    RUN_KEYS.join(", ")
                )));
            }
            population_exists(base, strategies, key).map_err(at)?;
        }
        let labels = values.iter().map(label).collect();
        axes.push(Axis { key: key.clone(), values, labels });
    }
    if !strategies.is_empty() && !axes.iter().any(|a| a.key == "strategy") {
        let values: Vec<Value> = strategies.keys().map(|k| Value::String(k.clone())).collect();
        let labels = values.iter().map(label).collect();
        axes.insert(0, Axis { key: "strategy".into(), values, labels });
    }
    Ok(axes)
}

/// A sweep over `clients.NAME.x` or `attackers.NAME.x` needs NAME defined
/// (in the file or by a strategy): otherwise it would make a population of
/// one key and fail later with a confusing "missing field".
fn population_exists(base: &Table, strategies: &Table, key: &str) -> Result<(), String> {
    let mut parts = key.splitn(3, '.');
    let (Some(group @ ("clients" | "attackers")), Some(name), Some(_)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Ok(());
    };
    let defined: Vec<&str> = base
        .get(group)
        .and_then(Value::as_table)
        .map(|t| t.keys().map(|k| k.as_str()).collect())
        .unwrap_or_default();
    let by_strategy = strategies.values().filter_map(Value::as_table).any(|o| {
        o.keys().any(|k| k.starts_with(&format!("{group}.{name}.")) || k == &format!("{group}.{name}"))
    });
    if defined.contains(&name) || by_strategy {
        return Ok(());
    }
    let hint = did_you_mean(name, &defined).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
    Err(format!(
        "there is no population `{name}`: [{group}.{name}] is not defined{hint} (defined in [{group}]: {})",
        if defined.is_empty() { "none".to_string() } else { defined.join(", ") }
    ))
}

/// Keys a run cannot do without, checked before serde so the message names
/// the table that lacks one and where it is.
fn missing_required(table: &Table) -> Option<(String, String)> {
    match (table.contains_key("duration"), table.contains_key("measure")) {
        (false, false) => {
            return Some((
                "duration".into(),
                "missing key `duration`: how much simulated time a run covers, e.g. duration = \"60s\" \
                 (or `measure`: the measured window, after the warm-up)"
                    .into(),
            ));
        }
        (true, true) => {
            return Some((
                "measure".into(),
                "set `duration` or `measure`, not both: `measure` makes each run warmup + measure + drain long"
                    .into(),
            ));
        }
        _ => {}
    }
    let groups: [(&str, &[(&str, &str)]); 2] = [
        ("clients", &[("hosts", "the number of client hosts, an integer from 1 to 80000000")]),
        (
            "attackers",
            &[
                ("kind", "\"spoofed-syn\", \"half-open\" or \"connect-flood\""),
                ("rate", "SYNs (or connections) per second"),
            ],
        ),
    ];
    for (group, required) in groups {
        let Some(Value::Table(pops)) = table.get(group) else { continue };
        for (name, pop) in pops {
            let Value::Table(pop) = pop else { continue };
            for (key, what) in required {
                if !pop.contains_key(*key) {
                    return Some((format!("{group}.{name}"), format!("missing key `{key}` ({what})")));
                }
            }
        }
    }
    None
}

/// The dotted key a deserialization error is about: the point's table is
/// written back out as TOML and read again, so the error carries a span.
fn key_of_error(table: &Table) -> Option<String> {
    let doc = toml::to_string(table).ok()?;
    let e = toml::from_str::<RunConfig>(&doc).err()?;
    key_path_at(&doc, e.span()?.start)
}

/// Writes `value` at a dotted path, creating tables on the way.
pub fn set_path(table: &mut Table, path: &str, value: Value) -> Result<(), String> {
    let mut parts = path.split('.').peekable();
    let mut t = table;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            t.insert(part.to_string(), value);
            return Ok(());
        }
        let entry = t.entry(part.to_string()).or_insert_with(|| Value::Table(Table::new()));
        t = entry.as_table_mut().ok_or_else(|| format!("`{part}` in `{path}` is not a table"))?;
    }
    Err(format!("empty key `{path}`"))
}

/// Every point of the cartesian product (last axis fastest), each
/// configuration deserialized and checked.
pub fn points(
    origin: &str,
    text: &str,
    base: &Table,
    strategies: &Table,
    axes: &[Axis],
) -> Result<Vec<Point>, ExperimentError> {
    let total: usize = axes.iter().map(|a| a.values.len()).product();
    if total > 1_000_000 {
        return Err(ExperimentError::at_key(
            origin,
            text,
            "sweep",
            format!("{total} points is more than 1000000"),
        ));
    }
    let mut points = Vec::with_capacity(total);
    for i in 0..total {
        // Mixed-radix digits of i, last axis fastest.
        let mut rest = i;
        let mut pick = vec![0; axes.len()];
        for (a, axis) in axes.iter().enumerate().rev() {
            pick[a] = rest % axis.values.len();
            rest /= axis.values.len();
        }
        let mut table = base.clone();
        // (dotted key, where it came from) for blame.
        let mut set_by: Vec<(String, String)> = Vec::new();
        for (a, axis) in axes.iter().enumerate() {
            let v = &axis.values[pick[a]];
            if axis.key == "strategy" {
                let name = v.as_str().unwrap_or_default();
                if let Some(Value::Table(overlay)) = strategies.get(name) {
                    for (k, ov) in overlay {
                        let src = format!("strategies.{name}.{k}");
                        set_path(&mut table, k, ov.clone())
                            .map_err(|m| ExperimentError::at_key(origin, text, &src, m))?;
                        set_by.push((k.clone(), src));
                    }
                }
            } else {
                let src = format!("sweep.{}", axis.key);
                set_path(&mut table, &axis.key, v.clone())
                    .map_err(|m| ExperimentError::at_key(origin, text, &src, m))?;
                set_by.push((axis.key.clone(), format!("{src} = {}", label(v))));
            }
        }
        let params: Vec<(String, String)> = axes
            .iter()
            .enumerate()
            .map(|(a, axis)| (axis.key.clone(), axis.labels[pick[a]].clone()))
            .collect();
        let point_name = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(", ");
        if let Some((key, message)) = missing_required(&table) {
            return Err(blame(origin, text, &set_by, &point_name, Some(&key), message));
        }
        // `warmup = "auto"` is resolved per point, from its own clocks.
        let auto_warmup = matches!(table.get("warmup"), Some(Value::String(s)) if s == super::AUTO);
        if auto_warmup {
            table.remove("warmup");
        }
        // `measure` stands in for `duration` until the warm-up is known.
        let measure = table.remove("measure");
        let measured = measure.is_some();
        if let Some(m) = measure {
            table.insert("duration".into(), m);
        }
        let mut config: RunConfig =
            Value::Table(table.clone()).try_into().map_err(|e: toml::de::Error| {
                let key = key_of_error(&table)
                    .map(|k| if measured && k == "duration" { "measure".into() } else { k });
                let message = humanize_for(e.message().trim(), key.as_deref());
                blame(origin, text, &set_by, &point_name, key.as_deref(), message)
            })?;
        if measured {
            // Here `duration` holds the measured window.
            if config.duration == crate::engine::SimDuration::ZERO {
                let message = "must be longer than 0s: the measured window of each run".to_string();
                return Err(blame(origin, text, &set_by, &point_name, Some("measure"), message));
            }
            if auto_warmup {
                config.warmup = super::settling::auto_warmup(&config);
            }
            config.duration = config.warmup + config.duration + config.drain;
        } else if auto_warmup {
            config.warmup = super::settling::auto_warmup(&config);
            if config.warmup + config.drain >= config.duration {
                let message = format!(
                    "\"auto\" needs a warm-up of {}{} (the slowest clock: a request's lifetime after the \
                     attack starts, or TIME-WAIT's after the clients start), not shorter than duration ({}) \
                     less drain ({}): make duration longer than {}",
                    config.warmup,
                    if point_name.is_empty() { String::new() } else { format!(" at point {point_name}") },
                    config.duration,
                    config.drain,
                    config.warmup + config.drain
                );
                return Err(blame(origin, text, &set_by, &point_name, Some("warmup"), message));
            }
        }
        check(&config)
            .map_err(|(key, message)| blame(origin, text, &set_by, &point_name, Some(&key), message))?;
        points.push(Point { params, config });
    }
    Ok(points)
}

/// Points an error at the sweep axis or strategy that set the key, or at
/// the key in the file.
fn blame(
    origin: &str,
    text: &str,
    set_by: &[(String, String)],
    point: &str,
    key: Option<&str>,
    message: String,
) -> ExperimentError {
    let from_sweep = set_by.iter().rev().find(|(k, _)| match key {
        Some(key) => key == k || key.starts_with(&format!("{k}.")),
        None => message.contains(&format!("`{}`", k.rsplit('.').next().unwrap_or(k))),
    });
    match (from_sweep, key) {
        (Some((k, src)), _) => {
            let src_key = src.split(" = ").next().unwrap_or(src);
            let mut e = ExperimentError::at_key(
                origin,
                text,
                src_key,
                format!("{message} (from {src}, point {point})"),
            );
            e.key = Some(key.unwrap_or(k).to_string());
            e
        }
        (None, Some(key)) => ExperimentError::at_key(origin, text, key, message),
        (None, None) => {
            let suffix = if point.is_empty() { String::new() } else { format!(" (point {point})") };
            ExperimentError::new(origin, format!("{message}{suffix}"))
        }
    }
}
