//! Where a study's files go, and what synsim may replace there.
//!
//! A study is written into `<out>.partial/` and renamed to `<out>` only when
//! complete. synsim replaces only what it can prove it wrote: a folder whose
//! `manifest.json` is a synsim manifest and which holds nothing but the
//! files synsim writes. Anything else at `<out>` is refused, or with
//! `--force` moved aside (never deleted). `<out>.lock` keeps two studies
//! from writing one folder.

use super::results::Manifest;
use anyhow::{Context, Result, bail};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What a results folder holds at the top level (charts/ holds SVG and PNG).
const RESULT_FILES: [&str; 6] =
    ["manifest.json", "summary.csv", "timeseries.csv", "connect_time.csv", "report.md", "report.html"];

/// The file synsim writes first into every `.partial` folder it creates.
pub const PARTIAL_MARKER: &str = "experiment.toml";
/// The journal of finished runs in a `.partial` folder.
pub const JOURNAL: &str = "runs.jsonl";

/// Where `--force` moves a folder that is not a synsim result.
const MOVED_ASIDE: &str = ".moved-aside-by-synsim";

/// `<out>` with `suffix` appended to its last component.
pub fn sibling(out: &Path, suffix: &str) -> PathBuf {
    let name = out.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_else(|| "results".into());
    out.with_file_name(format!("{name}{suffix}"))
}

/// What stands at a study's `--out` path.
#[derive(Debug)]
pub enum Existing {
    Nothing,
    /// A complete synsim result (its manifest and only synsim's files).
    Result(Box<Manifest>),
    /// Anything else, with why it is not a synsim result.
    Foreign(String),
}

impl Existing {
    pub fn at(out: &Path) -> Existing {
        let Ok(meta) = std::fs::symlink_metadata(out) else { return Existing::Nothing };
        if !meta.is_dir() {
            return Existing::Foreign("it is a file, not a folder".into());
        }
        let manifest = match std::fs::read_to_string(out.join("manifest.json")) {
            Ok(text) => match serde_json::from_str::<Manifest>(&text) {
                Ok(m) => m,
                Err(_) => return Existing::Foreign("its manifest.json is not a synsim manifest".into()),
            },
            Err(_) => return Existing::Foreign("it has no manifest.json".into()),
        };
        let strangers = strangers(out, &[]);
        if strangers.is_empty() {
            Existing::Result(Box::new(manifest))
        } else {
            Existing::Foreign(format!("it holds files synsim did not write: {}", strangers.join(", ")))
        }
    }
}

/// The entries of `dir` that synsim does not write there: anything but the
/// result files, `extra`, and a charts/ folder of SVG and PNG files.
fn strangers(dir: &Path, extra: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let ok = if name == "charts" {
            std::fs::read_dir(entry.path()).into_iter().flatten().flatten().all(|c| {
                let n = c.file_name().to_string_lossy().to_string();
                c.path().is_file() && (n.ends_with(".svg") || n.ends_with(".png"))
            })
        } else {
            (RESULT_FILES.contains(&name.as_str()) || extra.contains(&name.as_str()))
                && entry.path().is_file()
        };
        if !ok {
            out.push(if name == "charts" { "charts/ (files other than charts)".into() } else { name });
        }
    }
    out.sort();
    out
}

/// What to do with what stands at `out` when the study is complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replace {
    /// Nothing is there.
    Nothing,
    /// A previous synsim result: replaced.
    PreviousResult,
    /// Something else, allowed by `--force`: moved aside to this path.
    MoveAside(PathBuf),
}

/// Decides, before any run, whether a study may be written to `out`.
pub fn plan(out: &Path, force: bool) -> Result<Replace> {
    match Existing::at(out) {
        Existing::Nothing => Ok(Replace::Nothing),
        Existing::Result(_) => Ok(Replace::PreviousResult),
        Existing::Foreign(_) if force => Ok(Replace::MoveAside(free_name(out, MOVED_ASIDE))),
        Existing::Foreign(why) => bail!(
            "{} is not a synsim results folder ({why}): refusing to replace it. Choose another --out, \
             or pass --force to move it aside and write the study there",
            out.display()
        ),
    }
}

