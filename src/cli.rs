//! Command-line arguments and what each command does.

use crate::net::DropRule;
use crate::trace::scenarios::{self, SCENARIOS};
use crate::trace::{Side, ladder_svg, ladder_text, write_pcap};
use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

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
    /// Trace one connection's life through a scenario: ladder, SVG, pcap.
    Trace(TraceArgs),
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
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Some(Command::Trace(args)) => trace(args),
        None => bail!("no command given: try `synsim trace --list`"),
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
    let Some(t) = scenarios::trace(&name, &rules, args.seed) else {
        let names: Vec<&str> = SCENARIOS.iter().map(|s| s.name).collect();
        bail!("unknown scenario `{name}`; known: {}", names.join(", "));
    };
    stdout.write_all(ladder_text(&t.records, t.client, t.server).as_bytes())?;
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
