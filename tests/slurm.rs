//! Scale-out on a real engine: `scripts/slurm/cluster-test.sh` starts a one-node Slurm cluster
//! on this machine (installing the Debian packages `slurm-wlm` and `munge` when missing), runs
//! the README's job array (`aqnn sweep --shard I/4` as `sbatch --array=1-4`), collects the four
//! shards with `aqnn collect`, and compares the summary with the same sweep run in one piece.
//!
//! The script exits 77 when it cannot start Slurm here (not root, no apt-get, a daemon will not
//! start): the test then prints one line and passes, unless `AQNN_REQUIRE_SLURM=1` (which
//! `.ci/run` sets), where it fails. `AQNN_SLURM_NO_INSTALL=1` keeps it from running apt-get.
//! The data is a small synthetic KMNIST-format directory, so no real data set is needed.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// The script's exit status for "Slurm could not be started here".
const SKIP: i32 = 77;

#[test]
fn slurm_job_array_of_four_shards_equals_the_unsharded_sweep() {
    let require = std::env::var("AQNN_REQUIRE_SLURM").is_ok_and(|v| v == "1");
    let tmp = tempfile::tempdir().unwrap();
    let data = fixture_dir(tmp.path(), 600, 100);
    let out = tmp.path().join("out");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm/cluster-test.sh");
    let started = std::time::Instant::now();
    let res = Command::new("bash")
        .arg(&script)
        .arg(env!("CARGO_BIN_EXE_aqnn"))
        .env("AQNN_DATA_DIR", &data)
        .env("AQNN_SLURM_OUT", &out)
        .env("AQNN_SLURM_EPOCHS", "2")
        .env("AQNN_SLURM_LEVELS", "3..=6")
        .env("AQNN_SLURM_SEEDS", "2")
        .output();
    let res = match res {
        Ok(r) => r,
        Err(e) if !require => {
            eprintln!("skipped: cannot run bash {}: {e}", script.display());
            return;
        }
        Err(e) => panic!("AQNN_REQUIRE_SLURM=1 but bash cannot run the script: {e}"),
    };
    let err = String::from_utf8_lossy(&res.stderr);
    if res.status.code() == Some(SKIP) {
        let why = err
            .lines()
            .find(|l| l.contains("SKIP:"))
            .unwrap_or("no reason given");
        assert!(
            !require,
            "AQNN_REQUIRE_SLURM=1 but Slurm could not be started: {why}\n{err}"
        );
        eprintln!("skipped: Slurm cannot be started here ({why}); AQNN_REQUIRE_SLURM=1 makes this a failure");
        return;
    }
    assert!(
        res.status.success(),
        "the Slurm cluster test failed:\n{err}"
    );
    eprintln!(
        "slurm cluster test passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );

    // The four array tasks ran under one Slurm array job, as tasks 1..=4, on the node.
    let tasks = std::fs::read_to_string(out.join("tasks.txt")).unwrap();
    let mut rows: Vec<Vec<&str>> = tasks.lines().map(|l| l.split(' ').collect()).collect();
    rows.sort_by_key(|r| r[1].parse::<u32>().unwrap());
    assert_eq!(rows.len(), 4, "{tasks}");
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r.len(), 4, "array job, task, job, node: {tasks}");
        assert_eq!(r[0], rows[0][0], "one array job: {tasks}");
        assert_eq!(r[1], (i + 1).to_string(), "tasks 1..=4: {tasks}");
        assert!(!r[3].is_empty(), "{tasks}");
    }

    // The collected summary equals the unsharded one, timings aside: 4 levels x 2 seeds.
    let collected = summary_without_seconds(&out.join("collected.csv"));
    let whole = summary_without_seconds(&out.join("unsharded.csv"));
    assert_eq!(whole.len(), 1 + 4 * 2);
    assert_eq!(collected, whole);
}
