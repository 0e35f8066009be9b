//! Nothing lost, nothing trusted that is broken (issue 12, section 3): a run is complete only
//! when its files verify; two sweeps into one directory train each run once and both write a
//! complete summary; `collect` refuses two different copies of a run; temporary files of dead
//! writers are cleaned; on a full disk the failed runs are printed even though the summary
//! cannot be written.

mod common;
use aqnn::store::{clean_stale_temp, find_runs, temp_file_pid, RunDir};
use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

const EPOCHS: usize = 2;

/// `aqnn sweep` over levels 3..=6 (plain and zero-shift), 2 seeds: 16 runs.
fn sweep_args(data: &Path, out: &Path, extra: &[&str]) -> Vec<String> {
    let epochs = match extra.iter().position(|a| *a == "--epochs") {
        Some(i) => extra[i + 1].to_string(),
        None => EPOCHS.to_string(),
    };
    let extra: Vec<&str> = match extra.iter().position(|a| *a == "--epochs") {
        Some(i) => [&extra[..i], &extra[i + 2..]].concat(),
        None => extra.to_vec(),
    };
    let mut v: Vec<String> = [
        "sweep",
        "--levels",
        "3..=6",
        "--schemes",
        "plain,zero-shift",
        "--seeds",
        "2",
        "--epochs",
        &epochs,
        "--data-dir",
        data.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(extra.iter().map(|s| s.to_string()));
    v
}
const RUNS: usize = 16;

fn ok_sweep(data: &Path, out: &Path, extra: &[&str]) -> String {
    let o = aqnn().args(sweep_args(data, out, extra)).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{err}");
    err
}

/// The run directories (those holding config.json) of an output directory, sorted.
fn run_dirs(out: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("config.json").is_file())
        .collect();
    v.sort();
    v
}

/// The number N in "... N trained now" of a sweep's report.
fn trained_now(err: &str) -> usize {
    let i = err.find(" trained now").unwrap_or_else(|| panic!("{err}"));
    let head = &err[..i];
    head[head.rfind(' ').unwrap() + 1..].parse().unwrap()
}

/// A process id that is not alive: a child that has exited.
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

fn truncate(p: &Path, len: u64) {
    std::fs::OpenOptions::new()
        .write(true)
        .open(p)
        .unwrap()
        .set_len(len)
        .unwrap();
}

#[test]
fn a_run_with_a_broken_file_is_not_complete_and_is_redone() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 600, 100);
    let out = tmp.path().join("out");
    ok_sweep(&data, &out, &["--jobs", "2"]);
    let dirs = run_dirs(&out);
    assert_eq!(dirs.len(), RUNS);
    let golden: Vec<Vec<u8>> = dirs
        .iter()
        .map(|d| std::fs::read(d.join("weights.npz")).unwrap())
        .collect();
    let summary = summary_without_seconds(&out.join("summary.csv"));

    // result.json lists every file with its size and MD5.
    let r = RunDir::new(&dirs[0]).load_complete().expect("complete");
    for f in [
        "config.json",
        "metrics.jsonl",
        "weights.npz",
        "oscillation.npz",
        "trajectories.npz",
    ] {
        let c = &r.files[f];
        assert_eq!(
            c.bytes,
            std::fs::metadata(dirs[0].join(f)).unwrap().len(),
            "{f}"
        );
        assert_eq!(c.md5.len(), 32, "{f}");
    }

    // Break one file of each of five runs (the result.json stays intact).
    let weights = dirs[0].join("weights.npz");
    let len = std::fs::metadata(&weights).unwrap().len();
    truncate(&weights, len / 2);
    truncate(&dirs[1].join("weights.npz"), 0);
    let metrics = dirs[2].join("metrics.jsonl");
    let text = std::fs::read_to_string(&metrics).unwrap();
    assert_eq!(text.lines().count(), EPOCHS);
    std::fs::write(&metrics, text.lines().next().unwrap().to_string() + "\n").unwrap();
    std::fs::remove_file(dirs[3].join("oscillation.npz")).unwrap();
    // Same size, one byte changed: only the checksum tells.
    let w4 = dirs[4].join("weights.npz");
    let mut bytes = std::fs::read(&w4).unwrap();
    let k = bytes.len() - 100;
    bytes[k] ^= 0x55;
    std::fs::write(&w4, &bytes).unwrap();
    for d in &dirs[..5] {
        assert!(
            RunDir::new(d).load_complete().is_none(),
            "{} taken as complete",
            d.display()
        );
    }
    // The one loader sees the 11 intact runs only.
    let found = find_runs(std::slice::from_ref(&out)).unwrap();
    assert_eq!(found.runs.len(), RUNS - 5);

    // A rerun redoes exactly those five, with the same bits.
    let err = ok_sweep(&data, &out, &["--jobs", "2"]);
    assert!(err.contains("11 already complete"), "{err}");
    assert_eq!(trained_now(&err), 5, "{err}");
    for (d, g) in dirs.iter().zip(&golden) {
        assert!(RunDir::new(d).load_complete().is_some(), "{}", d.display());
        assert_eq!(&std::fs::read(d.join("weights.npz")).unwrap(), g);
    }
    assert_eq!(summary, summary_without_seconds(&out.join("summary.csv")));
    let lines = std::fs::read_to_string(&metrics).unwrap().lines().count();
    assert_eq!(lines, EPOCHS);
}

