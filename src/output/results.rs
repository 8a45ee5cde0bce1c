//! A study's results in memory, and their files: summary.csv,
//! timeseries.csv, connect_time.csv and manifest.json. Everything the
//! charts and the report need is in those files, so `synsim plot` and
//! `synsim report` redraw from them alone, and shards merge through them.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One finished run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run: u64,
    pub point: u64,
    pub replicate: u32,
    pub seed: u64,
    /// (axis key, value) in axis order.
    pub params: Vec<(String, String)>,
    /// Summary metrics, same names and order in every run (NaN where
    /// undefined, e.g. a percentile of no connection).
    #[serde(with = "nan_safe::pairs")]
    pub metrics: Vec<(String, f64)>,
    pub series_columns: Vec<String>,
    /// Per time bin: (end of bin in s, values).
    #[serde(with = "nan_safe::rows")]
    pub series: Vec<(f64, Vec<f64>)>,
    /// Connect-time histogram: (upper bound in ms, count), empty buckets omitted.
    pub connect_hist: Vec<(f64, u64)>,
}

impl RunRecord {
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics.iter().find(|(n, _)| n == name).map(|(_, v)| *v)
    }
}

/// What manifest.json records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub name: String,
    pub description: String,
    /// The experiment file's path as given (or the embedded default's name).
    pub origin: String,
    pub synsim_version: String,
    pub seed: u64,
    pub replicates: u32,
    /// Sweep axes: key and values, in order.
    pub axes: Vec<(String, Vec<String>)>,
    /// Runs in the whole study.
    pub total_runs: u64,
    /// Runs in this folder (fewer for a shard).
    pub runs_here: u64,
    /// `K/N` when this folder holds one shard.
    pub shard: Option<String>,
    /// Wall-clock seconds, and threads used (0 when written without wall clock).
    pub wall_s: f64,
    pub threads: usize,
    /// Each run's seed, by run index (of the runs here).
    pub seeds: Vec<(u64, u64)>,
    /// The experiment file's text.
    pub experiment: String,
}

/// A study's results: the manifest and the runs, ordered by run index.
#[derive(Clone, Debug, PartialEq)]
pub struct Results {
    pub manifest: Manifest,
    pub runs: Vec<RunRecord>,
}

