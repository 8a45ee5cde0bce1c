//! Experiment files: a TOML description of a study, validated completely
//! before any run starts, expanded into runs (sweep points x replicates).
//!
//! The file is read twice over: once typed as a whole (so serde's errors
//! carry a position), then, for every sweep point, as a TOML table with the
//! strategy overlay and the axis values written into it by dotted path and
//! deserialized into a [`RunConfig`]. Values that came from the sweep are
//! blamed on the axis that set them.

mod error;
pub mod memory;
pub mod settling;
mod sweep;
mod validate;

pub use error::ExperimentError;
pub use sweep::Axis;

use crate::config::RunConfig;
use crate::engine::rng::mix64;
use std::path::Path;
use toml::{Table, Value};

/// The default experiment, embedded in the binary: `synsim run` with no file.
pub const DEFAULT_EXPERIMENT: &str = include_str!("../../experiments/defenses.toml");
pub const DEFAULT_ORIGIN: &str = "experiments/defenses.toml (embedded)";

/// Keys of the file outside the run configuration.
const META_KEYS: [&str; 6] = ["name", "description", "seed", "replicates", "strategies", "sweep"];
/// Keys that make up one run's configuration.
const RUN_KEYS: [&str; 10] =
    ["duration", "measure", "warmup", "drain", "bin", "hz", "network", "server", "clients", "attackers"];

/// A validated experiment.
#[derive(Clone, Debug)]
pub struct Experiment {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub replicates: u32,
    /// Where it came from, as messages name it.
    pub origin: String,
    /// The file's text, copied into manifest.json.
    pub text: String,
    pub axes: Vec<Axis>,
    points: Vec<Point>,
}

/// One point of the sweep: axis values and the configuration they give.
#[derive(Clone, Debug)]
pub struct Point {
    pub params: Vec<(String, String)>,
    pub config: RunConfig,
}

/// One run: a point and a replicate.
#[derive(Clone, Debug)]
pub struct RunSpec {
    pub index: u64,
    pub point: u64,
    pub replicate: u32,
    /// The run's seed. Replicate r of every point shares it (common random
    /// numbers), so strategies are compared on the same arrivals and losses.
    pub seed: u64,
    pub params: Vec<(String, String)>,
    pub config: RunConfig,
}

