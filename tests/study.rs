//! Studies end to end: determinism across threads, shards merged, resume,
//! outputs, and every bad input refused with exit status 2 and no folder.

mod common;

use common::files;
use std::path::{Path, PathBuf};
use std::process::Command;
use synsim::experiment::Experiment;
use synsim::study::{self, Progress, RunOptions, Shard};

const SMALL: &str = r#"
name = "small"
description = "A tiny flood study for the tests"
seed = 9
replicates = 2
duration = "6s"
warmup = "1s"
bin = "1s"
[network]
delay = { dist = "lognormal", median = "10ms", sigma = 0.4 }
loss = 0.01
[server]
tcp_syncookies = 0
listen_backlog = 64
[clients.web]
hosts = 1000
rate = 50
stop = "4s"
[attackers.flood]
kind = "spoofed-syn"
rate = 100
[strategies]
none = {}
cookies = { "server.tcp_syncookies" = 1 }
[sweep]
strategy = ["none", "cookies"]
"attackers.flood.rate" = [0, 200, 2000]
"#;

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("study-{name}"))
}

fn opts(threads: usize) -> RunOptions {
    RunOptions { threads: Some(threads), progress: Progress::Quiet, wall_clock: false, ..Default::default() }
}

fn assert_same_folders(a: &Path, b: &Path) {
    let (fa, fb) = (files(a), files(b));
    let names = |f: &[(String, Vec<u8>)]| f.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&fa), names(&fb));
    for ((name, x), (_, y)) in fa.iter().zip(&fb) {
        assert!(x == y, "{name} differs between {} and {}", a.display(), b.display());
    }
}