/// `<out><suffix>`, or `<out><suffix>-2`, ... : the first that does not exist.
fn free_name(out: &Path, suffix: &str) -> PathBuf {
    let first = sibling(out, suffix);
    let mut path = first.clone();
    let mut n = 1;
    while std::fs::symlink_metadata(&path).is_ok() {
        n += 1;
        path = sibling(out, &format!("{suffix}-{n}"));
    }
    path
}

/// Checks that `partial` is absent or holds only what synsim writes there
/// (the experiment's text, the journal, result files), so clearing it
/// deletes nobody's files.
pub fn check_partial(partial: &Path) -> Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(partial) else { return Ok(()) };
    let why = if !meta.is_dir() {
        "it is a file".to_string()
    } else {
        let strangers = strangers(partial, &[PARTIAL_MARKER, JOURNAL]);
        if strangers.is_empty() {
            return Ok(());
        }
        format!("it holds files synsim did not write: {}", strangers.join(", "))
    };
    bail!(
        "{} was not made by synsim ({why}): move it away, synsim writes its unfinished studies there",
        partial.display()
    )
}

/// Puts the finished `partial` folder at `out` as `plan` decided, checking
/// again what stands there now. Returns where a foreign folder was moved.
pub fn install(partial: &Path, out: &Path, decided: &Replace) -> Result<Option<PathBuf>> {
    // (where the old folder goes, whether synsim wrote it and may delete it)
    let aside = match (Existing::at(out), decided) {
        (Existing::Nothing, _) => None,
        (Existing::Result(_), _) => {
            Some((free_name(out, &format!(".replaced-{}", std::process::id())), true))
        }
        (Existing::Foreign(_), Replace::MoveAside(_)) => Some((free_name(out, MOVED_ASIDE), false)),
        (Existing::Foreign(why), _) => bail!(
            "{} appeared while the study ran and is not a synsim result ({why}): not replaced; the study is \
             complete in {}",
            out.display(),
            partial.display()
        ),
    };
    if let Some((to, _)) = &aside {
        std::fs::rename(out, to)
            .with_context(|| format!("moving {} aside to {}", out.display(), to.display()))?;
    }
    if let Err(e) = std::fs::rename(partial, out) {
        if let Some((to, _)) = &aside {
            let _ = std::fs::rename(to, out);
        }
        return Err(e).with_context(|| format!("renaming {} to {}", partial.display(), out.display()));
    }
    match aside {
        Some((previous, true)) => {
            std::fs::remove_dir_all(&previous).with_context(|| format!("removing {}", previous.display()))?;
            Ok(None)
        }
        Some((moved, false)) => Ok(Some(moved)),
        None => Ok(None),
    }
}

/// Where a study's files are written while it runs: `<out>.partial`,
/// under `<out>.lock`. Creates `<out>`'s parent, takes the lock (a note if a
/// stale one was taken over) and checks the partial folder is synsim's.
pub fn begin(out: &Path) -> Result<(Lock, Option<String>, PathBuf)> {
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    }
    let (lock, stale) = Lock::take(out)?;
    let partial = sibling(out, ".partial");
    check_partial(&partial)?;
    Ok((lock, stale, partial))
}

/// Makes `partial` empty but for the marker holding `experiment` (what a
/// resumed study is checked against). The caller has checked it.
pub fn start_partial(partial: &Path, experiment: &str) -> Result<()> {
    if partial.exists() {
        std::fs::remove_dir_all(partial).with_context(|| format!("clearing {}", partial.display()))?;
    }
    std::fs::create_dir_all(partial).with_context(|| format!("creating {}", partial.display()))?;
    let marker = partial.join(PARTIAL_MARKER);
    std::fs::write(&marker, experiment).with_context(|| format!("writing {}", marker.display()))
}

