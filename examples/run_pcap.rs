//! One run of an experiment file, traced: every segment the server sent or
//! received as a pcap, and the server's trace records as text (time in ns,
//! record kind, client port, flags, state before -> after, note). For
//! setting a whole run beside a kernel capture, e.g. a kernel-check point
//! kept with `kcheck.py --keep DIR --capture`:
//!
//!     cargo run --release --example run_pcap -- DIR/aq16-abort0.toml run.pcap 0 > records.txt
//!
//! Arguments: experiment file, pcap file, run index (default 0). A traced
//! run keeps every record in memory: meant for testbed-sized runs.
use std::path::Path;
use synsim::experiment::Experiment;
use synsim::sim::world::World;
use synsim::trace::{Side, write_pcap};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, file, pcap, rest @ ..] = args.as_slice() else {
        return Err("usage: run_pcap EXPERIMENT.toml OUT.pcap [RUN_INDEX]".into());
    };
    let exp = Experiment::load(Path::new(file)).map_err(|e| e.to_string())?;
    let index: usize = rest.first().map_or(Ok(0), |s| s.parse())?;
    let runs = exp.runs();
    let spec = runs.get(index).ok_or(format!("{file} has {} runs", runs.len()))?;
    let mut world = World::new(&spec.config, spec.seed, spec.replicate as u64);
    world.enable_trace();
    let outcome = world.run();
    let records = world.take_trace();
    let frames = write_pcap(std::io::BufWriter::new(std::fs::File::create(pcap)?), &records, Side::Server)?;
    eprintln!("{frames} frames in {pcap}, {} events", outcome.events);
    for r in records.iter().filter(|r| r.side == Side::Server) {
        let (port, flags) = match &r.seg {
            Some(s) if s.src.ip == synsim::sim::addr::SERVER.ip => (s.dst.port, format!("{:?}", s.flags)),
            Some(s) => (s.src.port, format!("{:?}", s.flags)),
            None => (0, String::new()),
        };
        println!(
            "{} {:?} {port} {flags} {:?}->{:?} | {}",
            r.at.as_nanos(),
            r.kind,
            r.before,
            r.after,
            r.note
        );
    }
    Ok(())
}