impl Experiment {
    /// Reads and validates an experiment file.
    pub fn load(path: &Path) -> Result<Experiment, ExperimentError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ExperimentError::new(&origin, format!("cannot read the experiment file: {e}")))?;
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("experiment");
        Experiment::parse(&text, &origin, stem)
    }

    /// Validates experiment text; `origin` names it in messages and
    /// `default_name` is used when the file sets no `name`.
    pub fn parse(text: &str, origin: &str, default_name: &str) -> Result<Experiment, ExperimentError> {
        let err = |e: toml::de::Error| ExperimentError::from_toml(origin, text, &e);
        let doc: Table = toml::from_str(text).map_err(err)?;
        for key in doc.keys() {
            if !META_KEYS.contains(&key.as_str()) && !RUN_KEYS.contains(&key.as_str()) {
                let allowed: Vec<&str> = RUN_KEYS.iter().chain(META_KEYS.iter()).copied().collect();
                return Err(ExperimentError::unknown_key(origin, text, "", key, &allowed));
            }
        }
        // The whole file, typed: serde's errors here carry positions. A
        // missing field may still come from the sweep: checked per point.
        if let Err(e) = toml::from_str::<FileSchema>(text)
            && !e.message().starts_with("missing field")
        {
            return Err(err(e));
        }

        let meta = |key: &str| doc.get(key);
        let name = match meta("name") {
            Some(Value::String(s)) if is_safe_name(s) => s.clone(),
            Some(v) => {
                return Err(ExperimentError::at_key(
                    origin,
                    text,
                    "name",
                    format!("must be a folder name of letters, digits, '-', '_' or '.' (got {v})"),
                ));
            }
            None => default_name.to_string(),
        };
        let description = meta("description").and_then(Value::as_str).unwrap_or("").to_string();
        let seed = match meta("seed") {
            None => 1,
            Some(Value::Integer(s)) if *s >= 0 => *s as u64,
            Some(v) => {
                return Err(ExperimentError::at_key(
                    origin,
                    text,
                    "seed",
                    format!("must be an integer >= 0 (got {v})"),
                ));
            }
        };
        let replicates = match meta("replicates") {
            None => 1,
            Some(Value::Integer(r)) if (1..=100_000).contains(r) => *r as u32,
            Some(v) => {
                return Err(ExperimentError::at_key(
                    origin,
                    text,
                    "replicates",
                    format!("must be an integer from 1 to 100000 (got {v})"),
                ));
            }
        };

        let mut base = Table::new();
        for key in RUN_KEYS {
            if let Some(v) = doc.get(key) {
                base.insert(key.to_string(), v.clone());
            }
        }
        let strategies = match doc.get("strategies") {
            Some(Value::Table(t)) => t.clone(),
            _ => Table::new(),
        };
        let sweep_table = match doc.get("sweep") {
            Some(Value::Table(t)) => t.clone(),
            _ => Table::new(),
        };
        let axes = sweep::axes(origin, text, &base, &sweep_table, &strategies)?;
        let points = sweep::points(origin, text, &base, &strategies, &axes)?;
        Ok(Experiment {
            name,
            description,
            seed,
            replicates,
            origin: origin.to_string(),
            text: text.to_string(),
            axes,
            points,
        })
    }

    pub fn points(&self) -> &[Point] {
        &self.points
    }

    /// Every run, in index order: point-major, replicate-minor.
    pub fn runs(&self) -> Vec<RunSpec> {
        let mut runs = Vec::with_capacity(self.points.len() * self.replicates as usize);
        for (p, point) in self.points.iter().enumerate() {
            for r in 0..self.replicates {
                runs.push(RunSpec {
                    index: runs.len() as u64,
                    point: p as u64,
                    replicate: r,
                    seed: mix64(mix64(self.seed) ^ r as u64),
                    params: point.params.clone(),
                    config: point.config.clone(),
                });
            }
        }
        runs
    }
}

fn is_safe_name(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// The file as a whole, for serde's positioned errors (`deny_unknown_fields`
/// at every level, so a misspelt key is caught where it stands).
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct FileSchema {
    name: Option<Value>,
    description: Option<String>,
    seed: Option<Value>,
    replicates: Option<Value>,
    strategies: Option<Table>,
    sweep: Option<Table>,
    duration: Option<crate::engine::SimDuration>,
    measure: Option<crate::engine::SimDuration>,
    warmup: Option<WarmupForm>,
    drain: Option<crate::engine::SimDuration>,
    bin: Option<crate::engine::SimDuration>,
    hz: Option<u32>,
    network: Option<crate::config::NetworkConfig>,
    server: Option<crate::config::ServerConfig>,
    clients: Option<std::collections::BTreeMap<String, crate::config::ClientConfig>>,
    attackers: Option<std::collections::BTreeMap<String, crate::config::AttackerConfig>>,
}

/// `warmup = "auto"`: each point's warm-up is its slowest clock
/// (`settling::auto_warmup`).
const AUTO: &str = "auto";

/// `warmup` as the file writes it: a duration or "auto".
#[allow(dead_code)]
enum WarmupForm {
    Fixed(crate::engine::SimDuration),
    Auto,
}

impl<'de> serde::Deserialize<'de> for WarmupForm {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        match Value::deserialize(d)? {
            Value::String(s) if s == AUTO => Ok(WarmupForm::Auto),
            v => crate::engine::SimDuration::deserialize(v).map(WarmupForm::Fixed).map_err(|e| {
                D::Error::custom(format!("{}; or \"auto\" (the slowest clock of each point)", e.message()))
            }),
        }
    }
}

#[cfg(test)]
mod tests;
