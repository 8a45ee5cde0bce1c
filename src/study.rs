//! Running a study: the runs of an experiment in parallel (rayon), each
//! saved as it finishes so an interrupted study resumes, the outputs
//! written into a temporary folder renamed only when complete; shards for
//! clusters, and their merge into exactly what one machine writes.

use crate::experiment::{Experiment, RunSpec};
use crate::output::charts;
use crate::output::report;
use crate::output::results::{Manifest, Results, RunRecord};
use crate::sim::World;
use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

/// A deterministic share of a study's points: those with `point % count == index`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Parses `K/N` (0 <= K < N).
    pub fn parse(text: &str) -> Result<Shard> {
        let bad = || anyhow::anyhow!("--shard takes K/N with 0 <= K < N, e.g. 0/4 (got `{text}`)");
        let (k, n) = text.split_once('/').ok_or_else(bad)?;
        let (index, count) = (k.trim().parse().map_err(|_| bad())?, n.trim().parse().map_err(|_| bad())?);
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// From a Slurm array (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a
    /// Kubernetes Indexed Job (JOB_COMPLETION_INDEX, with `count` given).
    pub fn from_env(count: Option<u32>) -> Result<Option<Shard>> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
            let n = match var("SLURM_ARRAY_TASK_COUNT") {
                Some(n) => n,
                None => count.map(|c| c.to_string()).context(
                    "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: pass --shard-count",
                )?,
            };
            // Arrays usually start at 0; one starting at 1 (--array=1-N) maps N to 0.
            let (id, n): (u32, u32) =
                (id.parse().context("SLURM_ARRAY_TASK_ID")?, n.parse().context("SLURM_ARRAY_TASK_COUNT")?);
            return Shard::parse(&format!("{}/{n}", id % n.max(1))).map(Some);
        }
        if let Some(idx) = var("JOB_COMPLETION_INDEX") {
            let n =
                count.context("JOB_COMPLETION_INDEX is set: pass --shard-count (the Job's completions)")?;
            return Shard::parse(&format!("{idx}/{n}")).map(Some);
        }
        Ok(None)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Progress {
    /// A bar when stderr is a terminal, lines otherwise.
    Auto,
    Bar,
    Lines,
    Quiet,
}

#[derive(Clone, Debug)]
pub struct RunOptions {
    pub threads: Option<usize>,
    pub shard: Option<Shard>,
    pub resume: bool,
    /// Discard the finished runs of an interrupted study (without it, a
    /// study that would throw them away refuses to start).
    pub fresh: bool,
    pub progress: Progress,
    /// False: wall-clock figures are written as 0, so whole folders repeat
    /// byte for byte.
    pub wall_clock: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            threads: None,
            shard: None,
            resume: false,
            fresh: false,
            progress: Progress::Auto,
            wall_clock: true,
        }
    }
}

/// Simulates one run.
pub fn run_one(spec: &RunSpec, wall_clock: bool) -> RunRecord {
    let start = Instant::now();
    let outcome = World::new(&spec.config, spec.seed, spec.replicate as u64).run();
    let wall = if wall_clock { start.elapsed().as_secs_f64() } else { 0.0 };
    let mut metrics: Vec<(String, f64)> =
        outcome.metrics().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    metrics.push(("wall_s".into(), wall));
    RunRecord {
        run: spec.index,
        point: spec.point,
        replicate: spec.replicate,
        seed: spec.seed,
        params: spec.params.clone(),
        metrics,
        series_columns: outcome.series.columns.iter().map(|c| c.to_string()).collect(),
        series: outcome.series.rows.clone(),
        connect_hist: outcome.connect_time.buckets_ms(),
    }
}

fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "results".into());
    out.with_file_name(format!("{name}{suffix}"))
}