/// `<out>.lock`, held while a study writes `<out>.partial` and `<out>`.
/// It names the holder's process id and host; a lock whose process is gone
/// (same host) is stale and taken over.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock, or says who holds it. Returns the lock and, if a
    /// stale one was taken over, a note saying so.
    pub fn take(out: &Path) -> Result<(Lock, Option<String>)> {
        let path = sibling(out, ".lock");
        let mut note = None;
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    writeln!(f, "{} {}", std::process::id(), hostname())
                        .with_context(|| format!("writing {}", path.display()))?;
                    return Ok((Lock { path }, note));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let text = std::fs::read_to_string(&path).unwrap_or_default();
                    let mut words = text.split_whitespace();
                    let pid: Option<u32> = words.next().and_then(|p| p.parse().ok());
                    let host = words.next().unwrap_or("");
                    match pid {
                        Some(pid) if host == hostname() && !process_alive(pid) => {
                            std::fs::remove_file(&path)
                                .with_context(|| format!("removing the stale lock {}", path.display()))?;
                            note = Some(format!(
                                "synsim: took over {} (process {pid} that held it is gone)",
                                path.display()
                            ));
                        }
                        Some(pid) => bail!(
                            "{} is being written by another synsim (process {pid} on {}, see {}): wait for it \
                             or choose another --out",
                            out.display(),
                            if host.is_empty() { "an unknown host" } else { host },
                            path.display()
                        ),
                        None => bail!(
                            "{} exists and names no process: if no synsim is writing {}, delete it",
                            path.display(),
                            out.display()
                        ),
                    }
                }
                Err(e) => return Err(e).with_context(|| format!("creating {}", path.display())),
            }
        }
        bail!("{}: another synsim took the lock at the same moment", path.display())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

/// Whether a process with this id runs here (Linux: /proc). Where that
/// cannot be told, it is taken to run, so a lock is never broken wrongly.
fn process_alive(pid: u32) -> bool {
    if !Path::new("/proc/self").exists() {
        return true;
    }
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("synsim-folder-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_folder_without_a_manifest_is_foreign_and_refused() {
        let dir = scratch("foreign");
        let out = dir.join("mine");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join("thesis.tex"), "precious").unwrap();
        let e = plan(&out, false).unwrap_err().to_string();
        assert!(e.contains("not a synsim results folder") && e.contains("--force"), "{e}");
        assert_eq!(plan(&out, true).unwrap(), Replace::MoveAside(dir.join("mine.moved-aside-by-synsim")));
        assert!(matches!(plan(&dir.join("absent"), false).unwrap(), Replace::Nothing));
    }

    #[test]
    fn a_file_at_out_is_foreign() {
        let dir = scratch("file");
        let out = dir.join("notes");
        std::fs::write(&out, "x").unwrap();
        assert!(matches!(Existing::at(&out), Existing::Foreign(w) if w.contains("a file")));
    }

    #[test]
    fn a_stale_lock_is_taken_over_and_a_live_one_refuses() {
        let dir = scratch("lock");
        let out = dir.join("study");
        let (lock, note) = Lock::take(&out).unwrap();
        assert!(note.is_none());
        let e = Lock::take(&out).unwrap_err().to_string();
        assert!(e.contains(&format!("process {}", std::process::id())), "{e}");
        drop(lock);
        assert!(!sibling(&out, ".lock").exists());
        // A lock left by a process that no longer exists (pids are below 2^22 on Linux).
        std::fs::write(sibling(&out, ".lock"), format!("4999999 {}\n", hostname())).unwrap();
        let (_lock, note) = Lock::take(&out).unwrap();
        assert!(note.unwrap().contains("4999999"));
    }

    #[test]
    fn a_partial_folder_synsim_did_not_make_is_left_alone() {
        let dir = scratch("partial");
        let p = dir.join("x.partial");
        std::fs::create_dir_all(&p).unwrap();
        check_partial(&p).unwrap();
        std::fs::write(p.join(PARTIAL_MARKER), "").unwrap();
        std::fs::write(p.join(JOURNAL), "").unwrap();
        check_partial(&p).unwrap();
        std::fs::write(p.join("data.bin"), "x").unwrap();
        let e = check_partial(&p).unwrap_err().to_string();
        assert!(e.contains("data.bin"), "{e}");
    }
}
