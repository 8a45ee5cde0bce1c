//! Running a study: the runs of an experiment in parallel (rayon), each
//! saved as it finishes so an interrupted study resumes, the outputs
//! written into a temporary folder renamed only when complete; shards for
//! clusters, and their merge into exactly what one machine writes.

use crate::experiment::{Experiment, RunSpec, memory};
use crate::output::charts;
use crate::output::folder::{self, Existing, Replace};
use crate::output::report;
use crate::output::results::{Manifest, Results, RunRecord};
use crate::sim::World;
use anyhow::{Context, Result, bail};
use rayon::prelude::*;
use std::collections::BTreeSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A deterministic share of a study's runs (point x replicate): those with
/// `run % count == index`, so even a one-point study of many replicates
/// spreads over every shard.
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

    /// Whether run `index` of the study belongs to this shard.
    pub fn holds(&self, run: u64) -> bool {
        run % self.count as u64 == self.index as u64
    }

    /// From a Slurm array (SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, of
    /// SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job
    /// (JOB_COMPLETION_INDEX, with `count` given).
    pub fn from_env(count: Option<u32>) -> Result<Option<Shard>> {
        Shard::from_vars(|k| std::env::var(k).ok().filter(|v| !v.is_empty()), count)
    }

    fn from_vars(var: impl Fn(&str) -> Option<String>, count: Option<u32>) -> Result<Option<Shard>> {
        let int = |name: &str, v: &str| -> Result<u32> {
            v.trim().parse().with_context(|| format!("{name}={v} is not a whole number"))
        };
        if let Some(id) = var("SLURM_ARRAY_TASK_ID") {
            let id = int("SLURM_ARRAY_TASK_ID", &id)?;
            let n = match var("SLURM_ARRAY_TASK_COUNT") {
                Some(n) => int("SLURM_ARRAY_TASK_COUNT", &n)?,
                None => count.context(
                    "SLURM_ARRAY_TASK_ID is set but not SLURM_ARRAY_TASK_COUNT: pass --shard-count",
                )?,
            };
            // `--array=1-16` numbers tasks from 1: the shard is the offset from the first.
            let min = match var("SLURM_ARRAY_TASK_MIN") {
                Some(m) => int("SLURM_ARRAY_TASK_MIN", &m)?,
                None => 0,
            };
            return match id.checked_sub(min) {
                Some(index) if n > 0 && index < n => Ok(Some(Shard { index, count: n })),
                _ => bail!(
                    "SLURM_ARRAY_TASK_ID={id} is outside the array: with SLURM_ARRAY_TASK_MIN={min} and \
                     SLURM_ARRAY_TASK_COUNT={n} it must be from {min} to {} (arrays with a step, \
                     --array=0-30:2, are not supported: use a contiguous range)",
                    (min + n).saturating_sub(1)
                ),
            };
        }
        if let Some(idx) = var("JOB_COMPLETION_INDEX") {
            let n =
                count.context("JOB_COMPLETION_INDEX is set: pass --shard-count (the Job's completions)")?;
            let index = int("JOB_COMPLETION_INDEX", &idx)?;
            if n == 0 || index >= n {
                bail!("JOB_COMPLETION_INDEX={index} is not below --shard-count {n}");
            }
            return Ok(Some(Shard { index, count: n }));
        }
        Ok(None)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

pub use crate::progress::Progress;
use crate::progress::Reporter;

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
    /// Move aside a folder at `out` that is not a synsim result, and run
    /// even where the memory estimate says the study will not fit.
    pub force: bool,
}

impl RunOptions {
    /// A line for the user on stderr, unless quiet.
    fn note(&self, line: &str) {
        if self.progress != Progress::Quiet {
            crate::console::note(line);
        }
    }
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
            force: false,
        }
    }
}

/// Simulates one run.
pub fn run_one(spec: &RunSpec, wall_clock: bool) -> RunRecord {
    run_watched(spec, wall_clock, None)
}