/// Writes data, charts and report into `partial`, then puts it at `out`.
fn finish(results: &Results, partial: &Path, out: &Path) -> Result<()> {
    results.write_data(partial)?;
    let drawn = charts::draw_all(results, partial).context("drawing the charts")?;
    report::write(results, &drawn, partial).context("writing the report")?;
    for scratch in ["runs.jsonl", "experiment.toml"] {
        let _ = std::fs::remove_file(partial.join(scratch));
    }
    let old = sibling(out, ".old");
    if out.exists() {
        let _ = std::fs::remove_dir_all(&old);
        std::fs::rename(out, &old).with_context(|| format!("moving the previous {} aside", out.display()))?;
    }
    std::fs::rename(partial, out)
        .with_context(|| format!("renaming {} to {}", partial.display(), out.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

fn manifest(
    exp: &Experiment,
    runs: &[RunRecord],
    shard: Option<Shard>,
    wall_s: f64,
    threads: usize,
) -> Manifest {
    let total_runs = exp.points().len() as u64 * exp.replicates as u64;
    Manifest {
        name: exp.name.clone(),
        description: exp.description.clone(),
        origin: exp.origin.clone(),
        synsim_version: env!("CARGO_PKG_VERSION").to_string(),
        seed: exp.seed,
        replicates: exp.replicates,
        axes: exp.axes.iter().map(|a| (a.key.clone(), a.labels.clone())).collect(),
        total_runs,
        runs_here: runs.len() as u64,
        shard: shard.map(|s| s.to_string()),
        wall_s,
        threads,
        seeds: runs.iter().map(|r| (r.run, r.seed)).collect(),
        experiment: exp.text.clone(),
    }
}

/// What a finished study reports back.
#[derive(Clone, Debug)]
pub struct StudySummary {
    pub out: PathBuf,
    pub runs: usize,
    pub resumed: usize,
    pub events: u64,
    pub wall_s: f64,
}

/// Runs an experiment (or its shard) into `out`.
pub fn execute(exp: &Experiment, out: &Path, opts: &RunOptions) -> Result<StudySummary> {
    let start = Instant::now();
    let mut specs = exp.runs();
    if let Some(s) = opts.shard {
        specs.retain(|r| r.point % s.count as u64 == s.index as u64);
    }
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let partial = sibling(out, ".partial");
    let journal = partial.join("runs.jsonl");
    let mut done: Vec<RunRecord> = Vec::new();
    if opts.resume && partial.exists() {
        let previous = std::fs::read_to_string(partial.join("experiment.toml")).unwrap_or_default();
        if previous != exp.text {
            bail!(
                "{} holds runs of a different experiment text: run without --resume to start over",
                partial.display()
            );
        }
        let wanted: BTreeSet<(u64, u64)> = specs.iter().map(|s| (s.index, s.seed)).collect();
        if let Ok(f) = std::fs::File::open(&journal) {
            for line in std::io::BufReader::new(f).lines() {
                // A line cut short by the interruption is simply run again.
                if let Ok(rec) = serde_json::from_str::<RunRecord>(&line?)
                    && wanted.contains(&(rec.run, rec.seed))
                    && !done.iter().any(|d| d.run == rec.run)
                {
                    done.push(rec);
                }
            }
        }
    } else {
        if partial.exists() {
            let finished = std::fs::read_to_string(&journal)
                .map(|j| j.lines().filter(|l| serde_json::from_str::<RunRecord>(l).is_ok()).count())
                .unwrap_or(0);
            if finished > 0 && !opts.fresh {
                bail!(
                    "{} holds {finished} finished runs of an interrupted study: --resume continues it, --fresh discards them",
                    partial.display()
                );
            }
            std::fs::remove_dir_all(&partial).with_context(|| format!("clearing {}", partial.display()))?;
        }
        std::fs::create_dir_all(&partial).with_context(|| format!("creating {}", partial.display()))?;
        std::fs::write(partial.join("experiment.toml"), &exp.text)?;
    }
    let resumed = done.len();
    let finished: BTreeSet<u64> = done.iter().map(|r| r.run).collect();
    let todo: Vec<&RunSpec> = specs.iter().filter(|s| !finished.contains(&s.index)).collect();

    let journal_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal)
        .with_context(|| format!("opening {}", journal.display()))?;
    let journal_file = Mutex::new(std::io::BufWriter::new(journal_file));
    let total = specs.len();
    let reporter = Reporter::new(opts.progress, total, resumed);
    let threads = opts.threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let new: Vec<RunRecord> = pool.install(|| {
        todo.par_iter()
            .map(|spec| -> Result<RunRecord> {
                let rec = run_one(spec, opts.wall_clock);
                let line = serde_json::to_string(&rec)?;
                {
                    let mut j = journal_file.lock().expect("journal lock");
                    writeln!(j, "{line}")?;
                    j.flush()?;
                }
                reporter.done(rec.metric("events").unwrap_or(0.0) as u64);
                Ok(rec)
            })
            .collect::<Result<Vec<_>>>()
    })?;
    reporter.finish();
    drop(journal_file);
    let events: u64 = new.iter().map(|r| r.metric("events").unwrap_or(0.0) as u64).sum();
    done.extend(new);
    done.sort_by_key(|r| r.run);
    let wall_s = if opts.wall_clock { start.elapsed().as_secs_f64() } else { 0.0 };
    let m = manifest(exp, &done, opts.shard, wall_s, if opts.wall_clock { threads } else { 0 });
    let results = Results { manifest: m, runs: done };
    finish(&results, &partial, out)?;
    Ok(StudySummary {
        out: out.to_path_buf(),
        runs: total,
        resumed,
        events,
        wall_s: start.elapsed().as_secs_f64(),
    })
}

/// Joins shard folders into what one machine would have written.
pub fn merge(dirs: &[PathBuf], out: &Path) -> Result<()> {
    if dirs.is_empty() {
        bail!("name the shard folders to merge");
    }
    let shards: Vec<Results> = dirs
        .iter()
        .map(|d| Results::read(d).with_context(|| format!("reading shard {}", d.display())))
        .collect::<Result<_>>()?;
    let first = &shards[0].manifest;
    let mut seen_shards = BTreeSet::new();
    let mut count = None;
    for (d, s) in dirs.iter().zip(&shards) {
        let m = &s.manifest;
        if m.experiment != first.experiment || m.seed != first.seed || m.replicates != first.replicates {
            bail!("{} comes from another experiment than {}", d.display(), dirs[0].display());
        }
        let Some(shard) = m.shard.as_deref().map(Shard::parse).transpose()? else {
            bail!("{} is not a shard (its manifest names none)", d.display());
        };
        if *count.get_or_insert(shard.count) != shard.count {
            bail!("{} is shard {shard}, but others split the study {} ways", d.display(), count.unwrap());
        }
        if !seen_shards.insert(shard.index) {
            bail!("shard {shard} is given twice ({})", d.display());
        }
    }
    let n = count.unwrap_or(1);
    let missing: Vec<String> =
        (0..n).filter(|k| !seen_shards.contains(k)).map(|k| format!("{k}/{n}")).collect();
    if !missing.is_empty() {
        bail!("missing shard(s): {}", missing.join(", "));
    }
    let mut runs: Vec<RunRecord> = shards.iter().flat_map(|s| s.runs.iter().cloned()).collect();
    runs.sort_by_key(|r| r.run);
    if runs.len() as u64 != first.total_runs || runs.windows(2).any(|w| w[0].run == w[1].run) {
        bail!("the shards hold {} runs, the study has {}", runs.len(), first.total_runs);
    }
    let mut manifest = first.clone();
    manifest.shard = None;
    manifest.runs_here = runs.len() as u64;
    manifest.wall_s = shards.iter().map(|s| s.manifest.wall_s).sum();
    manifest.threads = shards.iter().map(|s| s.manifest.threads).max().unwrap_or(0);
    manifest.seeds = runs.iter().map(|r| (r.run, r.seed)).collect();
    let results = Results { manifest, runs };
    let partial = sibling(out, ".partial");
    if partial.exists() {
        std::fs::remove_dir_all(&partial)?;
    }
    std::fs::create_dir_all(&partial)?;
    finish(&results, &partial, out)
}

/// Redraws the charts of a results folder from its CSV files.
pub fn plot(dir: &Path) -> Result<()> {
    let results = Results::read(dir)?;
    charts::draw_all(&results, dir)?;
    Ok(())
}

/// Rewrites the report (and charts it shows) from the CSV files.
pub fn report(dir: &Path) -> Result<()> {
    let results = Results::read(dir)?;
    let drawn = charts::draw_all(&results, dir)?;
    report::write(&results, &drawn, dir)
}

/// Progress on stderr: a bar on a terminal, lines otherwise.
struct Reporter {
    bar: Option<ProgressBar>,
    lines: bool,
    total: usize,
    done: Mutex<(usize, u64)>,
    start: Instant,
}

impl Reporter {
    fn new(mode: Progress, total: usize, resumed: usize) -> Reporter {
        let terminal = std::io::stderr().is_terminal();
        let (bar, lines) = match mode {
            Progress::Quiet => (false, false),
            Progress::Bar => (true, false),
            Progress::Lines => (false, true),
            Progress::Auto => (terminal, !terminal),
        };
        let bar = bar.then(|| {
            let b = ProgressBar::new(total as u64);
            b.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {msg}  ETA {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            b.set_position(resumed as u64);
            b
        });
        if lines && resumed > 0 {
            eprintln!("synsim: resuming: {resumed} of {total} runs already done");
        }
        Reporter { bar, lines, total, done: Mutex::new((resumed, 0)), start: Instant::now() }
    }

    fn done(&self, events: u64) {
        let mut d = self.done.lock().expect("progress lock");
        d.0 += 1;
        d.1 += events;
        let rate = d.1 as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        if let Some(b) = &self.bar {
            b.set_position(d.0 as u64);
            b.set_message(format!("{:.1}M events/s", rate / 1e6));
        } else if self.lines {
            let step = (self.total / 20).max(1);
            if d.0 % step == 0 || d.0 == self.total {
                eprintln!("synsim: run {}/{} done, {:.1}M events/s", d.0, self.total, rate / 1e6);
            }
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
