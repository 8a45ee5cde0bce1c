//! `synsim bench --list` is what `benches/instructions.py` reads the
//! workload suite from: one line per workload, its name first.

use std::process::Command;

#[test]
fn bench_list_names_every_workload_of_the_suite_in_order() {
    let out = Command::new(env!("CARGO_BIN_EXE_synsim")).args(["bench", "--list"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = text.lines().map(|l| l.split('\t').next().unwrap()).collect();
    let suite: Vec<&str> = synsim::bench::WORKLOADS.iter().map(|w| w.0).collect();
    assert_eq!(names, suite);
    assert!(text.lines().all(|l| l.split('\t').nth(1).is_some_and(|what| !what.is_empty())));
}