/// Simulates one run, reporting its progress to `watch`.
fn run_watched(spec: &RunSpec, wall_clock: bool, watch: Option<&crate::sim::RunWatch>) -> RunRecord {
    let start = Instant::now();
    let outcome = World::new(&spec.config, spec.seed, spec.replicate as u64).run_watched(watch);
    let wall = if wall_clock { start.elapsed().as_secs_f64() } else { 0.0 };
    let mut metrics: Vec<(String, f64)> =
        outcome.metrics().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
    let settling = crate::experiment::settling::settling(&spec.config);
    metrics.push(("settling_syn_queue_s".into(), settling.syn_queue.unwrap_or(0.0)));
    metrics.push(("settling_syn_queue_wave_s".into(), settling.syn_queue_wave.unwrap_or(0.0)));
    metrics.push(("settling_time_wait_s".into(), settling.time_wait.unwrap_or(0.0)));
    metrics.push(("settling_wheel_drift_s".into(), settling.wheel_drift.unwrap_or(0.0)));
    metrics.push(("settling_proven_peers_s".into(), settling.proven_peers.unwrap_or(0.0)));
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

/// Writes data, charts and report into `partial`, then puts it at `out`.
/// Returns where a foreign folder at `out` was moved (`--force`).
fn finish(results: &Results, partial: &Path, out: &Path, replace: &Replace) -> Result<Option<PathBuf>> {
    results.write_data(partial)?;
    let drawn = charts::draw_all(results, partial).context("drawing the charts")?;
    report::write(results, &drawn, partial).context("writing the report")?;
    for scratch in [folder::JOURNAL, folder::PARTIAL_MARKER] {
        let _ = std::fs::remove_file(partial.join(scratch));
    }
    folder::install(partial, out, replace)
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
    /// `--resume` found the study complete and did nothing.
    pub already_complete: bool,
    /// A previous synsim result at `out` was replaced.
    pub replaced_previous: bool,
    /// Where `--force` moved a folder that was not a synsim result.
    pub moved_aside: Option<PathBuf>,
}

/// The journal of finished runs and how many it holds, behind one lock so
/// an interruption never cuts a line.
type Journal = Arc<Mutex<(std::io::BufWriter<std::fs::File>, usize)>>;

/// The study this process is running, for the Ctrl-C message.
struct Active {
    journal: Journal,
    total: usize,
    partial: PathBuf,
    lock: PathBuf,
}

static ACTIVE: Mutex<Option<Active>> = Mutex::new(None);

/// For a Ctrl-C handler: waits for any journal line being written, removes
/// the study's lock, and returns the one line to print. The process is
/// expected to exit right after.
pub fn interrupted() -> String {
    let active = ACTIVE.lock().unwrap_or_else(|p| p.into_inner());
    let Some(a) = active.as_ref() else { return "synsim: interrupted".into() };
    let journal = a.journal.lock().unwrap_or_else(|p| p.into_inner());
    let kept = journal.1;
    // The journal's lock stays held: no run is recorded after this count.
    std::mem::forget(journal);
    let _ = std::fs::remove_file(&a.lock);
    format!(
        "synsim: interrupted: {kept} of {} runs are kept in {}; the same command with --resume continues",
        a.total,
        a.partial.display()
    )
}

/// Runs an experiment (or its shard) into `out`.
pub fn execute(exp: &Experiment, out: &Path, opts: &RunOptions) -> Result<StudySummary> {
    let start = Instant::now();
    let mut specs = exp.runs();
    if let Some(s) = opts.shard {
        specs.retain(|r| s.holds(r.index));
        if specs.is_empty() {
            opts.note(&format!(
                "synsim: shard {s} has no runs (the study has {} runs in all); writing an empty shard folder for merge",
                exp.runs().len()
            ));
        }
    }
    // Memory before anything is written: a study that cannot fit leaves nothing behind.
    let threads = thread_count(opts, &specs)?;
    let (lock, stale, partial) = folder::begin(out)?;
    if let Some(stale) = stale {
        opts.note(&stale);
    }
    let summary = |runs: usize, resumed: usize| StudySummary {
        out: out.to_path_buf(),
        runs,
        resumed,
        events: 0,
        wall_s: start.elapsed().as_secs_f64(),
        already_complete: false,
        replaced_previous: false,
        moved_aside: None,
    };
    let shard_text = opts.shard.map(|s| s.to_string());
    if opts.resume && !partial.exists() {
        if let Existing::Result(m) = Existing::at(out) {
            if m.experiment == exp.text && m.shard == shard_text {
                return Ok(StudySummary { already_complete: true, ..summary(specs.len(), specs.len()) });
            }
            bail!(
                "{} holds a complete study of {}: there is nothing to resume; run without --resume to \
                 replace it",
                out.display(),
                if m.experiment != exp.text { "a different experiment text" } else { "another shard" }
            );
        }
    }
    let replace = folder::plan(out, opts.force)?;
    if let Replace::MoveAside(to) = &replace {
        opts.note(&format!(
            "synsim: --force: {} is not a synsim result; it will be moved to {} when the study is complete",
            out.display(),
            to.display()
        ));
    }
    let journal = partial.join(folder::JOURNAL);
    let mut done: Vec<RunRecord> = Vec::new();
    let previous_text = std::fs::read_to_string(partial.join(folder::PARTIAL_MARKER)).ok();
    if opts.resume && partial.exists() {
        if previous_text.as_deref() != Some(exp.text.as_str()) {
            bail!(
                "{} holds runs of a different experiment text: --fresh discards them and starts over",
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
                let advice = if previous_text.as_deref() == Some(exp.text.as_str()) {
                    "--resume continues it, --fresh discards them"
                } else {
                    "they come from a different experiment text: --fresh discards them"
                };
                bail!(
                    "{} holds {finished} finished runs of an interrupted study: {advice}",
                    partial.display()
                );
            }
        }
        folder::start_partial(&partial, &exp.text)?;
    }
    let resumed = done.len();
    let finished: BTreeSet<u64> = done.iter().map(|r| r.run).collect();
    let todo: Vec<&RunSpec> = specs.iter().filter(|s| !finished.contains(&s.index)).collect();
    let threads = threads.min(todo.len()).max(1);

    let journal_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&journal)
        .with_context(|| format!("opening {}", journal.display()))?;
    let journal_file: Journal = Arc::new(Mutex::new((std::io::BufWriter::new(journal_file), resumed)));
    let total = specs.len();
    *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = Some(Active {
        journal: journal_file.clone(),
        total,
        partial: partial.clone(),
        lock: lock.path().to_path_buf(),
    });
    let reporter = Reporter::new(opts.progress, todo.iter().map(|s| &s.config), total, resumed);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let new = pool.install(|| {
        todo.par_iter()
            .enumerate()
            .map(|(i, spec)| -> Result<RunRecord> {
                let rec = run_watched(spec, opts.wall_clock, Some(reporter.watch(i)));
                let line = serde_json::to_string(&rec)?;
                {
                    let mut j = journal_file.lock().expect("journal lock");
                    writeln!(j.0, "{line}")?;
                    j.0.flush()?;
                    j.1 += 1;
                }
                reporter.done(i, rec.metric("events").unwrap_or(0.0) as u64);
                Ok(rec)
            })
            .collect::<Result<Vec<_>>>()
    });
    *ACTIVE.lock().unwrap_or_else(|p| p.into_inner()) = None;
    reporter.finish();
    let new = new.with_context(|| format!("recording a finished run in {}", journal.display()))?;
    drop(journal_file);
    let events: u64 = new.iter().map(|r| r.metric("events").unwrap_or(0.0) as u64).sum();
    done.extend(new);
    done.sort_by_key(|r| r.run);
    let wall_s = if opts.wall_clock { start.elapsed().as_secs_f64() } else { 0.0 };
    let m = manifest(exp, &done, opts.shard, wall_s, if opts.wall_clock { threads } else { 0 });
    let results = Results { manifest: m, runs: done };
    let moved_aside = finish(&results, &partial, out, &replace)?;
    drop(lock);
    Ok(StudySummary {
        events,
        replaced_previous: replace == Replace::PreviousResult,
        moved_aside,
        ..summary(total, resumed)
    })
}