#[test]
fn an_older_result_without_checks_needs_its_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 400, 100);
    let run = tmp.path().join("run");
    let o = run_train(&data, &run);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Drop the `files` map, as in a result.json of an older aqnn.
    let path = run.join("result.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(v["files"].is_object(), "{v}");
    v.as_object_mut().unwrap().remove("files");
    std::fs::write(&path, v.to_string()).unwrap();
    let rd = RunDir::new(&run);
    assert!(rd.load_complete().is_some_and(|r| r.files.is_empty()));
    // Trusted as before, but its files must be there and not empty.
    truncate(&run.join("weights.npz"), 0);
    assert!(rd.load_complete().is_none());
}

fn run_train(data: &Path, out: &Path) -> std::process::Output {
    aqnn()
        .args(["train", "--levels", "4", "--epochs", "2", "--data-dir"])
        .arg(data)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

#[test]
fn two_sweeps_into_one_directory_train_each_run_once() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 1500, 100);
    let out = tmp.path().join("out");
    let spawn = || {
        aqnn()
            .args(sweep_args(&data, &out, &["--jobs", "1", "--epochs", "3"]))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let (ea, eb) = (
        String::from_utf8_lossy(&a.stderr).to_string(),
        String::from_utf8_lossy(&b.stderr).to_string(),
    );
    assert!(a.status.success() && b.status.success(), "{ea}\n{eb}");
    // Each run trained by exactly one of the two.
    assert_eq!(trained_now(&ea) + trained_now(&eb), RUNS, "{ea}\n{eb}");
    // Both summaries complete, and the same.
    let s = summary_without_seconds(&out.join("summary.csv"));
    assert_eq!(s.len(), 1 + RUNS);
    for d in run_dirs(&out) {
        assert!(RunDir::new(&d).load_complete().is_some());
        let m = std::fs::read_to_string(d.join("metrics.jsonl")).unwrap();
        assert_eq!(m.lines().count(), 3, "{}", d.display());
    }
    // The same sweep alone gives the same summary.
    let alone = tmp.path().join("alone");
    ok_sweep(&data, &alone, &["--jobs", "2", "--epochs", "3"]);
    assert_eq!(s, summary_without_seconds(&alone.join("summary.csv")));
}

#[test]
fn a_held_run_is_waited_for_not_trained_again() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 400, 100);
    let out = tmp.path().join("out");
    ok_sweep(&data, &out, &["--jobs", "2"]);
    let dirs = run_dirs(&out);
    // Run 0 is being redone by "another process" (this test holds its lock).
    let result = std::fs::read(dirs[0].join("result.json")).unwrap();
    std::fs::remove_file(dirs[0].join("result.json")).unwrap();
    let lock = RunDir::new(&dirs[0]).lock(false).unwrap().expect("free");
    assert!(RunDir::new(&dirs[0]).lock(false).unwrap().is_none());
    let mut child = aqnn()
        .args(sweep_args(&data, &out, &["--jobs", "2"]))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the sweep did not wait"
    );
    // "The other process" finishes the run: the result is back, the lock released.
    std::fs::write(dirs[0].join("result.json"), result).unwrap();
    drop(lock);
    let o = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(trained_now(&err), 0, "{err}");
    assert!(
        err.contains("1 trained by another process meanwhile"),
        "{err}"
    );
    assert_eq!(
        summary_without_seconds(&out.join("summary.csv")).len(),
        1 + RUNS
    );
}

