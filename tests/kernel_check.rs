//! The kernel check (validation/kernel/): its experiment files must stay
//! valid as the model changes, and its quick subset runs when asked to.
//!
//! The check itself needs root (network namespaces, raw sockets). Plain
//! `cargo test` only validates the files and says it skipped the rest;
//! `.ci/run` runs `validation/kernel/kcheck.py --quick` as its own step, and
//! `SYNSIM_KERNEL_CHECK=1 cargo test --test kernel_check` runs it from here.

use std::path::{Path, PathBuf};
use std::process::Command;
use synsim::experiment::Experiment;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn script() -> PathBuf {
    repo().join("validation/kernel/kcheck.py")
}

fn have_python() -> bool {
    Command::new("python3").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn kernel_check_experiment_files_are_valid() {
    if !have_python() {
        eprintln!("SKIP kernel check files: python3 not found");
        return;
    }
    let dir = std::env::temp_dir().join(format!("synsim-kcheck-toml-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let status = Command::new("python3").arg(script()).arg("--emit-toml").arg(&dir).status().unwrap();
    assert!(status.success(), "kcheck.py --emit-toml failed");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    assert!(files.len() >= 10, "expected the whole grid, got {} files", files.len());
    for f in &files {
        if let Err(e) = Experiment::load(Path::new(f)) {
            panic!("{} is not a valid experiment: {e}", f.display());
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kernel_check_quick() {
    if !is_root() {
        eprintln!("SKIP kernel check: not root (it needs network namespaces and raw sockets)");
        return;
    }
    if std::env::var("SYNSIM_KERNEL_CHECK").as_deref() != Ok("1") {
        eprintln!(
            "SKIP kernel check: set SYNSIM_KERNEL_CHECK=1 to run it here (.ci/run runs it after cargo test)"
        );
        return;
    }
    if !have_python() {
        eprintln!("SKIP kernel check: python3 not found");
        return;
    }
    let status = Command::new("python3")
        .arg(script())
        .args(["--quick", "--synsim", env!("CARGO_BIN_EXE_synsim")])
        .status()
        .unwrap();
    assert!(status.success(), "the kernel check's quick subset failed (see its table above)");
}
