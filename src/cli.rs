//! Command-line arguments and what each command does.

use crate::console::note;
use crate::engine::SimDuration;
use crate::experiment::{DEFAULT_EXPERIMENT, DEFAULT_ORIGIN, Experiment};
use crate::net::DropRule;
use crate::scenarios::{self, SCENARIOS};
use crate::study::{self, Progress, RunOptions, Shard};
use crate::trace::ladder::Numbers;
use crate::trace::{RecordKind, Side, ladder_svg, ladder_text, write_pcap};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Parser, Debug)]
#[command(
    name = "synsim",
    version,
    about = "Discrete-event simulator of TCP connection setup and teardown at scale"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run an experiment file (or, with no file, the embedded default study).
    Run(RunArgs),
    /// Join shard folders into the folder one machine would have written.
    Merge(MergeArgs),
    /// Redraw the charts of a results folder from its CSV files.
    Plot { dir: PathBuf },
    /// Rewrite the report (and its charts) of a results folder from its CSV files.
    Report { dir: PathBuf },
    /// Trace one connection's life through a scenario: ladder, SVG, pcap.
    Trace(TraceArgs),
    /// Measure speed and memory: event queues, the flood study, 10 million hosts, sweep efficiency.
    Bench(BenchArgs),
}

#[derive(clap::Args, Debug, Default)]
pub struct RunArgs {
    /// The experiment file (TOML); the embedded default study if absent.
    pub file: Option<PathBuf>,
    /// Results folder (default: results/<name>, or results/<name>-shard-K-of-N).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per CPU; at most one per CPU).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Run only shard K of N (0-based): the runs with run % N == K.
    /// Also read from SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT (and
    /// SLURM_ARRAY_TASK_MIN) or JOB_COMPLETION_INDEX (Kubernetes Indexed
    /// Job, with --shard-count).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// The shard count when the environment gives only an index.
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u32>,
    /// Continue an interrupted run from the runs it finished.
    #[arg(long, conflicts_with = "fresh")]
    pub resume: bool,
    /// Start over, discarding the finished runs of an interrupted run.
    #[arg(long)]
    pub fresh: bool,
    /// Progress on stderr.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    pub progress: ProgressArg,
    /// Write 0 for wall-clock figures, so repeated runs give identical folders.
    #[arg(long)]
    pub no_wall_clock: bool,
    /// Write to --out even if it holds something that is not a synsim
    /// result (it is moved aside, never deleted), and run even if the
    /// memory estimate says the study will not fit.
    #[arg(long)]
    pub force: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProgressArg {
    #[default]
    Auto,
    Bar,
    Lines,
    Quiet,
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The shard folders.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where the merged study goes.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Write to --out even if it holds something that is not a synsim
    /// result (it is moved aside, never deleted).
    #[arg(long)]
    pub force: bool,
}

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Print one JSON object on stdout (progress goes nowhere).
    #[arg(long)]
    pub json: bool,
    /// Smaller sizes: a smoke run in seconds.
    #[arg(long)]
    pub quick: bool,
    /// Run one measurement in this process (used by bench itself).
    #[arg(long, hide = true)]
    pub part: Option<String>,
    /// Print the workload suite's names, one per line, and exit.
    #[arg(long)]
    pub list: bool,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapSide {
    Client,
    Server,
}

#[derive(clap::Args, Debug)]
pub struct TraceArgs {
    /// Scenario name (see --list).
    pub scenario: Option<String>,
    /// List the scenarios, one line each.
    #[arg(long)]
    pub list: bool,
    /// Extra drop rule KIND[:N][:DIR], e.g. synack:1:s2c, fin:*:c2s (repeatable).
    #[arg(long = "drop", value_name = "RULE")]
    pub drops: Vec<String>,
    /// Seed of the run (ISNs, ports).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also draw the ladder as SVG into FILE.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
    /// Also write a pcap (Wireshark, tshark) into FILE.
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,
    /// Which host the pcap's tap stands beside.
    #[arg(long, value_enum, default_value_t = TapSide::Client)]
    pub at: TapSide,
    /// Print absolute sequence numbers (the ladder grows past 80 columns).
    #[arg(long)]
    pub wide: bool,
    /// The path's one-way delay, instead of the scenario's 10ms (e.g.
    /// 50us, to set a trace beside a capture on a LAN). Scripted steps keep
    /// their times.
    #[arg(long, value_name = "DURATION", value_parser = crate::engine::time::parse_duration)]
    pub delay: Option<SimDuration>,
    /// Fire TCP's timers on the kernel's timer wheel at this CONFIG_HZ
    /// (100, 250, 300 or 1000), as studies do, instead of the trace's
    /// exact timers (0), e.g. to set a trace beside a real kernel's capture.
    #[arg(long, value_name = "HZ", value_parser = parse_hz)]
    pub hz: Option<u32>,
}

fn parse_hz(text: &str) -> std::result::Result<u32, String> {
    use crate::tcp::timer_wheel::{HZ_CHOICES, HZ_CHOICES_IN_WORDS};
    text.parse::<u32>().ok().filter(|hz| HZ_CHOICES.contains(hz)).ok_or_else(|| {
        format!("--hz takes {HZ_CHOICES_IN_WORDS} (the kernel's CONFIG_HZ choices), not `{text}`")
    })
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Trace(args)) => trace(args),
        Some(Command::Bench(args)) if args.list => {
            let mut out = std::io::stdout().lock();
            for (name, what, _) in crate::bench::WORKLOADS {
                writeln!(out, "{name}\t{what}")?;
            }
            Ok(())
        }
        Some(Command::Bench(args)) => match args.part {
            Some(part) => {
                let line = crate::bench::part(&part)?;
                writeln!(std::io::stdout(), "{line}")?;
                Ok(())
            }
            None => crate::bench::run_all(args.quick, args.json),
        },
        Some(Command::Run(args)) => run_study(args),
        Some(Command::Merge(args)) => {
            let done = study::merge(&args.shards, &args.out, args.force)?;
            if let Some(stale) = &done.stale_lock {
                note(stale);
            }
            note(&format!("synsim: merged {} shards into {}", args.shards.len(), args.out.display()));
            say_what_was_replaced(&args.out, done.replaced_previous, done.moved_aside.as_deref());
            Ok(())
        }
        Some(Command::Plot { dir }) => study::plot(&dir),
        Some(Command::Report { dir }) => study::report(&dir),
        // `cargo run --release`: the main job, the embedded default study.
        None => run_study(RunArgs::default()),
    }
}