/// Numbers as CSV writes them: integers without ".0", floats in their
/// shortest round-trip form, NaN as "NaN" (so files repeat byte for byte
/// and parse back to the same value).
pub fn fmt_num(v: f64) -> String {
    if v.is_finite() && v == v.trunc() && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

fn param_keys(results: &Results) -> Vec<String> {
    results.manifest.axes.iter().map(|(k, _)| k.clone()).collect()
}

impl Results {
    /// Writes summary.csv, timeseries.csv, connect_time.csv, manifest.json.
    pub fn write_data(&self, dir: &Path) -> Result<()> {
        let keys = param_keys(self);
        let io = |f: &str| format!("writing {}", dir.join(f).display());
        // summary.csv
        let mut w = csv::Writer::from_path(dir.join("summary.csv")).with_context(|| io("summary.csv"))?;
        let metric_names: Vec<String> =
            self.runs.first().map(|r| r.metrics.iter().map(|(n, _)| n.clone()).collect()).unwrap_or_default();
        let mut header = vec!["run".to_string()];
        header.extend(keys.iter().cloned());
        header.extend(["replicate".to_string(), "seed".to_string()]);
        header.extend(metric_names.iter().cloned());
        w.write_record(&header)?;
        for r in &self.runs {
            let mut row = vec![r.run.to_string()];
            row.extend(r.params.iter().map(|(_, v)| v.clone()));
            row.extend([r.replicate.to_string(), r.seed.to_string()]);
            row.extend(r.metrics.iter().map(|(_, v)| fmt_num(*v)));
            w.write_record(&row)?;
        }
        w.flush()?;
        // timeseries.csv
        let mut w =
            csv::Writer::from_path(dir.join("timeseries.csv")).with_context(|| io("timeseries.csv"))?;
        let columns: Vec<String> = self.runs.first().map(|r| r.series_columns.clone()).unwrap_or_default();
        let mut header = vec!["run".to_string()];
        header.extend(keys.iter().cloned());
        header.extend(["replicate".to_string(), "t_s".to_string()]);
        header.extend(columns.iter().cloned());
        w.write_record(&header)?;
        for r in &self.runs {
            for (t, values) in &r.series {
                let mut row = vec![r.run.to_string()];
                row.extend(r.params.iter().map(|(_, v)| v.clone()));
                row.extend([r.replicate.to_string(), fmt_num(*t)]);
                row.extend(values.iter().map(|v| fmt_num(*v)));
                w.write_record(&row)?;
            }
        }
        w.flush()?;
        // connect_time.csv
        let mut w =
            csv::Writer::from_path(dir.join("connect_time.csv")).with_context(|| io("connect_time.csv"))?;
        let mut header = vec!["run".to_string()];
        header.extend(keys.iter().cloned());
        header.extend(["replicate".to_string(), "le_ms".to_string(), "count".to_string()]);
        w.write_record(&header)?;
        for r in &self.runs {
            for (le, count) in &r.connect_hist {
                let mut row = vec![r.run.to_string()];
                row.extend(r.params.iter().map(|(_, v)| v.clone()));
                row.extend([r.replicate.to_string(), fmt_num(*le), count.to_string()]);
                w.write_record(&row)?;
            }
        }
        w.flush()?;
        let json = serde_json::to_string_pretty(&self.manifest)? + "\n";
        std::fs::write(dir.join("manifest.json"), json).with_context(|| io("manifest.json"))?;
        Ok(())
    }

    /// Reads a results folder back.
    pub fn read(dir: &Path) -> Result<Results> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{} is not a synsim results folder (no manifest.json)", dir.display())
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a synsim manifest", path.display()))?;
        let nkeys = manifest.axes.len();
        let keys: Vec<String> = manifest.axes.iter().map(|(k, _)| k.clone()).collect();
        let num = |s: &str, file: &str| -> Result<f64> {
            s.parse::<f64>().with_context(|| format!("{}: `{s}` is not a number", dir.join(file).display()))
        };
        let mut runs: Vec<RunRecord> = Vec::new();
        let mut rd = csv::Reader::from_path(dir.join("summary.csv"))
            .with_context(|| format!("reading {}", dir.join("summary.csv").display()))?;
        let header: Vec<String> = rd.headers()?.iter().map(String::from).collect();
        if header.len() < 3 + nkeys || header[0] != "run" {
            bail!("{}: unexpected header", dir.join("summary.csv").display());
        }
        let metric_names = header[3 + nkeys..].to_vec();
        for row in rd.records() {
            let row = row?;
            let run: u64 = row[0].parse()?;
            runs.push(RunRecord {
                run,
                point: 0,
                replicate: row[1 + nkeys].parse()?,
                seed: row[2 + nkeys].parse()?,
                params: keys.iter().cloned().zip(row.iter().skip(1).take(nkeys).map(String::from)).collect(),
                metrics: metric_names
                    .iter()
                    .cloned()
                    .zip(row.iter().skip(3 + nkeys).map(|s| num(s, "summary.csv")))
                    .map(|(n, v)| v.map(|v| (n, v)))
                    .collect::<Result<_>>()?,
                series_columns: Vec::new(),
                series: Vec::new(),
                connect_hist: Vec::new(),
            });
        }
        let index: std::collections::HashMap<u64, usize> =
            runs.iter().enumerate().map(|(i, r)| (r.run, i)).collect();
        let mut rd = csv::Reader::from_path(dir.join("timeseries.csv"))
            .with_context(|| format!("reading {}", dir.join("timeseries.csv").display()))?;
        let columns: Vec<String> = rd.headers()?.iter().skip(3 + nkeys).map(String::from).collect();
        for r in runs.iter_mut() {
            r.series_columns = columns.clone();
        }
        for row in rd.records() {
            let row = row?;
            let run: u64 = row[0].parse()?;
            let Some(&i) = index.get(&run) else {
                bail!("timeseries.csv names run {run}, absent from summary.csv")
            };
            let t = num(&row[2 + nkeys], "timeseries.csv")?;
            let values =
                row.iter().skip(3 + nkeys).map(|s| num(s, "timeseries.csv")).collect::<Result<_>>()?;
            runs[i].series.push((t, values));
        }
        let mut rd = csv::Reader::from_path(dir.join("connect_time.csv"))
            .with_context(|| format!("reading {}", dir.join("connect_time.csv").display()))?;
        for row in rd.records() {
            let row = row?;
            let run: u64 = row[0].parse()?;
            let Some(&i) = index.get(&run) else {
                bail!("connect_time.csv names run {run}, absent from summary.csv")
            };
            runs[i].connect_hist.push((num(&row[2 + nkeys], "connect_time.csv")?, row[3 + nkeys].parse()?));
        }
        // Point index from the run index (point-major order).
        let replicates = manifest.replicates.max(1) as u64;
        for r in runs.iter_mut() {
            r.point = r.run / replicates;
        }
        Ok(Results { manifest, runs })
    }
}

/// JSON has no NaN: numbers are written as CSV writes them, in strings, so
/// the run journal round-trips every value exactly.
mod nan_safe {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    fn parse<E: serde::de::Error>(s: &str) -> Result<f64, E> {
        s.parse().map_err(|_| E::custom(format!("`{s}` is not a number")))
    }

    pub mod pairs {
        use super::*;
        pub fn serialize<S: Serializer>(v: &[(String, f64)], s: S) -> Result<S::Ok, S::Error> {
            v.iter().map(|(k, x)| (k.as_str(), super::super::fmt_num(*x))).collect::<Vec<_>>().serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, f64)>, D::Error> {
            Vec::<(String, String)>::deserialize(d)?.into_iter().map(|(k, x)| Ok((k, parse(&x)?))).collect()
        }
    }

    pub mod rows {
        use super::*;
        type Rows = Vec<(f64, Vec<f64>)>;
        pub fn serialize<S: Serializer>(v: &Rows, s: S) -> Result<S::Ok, S::Error> {
            let f = super::super::fmt_num;
            v.iter()
                .map(|(t, xs)| (f(*t), xs.iter().map(|x| f(*x)).collect::<Vec<_>>()))
                .collect::<Vec<_>>()
                .serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Rows, D::Error> {
            Vec::<(String, Vec<String>)>::deserialize(d)?
                .into_iter()
                .map(|(t, xs)| Ok((parse(&t)?, xs.iter().map(|x| parse(x)).collect::<Result<_, _>>()?)))
                .collect()
        }
    }
}