#[test]
fn collect_keeps_identical_copies_once_and_refuses_different_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 400, 100);
    let (s1, s2) = (tmp.path().join("s1"), tmp.path().join("s2"));
    ok_sweep(&data, &s1, &["--jobs", "2"]);
    ok_sweep(&data, &s2, &["--jobs", "1"]);
    let merged = tmp.path().join("merged");
    let collect = |out: &Path| {
        aqnn()
            .arg("collect")
            .arg(&s1)
            .arg(&s2)
            .arg("--out")
            .arg(out)
            .output()
            .unwrap()
    };
    // Trained twice (different --out, different timings): the same runs, kept once.
    let o = collect(&merged);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("16 identical copies kept once"), "{err}");
    assert_eq!(run_dirs(&merged).len(), RUNS);
    assert_eq!(
        summary_without_seconds(&merged.join("summary.csv")),
        summary_without_seconds(&s1.join("summary.csv"))
    );

    // A copy whose weights differ (and whose result.json says so): refused, both named.
    let id = run_dirs(&s2)[3].file_name().unwrap().to_owned();
    let other = s2.join(&id);
    let w = other.join("weights.npz");
    let mut bytes = std::fs::read(&w).unwrap();
    let k = bytes.len() - 100;
    bytes[k] ^= 1;
    std::fs::write(&w, &bytes).unwrap();
    let path = other.join("result.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let c = aqnn::store::FileCheck::of_bytes(&bytes);
    v["files"]["weights.npz"] = serde_json::to_value(&c).unwrap();
    std::fs::write(&path, v.to_string()).unwrap();
    assert!(RunDir::new(&other).load_complete().is_some());
    let fresh = tmp.path().join("fresh");
    let e = assert_clean_failure(&collect(&fresh));
    assert!(e.contains(&s1.join(&id).display().to_string()), "{e}");
    assert!(e.contains(&other.display().to_string()), "{e}");
    assert!(e.contains("files"), "{e}");
    assert!(!fresh.join("summary.csv").exists());

    // A different copy already in --out is refused too.
    let e = assert_clean_failure(
        &aqnn()
            .arg("collect")
            .arg(&s2)
            .arg("--out")
            .arg(&merged)
            .output()
            .unwrap(),
    );
    assert!(e.contains(&other.display().to_string()), "{e}");
    assert!(e.contains(&merged.join(&id).display().to_string()), "{e}");
}

#[test]
fn temp_file_names_are_recognised() {
    assert_eq!(temp_file_pid(".weights.npz.tmp.1234.7"), Some(1234));
    assert_eq!(temp_file_pid(".config.json.tmp1234"), Some(1234));
    assert_eq!(temp_file_pid(".summary.csv.tmp.99.0"), Some(99));
    for name in [
        "weights.npz",
        ".lock",
        "x.tmp.12.3",
        ".config.json.tmp",
        ".a.tmp.12.x",
        ".a.tmpx",
    ] {
        assert_eq!(temp_file_pid(name), None, "{name}");
    }
}

#[test]
fn stale_temp_files_are_cleaned_on_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 400, 100);
    let out = tmp.path().join("out");
    ok_sweep(&data, &out, &["--jobs", "2"]);
    let dirs = run_dirs(&out);
    let dead = dead_pid();
    let live = std::process::id();
    // A run killed while writing: its result is gone, temp files of a dead process remain.
    std::fs::remove_file(dirs[0].join("result.json")).unwrap();
    let in_run = [
        format!(".weights.npz.tmp.{dead}.3"),
        format!(".config.json.tmp{dead}"),
        format!(".result.json.tmp.{dead}.0"),
    ];
    for f in &in_run {
        std::fs::write(dirs[0].join(f), b"partial").unwrap();
    }
    // In the output directory: an old one of a dead process, a fresh one of a dead process
    // (maybe a writer on another machine: kept for now), one of a live process (kept).
    let old = out.join(format!(".summary.csv.tmp.{dead}.1"));
    let fresh = out.join(format!(".sweep.json.tmp.{dead}.2"));
    let alive = out.join(format!(".summary.csv.tmp.{live}.5"));
    for p in [&old, &fresh, &alive] {
        std::fs::write(p, b"x").unwrap();
    }
    let f = std::fs::File::options().write(true).open(&old).unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(f);
    // In a complete run: an old temp file of a dead process.
    let stale_in_complete = dirs[1].join(format!(".robustness.json.tmp.{dead}.0"));
    std::fs::write(&stale_in_complete, b"x").unwrap();
    let f = std::fs::File::options()
        .write(true)
        .open(&stale_in_complete)
        .unwrap();
    f.set_modified(SystemTime::now() - Duration::from_secs(3600))
        .unwrap();
    drop(f);

    let err = ok_sweep(&data, &out, &["--jobs", "2"]);
    assert_eq!(trained_now(&err), 1, "{err}");
    assert!(err.contains("removed 2 temporary file(s)"), "{err}");
    for f in &in_run {
        assert!(!dirs[0].join(f).exists(), "{f} left");
    }
    assert!(!old.exists() && !stale_in_complete.exists());
    assert!(fresh.exists() && alive.exists());
    // The library function on its own: a live process's file stays.
    assert_eq!(clean_stale_temp(&out, Duration::ZERO), 1);
    assert!(!fresh.exists() && alive.exists());
}

