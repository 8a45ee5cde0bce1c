//! A user's data is never lost and a finished study never thrown away:
//! what stands at --out, locks, resume, interruptions, closed pipes,
//! threads, shards, memory and options that would silently do nothing.

mod common;

use common::files;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use synsim::experiment::Experiment;
use synsim::output::folder::Lock;
use synsim::study::{self, Progress, RunOptions, Shard};

const TINY: &str = r#"
name = "tiny"
seed = 3
replicates = 2
duration = "3s"
[clients.web]
hosts = 100
rate = 20
[sweep]
"clients.web.rate" = [20, 40]
"#;

fn scratch(name: &str) -> PathBuf {
    common::scratch(&format!("safety-{name}"))
}

fn quiet() -> RunOptions {
    RunOptions { threads: Some(2), progress: Progress::Quiet, wall_clock: false, ..Default::default() }
}

fn tiny() -> Experiment {
    Experiment::parse(TINY, "tiny.toml", "tiny").unwrap()
}

fn synsim(args: &[&str], cwd: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_synsim")).args(args).current_dir(cwd).output().unwrap()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn a_three_axis_sweep_with_dotted_values_writes_every_chart_and_the_report() {
    let dir = scratch("three-axes");
    let text = r#"
duration = "3s"
[clients.app]
hosts = 100
rate = 50
[network]
loss = 0.01
[sweep]
"clients.app.hold" = ["10ms", "20ms"]
"clients.app.rate" = [50, 100]
"network.delay" = ["5ms", "10ms"]
"network.loss" = [0.05, 0.1]
"#;
    let exp = Experiment::parse(text, "three.toml", "three").unwrap();
    let out = dir.join("three");
    study::execute(&exp, &out, &quiet()).unwrap();
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    let charts: Vec<&str> = report
        .split("](")
        .skip(1)
        .filter_map(|s| s.split(')').next())
        .filter(|s| s.ends_with(".svg"))
        .collect();
    // Loss is the x axis, hold names the lines: four facets (2 rates x 2
    // delays), each with its own charts.
    let facets = ["50", "100"]
        .iter()
        .flat_map(|r| ["5ms", "10ms"].map(|d| format!("clients.app.rate={r}-network.delay={d}")))
        .collect::<Vec<_>>();
    for f in &facets {
        assert!(
            charts.iter().any(|c| c.ends_with(&format!("legit_success_ratio-{f}.svg"))),
            "{f}: {charts:?}"
        );
    }
    let mut unique = charts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), charts.len(), "two charts share a file");
    for c in &charts {
        assert!(out.join(c).is_file(), "{c} is in the report but not on disk");
        assert!(out.join(c.replace(".svg", ".png")).is_file(), "{c}: no PNG");
    }
    let on_disk = std::fs::read_dir(out.join("charts")).unwrap().count();
    assert_eq!(on_disk, 2 * charts.len(), "charts on disk that the report does not show, or the reverse");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_folder_synsim_did_not_write_is_never_replaced_and_force_moves_it_aside() {
    let dir = scratch("foreign");
    let exp = tiny();
    // A user's folder at --out.
    let mine = dir.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("thesis.tex"), "precious").unwrap();
    let e = study::execute(&exp, &mine, &quiet()).unwrap_err().to_string();
    assert!(e.contains("mine is not a synsim results folder") && e.contains("--force"), "{e}");
    assert_eq!(std::fs::read_to_string(mine.join("thesis.tex")).unwrap(), "precious");
    assert!(!dir.join("mine.partial").exists(), "a refused study leaves no partial folder");
    // A user's file at --out.
    let file = dir.join("notes.txt");
    std::fs::write(&file, "mine").unwrap();
    assert!(study::execute(&exp, &file, &quiet()).is_err());
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "mine");
    assert!(!dir.join("notes.txt.old").exists());
    // A synsim result with a user's file added to it is not replaced either.
    let result = dir.join("result");
    study::execute(&exp, &result, &quiet()).unwrap();
    std::fs::write(result.join("my-notes.md"), "notes").unwrap();
    let e = study::execute(&exp, &result, &quiet()).unwrap_err().to_string();
    assert!(e.contains("my-notes.md"), "{e}");
    // --force moves the folder aside, whole.
    let s = study::execute(&exp, &mine, &RunOptions { force: true, ..quiet() }).unwrap();
    let aside = dir.join("mine.moved-aside-by-synsim");
    assert_eq!(s.moved_aside.as_deref(), Some(aside.as_path()));
    assert_eq!(std::fs::read_to_string(aside.join("thesis.tex")).unwrap(), "precious");
    assert!(mine.join("manifest.json").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_previous_result_is_replaced_and_a_users_old_folder_is_left_alone() {
    let dir = scratch("replace");
    let exp = tiny();
    let out = dir.join("study");
    let first = study::execute(&exp, &out, &quiet()).unwrap();
    assert!(!first.replaced_previous);
    // `<out>.old` is the user's: synsim must not remove or use it.
    std::fs::create_dir_all(dir.join("study.old")).unwrap();
    std::fs::write(dir.join("study.old/keep.txt"), "keep").unwrap();
    let before = files(&out);
    let second = study::execute(&exp, &out, &quiet()).unwrap();
    assert!(second.replaced_previous);
    assert_eq!(files(&out), before, "same experiment, same seed: same files");
    assert_eq!(std::fs::read_to_string(dir.join("study.old/keep.txt")).unwrap(), "keep");
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    let mut left = left;
    left.sort();
    assert_eq!(left, ["study", "study.old"], "synsim left something behind");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_second_study_on_the_same_out_is_refused_while_the_first_holds_the_lock() {
    let dir = scratch("lock");
    let out = dir.join("study");
    let (held, _) = Lock::take(&out).unwrap();
    let e = study::execute(&tiny(), &out, &quiet()).unwrap_err().to_string();
    assert!(
        e.contains("being written by another synsim") && e.contains(&std::process::id().to_string()),
        "{e}"
    );
    assert!(!dir.join("study.partial").exists());
    drop(held);
    study::execute(&tiny(), &out, &quiet()).unwrap();
    assert!(!dir.join("study.lock").exists(), "the lock outlived the study");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_of_a_complete_study_does_nothing_and_a_changed_file_points_to_fresh() {
    let dir = scratch("resume");
    let exp = tiny();
    let out = dir.join("study");
    study::execute(&exp, &out, &quiet()).unwrap();
    let manifest = out.join("manifest.json");
    let mtime = std::fs::metadata(&manifest).unwrap().modified().unwrap();
    let s = study::execute(&exp, &out, &RunOptions { resume: true, ..quiet() }).unwrap();
    assert!(s.already_complete);
    assert_eq!(
        std::fs::metadata(&manifest).unwrap().modified().unwrap(),
        mtime,
        "a complete study was redone"
    );
    // An interrupted study of an earlier version of the file.
    let partial = dir.join("other.partial");
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("experiment.toml"), "seed = 99\n").unwrap();
    let rec = study::run_one(&exp.runs()[0], false);
    std::fs::write(partial.join("runs.jsonl"), serde_json::to_string(&rec).unwrap() + "\n").unwrap();
    let other = dir.join("other");
    let plain = study::execute(&exp, &other, &quiet()).unwrap_err().to_string();
    assert!(plain.contains("--fresh") && !plain.contains("--resume"), "{plain}");
    let resume =
        study::execute(&exp, &other, &RunOptions { resume: true, ..quiet() }).unwrap_err().to_string();
    assert!(resume.contains("--fresh") && !resume.contains("without --resume"), "{resume}");
    study::execute(&exp, &other, &RunOptions { fresh: true, ..quiet() }).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_pipe_neither_panics_nor_loses_the_study() {
    let dir = scratch("pipe");
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_synsim"))
        .args(["run", "tiny.toml", "--out", "out", "--progress", "lines", "--threads", "1"])
        .current_dir(&dir)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    // `2>&1 | head -1`: read one line, then close the pipe.
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("synsim: "), "{first}");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0), "exit status after the pipe closed");
    assert!(dir.join("out/report.md").is_file(), "the study was not finished");
    // stdout closed early: `synsim trace --list | head -1`.
    let mut child = Command::new(env!("CARGO_BIN_EXE_synsim"))
        .args(["trace", "normal"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn ctrl_c_keeps_the_finished_runs_and_says_how_to_resume() {
    let dir = scratch("interrupt");
    // Many short runs on one thread: some finish before the signal.
    let text = TINY.replace("replicates = 2", "replicates = 400").replace("\"3s\"", "\"20s\"");
    std::fs::write(dir.join("long.toml"), &text).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_synsim"))
        .args([
            "run",
            "long.toml",
            "--out",
            "out",
            "--progress",
            "quiet",
            "--threads",
            "1",
            "--no-wall-clock",
        ])
        .current_dir(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let journal = dir.join("out.partial/runs.jsonl");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&journal).map(|j| j.lines().count()).unwrap_or(0) < 2 {
        assert!(std::time::Instant::now() < deadline, "no run finished within a minute");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kill = Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(130), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("interrupted: ") && err.contains("of 800 runs are kept in out.partial"), "{err}");
    assert!(err.contains("--resume"), "{err}");
    assert!(!dir.join("out.lock").exists(), "the lock outlived the interrupted study");
    let kept: usize = err.split("interrupted: ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
    let lines = std::fs::read_to_string(&journal).unwrap();
    assert_eq!(lines.lines().count(), kept, "the message and the journal disagree");
    assert!(lines.ends_with('\n'), "a journal line was cut");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn thread_counts_are_checked() {
    let dir = scratch("threads");
    let zero = study::execute(&tiny(), &dir.join("a"), &RunOptions { threads: Some(0), ..quiet() });
    assert!(zero.unwrap_err().to_string().contains("--threads must be at least 1"));
    assert!(!dir.join("a.partial").exists());
    std::fs::write(dir.join("tiny.toml"), TINY).unwrap();
    let o = synsim(&["run", "tiny.toml", "--out", "b", "--threads", "100000"], &dir);
    assert!(o.status.success(), "{}", stderr(&o));
    let cpus = study::max_threads();
    assert!(stderr(&o).contains(&format!("--threads 100000 is more than the {cpus} CPUs")), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn shards_split_replicates_of_one_point_and_merge_to_the_same_folder() {
    let dir = scratch("shards");
    let text = "seed = 5\nreplicates = 4\nduration = \"3s\"\n[clients.web]\nhosts = 100\nrate = 20\n";
    let exp = Experiment::parse(text, "one.toml", "one").unwrap();
    study::execute(&exp, &dir.join("whole"), &quiet()).unwrap();
    let mut shards = Vec::new();
    for k in 0..3 {
        let out = dir.join(format!("s{k}"));
        let shard = Shard { index: k, count: 3 };
        study::execute(&exp, &out, &RunOptions { shard: Some(shard), ..quiet() }).unwrap();
        let summary = std::fs::read_to_string(out.join("summary.csv")).unwrap();
        // 4 runs over 3 shards: 2, 1 and 1 (plus the header).
        assert_eq!(summary.lines().count(), if k == 0 { 3 } else { 2 }, "shard {k}");
        shards.push(out);
    }
    study::merge(&shards, &dir.join("merged"), false).unwrap();
    assert_eq!(files(&dir.join("whole")), files(&dir.join("merged")));
    // More shards than runs: the empty ones say so and still merge.
    std::fs::write(dir.join("one.toml"), text).unwrap();
    let o = synsim(&["run", "one.toml", "--shard", "5/6", "--out", "e5"], &dir);
    assert!(o.status.success() && stderr(&o).contains("shard 5/6 has no runs"), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn slurm_arrays_from_one_and_out_of_range_indices_name_the_variable() {
    let dir = scratch("slurm");
    let text = "seed = 5\nreplicates = 2\nduration = \"3s\"\n[clients.web]\nhosts = 100\nrate = 20\n";
    std::fs::write(dir.join("one.toml"), text).unwrap();
    let run = |id: &str| {
        Command::new(env!("CARGO_BIN_EXE_synsim"))
            .args(["run", "one.toml", "--progress", "quiet"])
            .current_dir(&dir)
            .env("SLURM_ARRAY_TASK_ID", id)
            .env("SLURM_ARRAY_TASK_MIN", "1")
            .env("SLURM_ARRAY_TASK_COUNT", "2")
            .output()
            .unwrap()
    };
    for id in ["1", "2"] {
        let o = run(id);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert!(dir.join("results/one-shard-0-of-2/summary.csv").is_file());
    assert!(dir.join("results/one-shard-1-of-2/summary.csv").is_file());
    let o = run("3");
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("SLURM_ARRAY_TASK_ID=3 is outside the array"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("--shard "), "names a flag the user never passed: {}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_study_too_big_for_memory_is_refused_before_it_writes_anything() {
    let dir = scratch("memory");
    let text = "duration = \"120s\"\n[clients.web]\nhosts = 80_000_000\nrate = 1_000_000\n";
    std::fs::write(dir.join("big.toml"), text).unwrap();
    // A 3 GB address-space limit, as `ulimit -v` sets it.
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -v 3000000 && exec {} run big.toml --out out", env!("CARGO_BIN_EXE_synsim")))
        .current_dir(&dir)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("will not fit in memory") && err.contains("TIME-WAIT"), "{err}");
    assert!(err.contains("address-space limit") && err.contains("--force"), "{err}");
    assert!(!err.contains("backtrace") && !err.contains("memory allocation"), "{err}");
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, ["big.toml"], "a refused study wrote something");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn trace_options_that_do_nothing_are_warned_about() {
    let dir = scratch("trace");
    let o = synsim(&["trace", "normal", "--drop", "syn:2"], &dir);
    assert!(o.status.success());
    assert!(stderr(&o).contains("--drop syn:2 never matched"), "{}", stderr(&o));
    let o = synsim(&["trace", "lost-syn", "--drop", "synack:1"], &dir);
    assert!(!stderr(&o).contains("never matched"), "{}", stderr(&o));
    let o = synsim(&["trace", "normal", "--at", "server"], &dir);
    assert!(stderr(&o).contains("without --pcap it does nothing"), "{}", stderr(&o));
    let o = synsim(&["trace", "normal", "--at", "server", "--pcap", "x.pcap"], &dir);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}