fn run_study(args: RunArgs) -> Result<()> {
    let exp = match &args.file {
        Some(path) => Experiment::load(path)?,
        None => Experiment::parse(DEFAULT_EXPERIMENT, DEFAULT_ORIGIN, "defenses")?,
    };
    let shard = match &args.shard {
        Some(s) => Some(Shard::parse(s)?),
        None => Shard::from_env(args.shard_count)?,
    };
    let out = args.out.clone().unwrap_or_else(|| {
        let name = match shard {
            Some(s) => format!("{}-shard-{}-of-{}", exp.name, s.index, s.count),
            None => exp.name.clone(),
        };
        PathBuf::from("results").join(name)
    });
    let opts = RunOptions {
        threads: args.threads,
        shard,
        resume: args.resume,
        fresh: args.fresh,
        progress: match args.progress {
            ProgressArg::Auto => Progress::Auto,
            ProgressArg::Bar => Progress::Bar,
            ProgressArg::Lines => Progress::Lines,
            ProgressArg::Quiet => Progress::Quiet,
        },
        wall_clock: !args.no_wall_clock,
        force: args.force,
    };
    let loud = args.progress != ProgressArg::Quiet;
    if loud {
        let shard_note = shard.map(|s| format!(", shard {s}")).unwrap_or_default();
        let runs = exp.runs().len();
        let plural = if runs == 1 { "" } else { "s" };
        note(&format!("synsim: {} ({runs} run{plural}{shard_note}) -> {}", exp.origin, out.display()));
    }
    let summary = study::execute(&exp, &out, &opts)?;
    if summary.already_complete {
        note(&format!(
            "synsim: {} is already complete ({} runs): nothing to do",
            out.display(),
            summary.runs
        ));
        return Ok(());
    }
    if loud {
        note(&format!(
            "synsim: {} run{} ({} resumed), {} events in {}; report: {}",
            summary.runs,
            if summary.runs == 1 { "" } else { "s" },
            summary.resumed,
            crate::progress::count(summary.events as f64),
            if summary.wall_s < 10.0 {
                format!("{:.2} s", summary.wall_s)
            } else {
                crate::progress::clock(summary.wall_s)
            },
            summary.out.join("report.md").display()
        ));
    }
    say_what_was_replaced(&out, summary.replaced_previous, summary.moved_aside.as_deref());
    Ok(())
}

fn say_what_was_replaced(out: &Path, previous: bool, moved_aside: Option<&Path>) {
    if previous {
        note(&format!("synsim: replaced the previous results in {}", out.display()));
    }
    if let Some(to) = moved_aside {
        note(&format!("synsim: --force: what was at {} is now at {}", out.display(), to.display()));
    }
}

fn trace(args: TraceArgs) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if args.list {
        for s in SCENARIOS {
            writeln!(stdout, "{:<28} {}", s.name, s.summary)?;
        }
        return Ok(());
    }
    let Some(name) = args.scenario else {
        bail!("name a scenario, or --list to see them");
    };
    let rules = args
        .drops
        .iter()
        .map(|r| DropRule::parse(r).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let Some(mut setup) = scenarios::setup(&name) else {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        bail!("unknown scenario `{name}`; known: {}", names.join(", "));
    };
    if let Some(delay) = args.delay {
        setup.config.network.delay = crate::net::DelaySpec::Fixed(delay);
    }
    if let Some(hz) = args.hz {
        setup.config.hz = hz;
    }
    let t = scenarios::run(setup, &rules, args.seed);
    // Options that would silently do nothing.
    for (text, rule) in args.drops.iter().zip(&rules) {
        let label = rule.to_string();
        let matched = t.records.iter().any(|r| r.kind == RecordKind::Lost && r.note == label);
        if !matched {
            note(&format!(
                "synsim: warning: --drop {text} never matched: the scenario sent no segment for \"{label}\""
            ));
        }
    }
    if args.at != TapSide::Client && args.pcap.is_none() {
        note("synsim: warning: --at only places the pcap's tap; without --pcap it does nothing");
    }
    let numbers = if args.wide { Numbers::Absolute } else { Numbers::Relative };
    stdout.write_all(ladder_text(&t.records, t.client, t.server, numbers).as_bytes())?;
    if let Some(path) = args.svg {
        let svg = ladder_svg(&t.records, t.client, t.server, &format!("synsim trace {name}"));
        std::fs::write(&path, svg).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = args.pcap {
        let tap = match args.at {
            TapSide::Client => Side::Client,
            TapSide::Server => Side::Server,
        };
        let file = std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?;
        write_pcap(std::io::BufWriter::new(file), &t.records, tap)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