/// Runs fail (their directory cannot be created) and the summary cannot be written (its path
/// is a directory): the failed runs are printed first, then the error about the summary.
#[test]
fn failed_runs_are_printed_when_the_summary_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 400, 100);
    let out = tmp.path().join("out");
    ok_sweep(&data, &out, &["--jobs", "2"]);
    let dirs = run_dirs(&out);
    // Two runs cannot be redone: a file where the run directory should be.
    for d in &dirs[..2] {
        std::fs::remove_dir_all(d).unwrap();
        std::fs::write(d, b"in the way").unwrap();
    }
    std::fs::remove_file(out.join("summary.csv")).unwrap();
    std::fs::create_dir(out.join("summary.csv")).unwrap();
    std::fs::write(out.join("summary.csv").join("x"), b"x").unwrap();
    let o = aqnn().args(sweep_args(&data, &out, &[])).output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let lines: Vec<&str> = err.lines().collect();
    let failed: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].trim_start().starts_with("failed: "))
        .collect();
    assert_eq!(failed.len(), 2, "{err}");
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("error: ") && last.contains("summary"),
        "{err}"
    );
    assert!(failed.iter().all(|&i| i < lines.len() - 1), "{err}");
    // No temporary file left behind by the failed summary write.
    let temps: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .flatten()
        .filter(|e| temp_file_pid(e.file_name().to_str().unwrap()).is_some())
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

/// A real full disk: a 600 KiB tmpfs (needs root and `mount`; skipped with one line
/// otherwise). Runs fail with "No space left on device"; they are printed, no temporary file
/// is left, and after space is freed a rerun completes the sweep.
#[test]
fn a_full_disk_prints_the_failed_runs_and_leaves_no_temp_files() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 400, 100);
    let disk = tmp.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=600k", "tmpfs"])
        .arg(&disk)
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        skip_line("lost: cannot mount a tmpfs here (needs root): full-disk test not run");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(disk.clone());
    let out = disk.join("out");
    let o = aqnn()
        .args(sweep_args(&data, &out, &["--jobs", "1"]))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("ZipWriter"),
        "{err}"
    );
    assert!(err.contains("No space left on device"), "{err}");
    // Some runs fit (600 KiB, one at a time), the rest fail, and so does the summary: the
    // failed runs are listed, then the error about the summary.
    let lines: Vec<&str> = err.lines().collect();
    let failed = lines.iter().filter(|l| l.starts_with("  failed: ")).count();
    assert!(failed > 0 && failed < RUNS, "{err}");
    assert!(
        lines
            .last()
            .unwrap()
            .starts_with("error: cannot write the summary"),
        "{err}"
    );
    let mut temps = Vec::new();
    for d in std::iter::once(out.clone()).chain(run_dirs(&out)) {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if temp_file_pid(e.file_name().to_str().unwrap()).is_some() {
                temps.push(e.path());
            }
        }
    }
    assert!(temps.is_empty(), "{temps:?}");
    // Space freed (the runs moved to a roomy disk): a rerun completes every run.
    let roomy = tmp.path().join("roomy");
    std::fs::create_dir(&roomy).unwrap();
    for d in run_dirs(&out) {
        let dst = roomy.join(d.file_name().unwrap());
        std::fs::create_dir(&dst).unwrap();
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            std::fs::copy(e.path(), dst.join(e.file_name())).unwrap();
        }
    }
    ok_sweep(&data, &roomy, &["--jobs", "2"]);
    assert_eq!(
        summary_without_seconds(&roomy.join("summary.csv")).len(),
        1 + RUNS
    );
}

/// `aqnn train --out DIR` takes the run's lock as a sweep does: while another process holds
/// it, the command refuses with one line instead of writing into the same directory; once it
/// is free, the same command trains.
#[test]
fn train_out_refuses_a_locked_run_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 400, 100);
    let out = tmp.path().join("one");
    let held = aqnn::store::RunDir::new(&out)
        .lock(false)
        .unwrap()
        .expect("the lock is free");
    let o = run_train(&data, &out);
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("another aqnn process"), "{err}");
    assert!(
        !out.join("config.json").exists(),
        "nothing written while locked"
    );
    drop(held);
    let o = run_train(&data, &out);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.join("result.json").is_file());
}