/// The most worker threads a study gets: more than the machine's CPUs only
/// adds threads that wait (and `--threads 100000` would start that many).
pub fn max_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// Threads for a study's runs: the user's count (at least 1, at most the
/// CPUs), lowered where the runs' estimated peak memory would not fit side
/// by side.
fn thread_count(opts: &RunOptions, specs: &[RunSpec]) -> Result<usize> {
    let cpus = max_threads();
    let mut threads = match opts.threads {
        Some(0) => bail!("--threads must be at least 1"),
        Some(n) if n > cpus => {
            opts.note(&format!(
                "synsim: --threads {n} is more than the {cpus} CPUs here can use; using {cpus}"
            ));
            cpus
        }
        Some(n) => n,
        None => cpus,
    };
    threads = threads.min(specs.len()).max(1);
    let fit = memory::fit(specs.iter().map(|s| &s.config), threads, memory::available(), opts.force)?;
    if let Some(line) = &fit.note {
        opts.note(line);
    }
    Ok(fit.threads)
}

/// Joins shard folders into what one machine would have written.
pub fn merge(dirs: &[PathBuf], out: &Path, force: bool) -> Result<MergeSummary> {
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
    let (lock, stale, partial) = folder::begin(out)?;
    let replace = folder::plan(out, force)?;
    folder::start_partial(&partial, &results.manifest.experiment)?;
    let moved_aside = finish(&results, &partial, out, &replace)?;
    drop(lock);
    Ok(MergeSummary { stale_lock: stale, replaced_previous: replace == Replace::PreviousResult, moved_aside })
}

/// What a merge did besides writing `out`.
#[derive(Clone, Debug)]
pub struct MergeSummary {
    pub stale_lock: Option<String>,
    pub replaced_previous: bool,
    pub moved_aside: Option<PathBuf>,
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