#[test]
fn one_thread_and_two_threads_write_identical_folders() {
    let dir = scratch("threads");
    let exp = Experiment::parse(SMALL, "small.toml", "small").unwrap();
    study::execute(&exp, &dir.join("one"), &opts(1)).unwrap();
    study::execute(&exp, &dir.join("two"), &opts(2)).unwrap();
    assert_same_folders(&dir.join("one"), &dir.join("two"));
    assert!(!dir.join("one.partial").exists());
    let summary = std::fs::read_to_string(dir.join("one/summary.csv")).unwrap();
    let header = summary.lines().next().unwrap();
    for column in [
        "run,strategy,attackers.flood.rate,replicate,seed",
        "legit_attempts",
        "legit_established",
        "legit_success_ratio",
        "failed_timeout",
        "failed_reset",
        "failed_no_port",
        "connect_p50_ms",
        "connect_p99_ms",
        "time_wait_peak_client",
        "time_wait_peak_server",
        "TcpExtListenDrops",
        "TcpExtTCPReqQFullDrop",
        "attack_syns",
        "events",
        "wall_s",
    ] {
        assert!(header.contains(column), "summary.csv lacks {column}");
    }
    assert_eq!(summary.lines().count(), 1 + 12);
    let series = std::fs::read_to_string(dir.join("one/timeseries.csv")).unwrap();
    let header = series.lines().next().unwrap();
    for column in ["t_s", "time_wait_client", "time_wait_server", "syn_recv", "accept_queue"] {
        assert!(header.contains(column), "timeseries.csv lacks {column}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_merged_equal_the_unsharded_run() {
    let dir = scratch("shards");
    let exp = Experiment::parse(SMALL, "small.toml", "small").unwrap();
    study::execute(&exp, &dir.join("whole"), &opts(2)).unwrap();
    let mut shards = Vec::new();
    for k in 0..3 {
        let out = dir.join(format!("shard{k}"));
        study::execute(&exp, &out, &RunOptions { shard: Some(Shard { index: k, count: 3 }), ..opts(1) })
            .unwrap();
        shards.push(out);
    }
    study::merge(&shards, &dir.join("merged"), false).unwrap();
    assert_same_folders(&dir.join("whole"), &dir.join("merged"));
    // Missing or repeated shards are refused.
    let err = study::merge(&shards[..2], &dir.join("bad"), false).unwrap_err().to_string();
    assert!(err.contains("missing shard(s): 2/3"), "{err}");
    let err =
        study::merge(&[shards[0].clone(), shards[0].clone(), shards[1].clone()], &dir.join("bad"), false)
            .unwrap_err();
    assert!(err.to_string().contains("given twice"), "{err}");
    assert!(!dir.join("bad").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_interrupted_study_resumes_to_the_same_folder() {
    let dir = scratch("resume");
    let exp = Experiment::parse(SMALL, "small.toml", "small").unwrap();
    study::execute(&exp, &dir.join("whole"), &opts(2)).unwrap();
    // What an interruption leaves: the partial folder, five finished runs
    // in the journal and a line cut short.
    let partial = dir.join("again.partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("experiment.toml"), SMALL).unwrap();
    let mut journal = String::new();
    for spec in exp.runs().iter().take(5) {
        journal += &serde_json::to_string(&study::run_one(spec, false)).unwrap();
        journal.push('\n');
    }
    journal += "{\"run\": 7, \"poi";
    std::fs::write(partial.join("runs.jsonl"), journal).unwrap();
    assert!(!dir.join("again").exists(), "nothing looks complete before the end");
    // Without --resume the finished runs are not thrown away silently.
    let err = study::execute(&exp, &dir.join("again"), &opts(2)).unwrap_err().to_string();
    assert!(err.contains("holds 5 finished runs") && err.contains("--resume"), "{err}");
    let summary = study::execute(&exp, &dir.join("again"), &RunOptions { resume: true, ..opts(2) }).unwrap();
    assert_eq!(summary.resumed, 5);
    assert_same_folders(&dir.join("whole"), &dir.join("again"));
    // --fresh starts over and gives the same folder too.
    std::fs::create_dir_all(dir.join("fresh.partial")).unwrap();
    std::fs::write(dir.join("fresh.partial/runs.jsonl"), "{}\n").unwrap();
    study::execute(&exp, &dir.join("fresh"), &RunOptions { fresh: true, ..opts(2) }).unwrap();
    assert_same_folders(&dir.join("whole"), &dir.join("fresh"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn charts_are_valid_png_and_svg_with_the_expected_series() {
    let dir = scratch("charts");
    let exp = Experiment::parse(SMALL, "small.toml", "small").unwrap();
    let out = dir.join("out");
    study::execute(&exp, &out, &opts(2)).unwrap();
    for chart in
        ["legit_success_ratio", "connect_p99_ms", "TcpExtListenDrops", "connect-cdf", "series-syn_recv"]
    {
        let png = std::fs::read(out.join(format!("charts/{chart}.png"))).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{chart}.png signature");
        assert_eq!(&png[12..16], b"IHDR");
        let (w, h) = (
            u32::from_be_bytes(png[16..20].try_into().unwrap()),
            u32::from_be_bytes(png[20..24].try_into().unwrap()),
        );
        assert_eq!((w, h), (960, 600));
        assert_eq!(&png[png.len() - 8..png.len() - 4], b"IEND");
        let svg = std::fs::read_to_string(out.join(format!("charts/{chart}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{chart}.svg: {e}"));
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        // At 2000 SYN/s nobody gets through without cookies: the CDF's
        // legend says so (it counts every connect() call).
        let expected: &[&str] = if chart == "connect-cdf" {
            &["none (never: 100%)", "cookies (never: 0%)"]
        } else {
            &["none", "cookies"]
        };
        for series in expected {
            assert!(texts.iter().any(|t| t.trim() == *series), "{chart}.svg has no legend entry {series}");
        }
    }
    // The report names a winner at each attack rate, and redraws from CSV alone.
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("### attackers.flood.rate = 2000"));
    assert!(report.contains("| **cookies** |"), "{report}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("<table>"));
    std::fs::remove_dir_all(out.join("charts")).unwrap();
    std::fs::remove_file(out.join("report.md")).unwrap();
    study::report(&out).unwrap();
    assert_eq!(std::fs::read_to_string(out.join("report.md")).unwrap(), report);
    assert!(out.join("charts/legit_success_ratio.png").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn synsim(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synsim")).args(args).current_dir(cwd).output().unwrap()
}

#[test]
fn bad_input_exits_2_with_one_clear_message_and_writes_nothing() {
    let dir = scratch("bad");
    let cases: [(&str, String, &str); 6] = [
        ("typo", SMALL.replace("tcp_syncookies = 0", "tcp_syncokies = 0"), "did you mean `tcp_syncookies`?"),
        ("type", SMALL.replace("rate = 50", "rate = \"fast\""), "clients.web.rate"),
        ("negative", SMALL.replace("rate = 50", "rate = -50"), "clients.web.rate: must be a rate >= 0"),
        (
            "loss",
            SMALL.replace("loss = 0.01", "loss = 1.5"),
            "network.loss: loss must be a probability in [0, 1]",
        ),
        ("empty", SMALL.replace("[0, 200, 2000]", "[]"), "empty sweep axis"),
        (
            "strategy",
            SMALL.replace("[\"none\", \"cookies\"]", "[\"none\", \"cookie\"]"),
            "did you mean `cookies`?",
        ),
    ];
    for (name, text, expected) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        let out = synsim(&["run", file.to_str().unwrap()], &dir);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(file.to_str().unwrap()) && stderr.contains(expected), "{name}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{name}: one message, got {stderr}");
    }
    let out = synsim(&["run", "nowhere.toml"], &dir);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("nowhere.toml: cannot read the experiment file"));
    assert!(!dir.join("results").exists(), "a bad input wrote a results folder");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_cli_runs_a_file_with_a_shard_from_slurm_and_merges() {
    let dir = scratch("cli");
    std::fs::write(dir.join("small.toml"), SMALL).unwrap();
    for k in ["0", "1"] {
        let out = Command::new(env!("CARGO_BIN_EXE_synsim"))
            .args(["run", "small.toml", "--progress", "quiet", "--no-wall-clock"])
            .env("SLURM_ARRAY_TASK_ID", k)
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = synsim(
        &["merge", "results/small-shard-0-of-2", "results/small-shard-1-of-2", "--out", "results/small"],
        &dir,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = std::fs::read_to_string(dir.join("results/small/manifest.json")).unwrap();
    assert!(manifest.contains("\"runs_here\": 12"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_report_flags_points_whose_warm_up_is_shorter_than_the_request_lifetime() {
    let dir = scratch("steady");
    let exp = Experiment::parse(SMALL, "small.toml", "small").unwrap();
    study::execute(&exp, &dir.join("short"), &opts(2)).unwrap();
    let report = std::fs::read_to_string(dir.join("short/report.md")).unwrap();
    // Four of six points have a flood: its requests live 63 s (65.9 s on the
    // timer wheel at hz = 250, at the latest) and the queue settles after
    // four lifetimes; the runs last 6 s.
    assert!(report.contains("**Warning: 4 of 6 points are not measured in steady state**"), "{report}");
    assert!(report.contains("| strategy=none, attackers.flood.rate=2000 | 1 s |"), "{report}");
    assert!(report.contains("the SYN queue cannot settle within the run (264 s needed)"), "{report}");
    // Without a flood nothing is flagged.
    let calm = SMALL.replace("\"attackers.flood.rate\" = [0, 200, 2000]", "\"attackers.flood.rate\" = [0]");
    let exp = Experiment::parse(&calm, "calm.toml", "calm").unwrap();
    study::execute(&exp, &dir.join("calm"), &opts(2)).unwrap();
    let report = std::fs::read_to_string(dir.join("calm/report.md")).unwrap();
    assert!(!report.contains("Warning:") && report.contains("| steady |"), "{report}");
    std::fs::remove_dir_all(&dir).unwrap();
}
