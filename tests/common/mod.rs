//! Shared helpers of the integration tests: synthetic KMNIST-format fixtures (never the real
//! files) and running the `aqnn` binary.
#![allow(dead_code)]

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// IDX bytes of `n` 28x28 images whose content depends on the label (so it is learnable).
pub fn idx_images(labels: &[u8], seed: u64) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 3];
    b.extend((labels.len() as u32).to_be_bytes());
    b.extend(28u32.to_be_bytes());
    b.extend(28u32.to_be_bytes());
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for &l in labels {
        for p in 0..784usize {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let noise = (state >> 59) as u8; // 0..31
            let on = (p / 28) % 10 == l as usize || (p % 28) % 10 == l as usize;
            let v = if on {
                200u8.saturating_add(noise)
            } else if noise > 20 {
                noise * 3
            } else {
                0
            };
            b.push(v);
        }
    }
    b
}

/// IDX bytes of labels.
pub fn idx_labels(labels: &[u8]) -> Vec<u8> {
    let mut b = vec![0, 0, 8, 1];
    b.extend((labels.len() as u32).to_be_bytes());
    b.extend_from_slice(labels);
    b
}

/// Gzip bytes.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Write a small KMNIST-format data directory (4 .gz IDX files) and return it.
pub fn fixture_dir(root: &Path, n_train: usize, n_test: usize) -> PathBuf {
    let dir = root.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let tr: Vec<u8> = (0..n_train).map(|i| (i % 10) as u8).collect();
    let te: Vec<u8> = (0..n_test).map(|i| ((i * 7) % 10) as u8).collect();
    std::fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        gz(&idx_images(&tr, 1)),
    )
    .unwrap();
    std::fs::write(dir.join("train-labels-idx1-ubyte.gz"), gz(&idx_labels(&tr))).unwrap();
    std::fs::write(
        dir.join("t10k-images-idx3-ubyte.gz"),
        gz(&idx_images(&te, 2)),
    )
    .unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), gz(&idx_labels(&te))).unwrap();
    dir
}

/// The aqnn binary with AQNN_DATA_DIR and AQNN_DATA_HOME removed (tests pass --data-dir
/// explicitly) and downloads pointed at a closed local port, so no test reaches the internet
/// (a test of the download path sets AQNN_BASE_URL to its own server).
pub fn aqnn() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_aqnn"));
    c.env_remove("AQNN_DATA_DIR");
    c.env_remove("AQNN_DATA_HOME");
    c.env("AQNN_BASE_URL", "http://127.0.0.1:1/");
    c
}

/// Run and return the output.
pub fn run(args: &[&str]) -> Output {
    aqnn().args(args).output().expect("the aqnn binary runs")
}

/// Assert a clean failure: non-zero exit, one `error:` line on stderr, no panic; return it.
pub fn assert_clean_failure(out: &Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        !out.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert!(
        !err.contains("panicked"),
        "panic instead of an error: {err}"
    );
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("error: "), "{err}");
    lines[0].to_string()
}

/// The real KMNIST folder, found where the CLI looks (`AQNN_DATA_DIR`, then
/// `AQNN_DATA_HOME/kmnist`, then the default cache). None, after one line on stderr saying how
/// to get the data, when the four files are not there; a panic instead when
/// `AQNN_REQUIRE_DATA=1` (as .ci/run sets).
pub fn real_data_dir() -> Option<PathBuf> {
    let dir = aqnn::data::resolve_data_dir(None);
    let spec = &aqnn::data::source::KMNIST;
    let present = spec
        .files
        .iter()
        .all(|f| dir.join(f.gz.name).is_file() || dir.join(f.raw.name).is_file());
    if present {
        return Some(dir);
    }
    let msg = format!(
        "the real KMNIST files are not in {} (looked in AQNN_DATA_DIR, AQNN_DATA_HOME/kmnist, \
         then ~/.cache/aqnn/kmnist): run `aqnn data fetch`, or set AQNN_DATA_DIR to a folder \
         with the four IDX files",
        dir.display()
    );
    if std::env::var("AQNN_REQUIRE_DATA").is_ok_and(|v| v == "1") {
        panic!("AQNN_REQUIRE_DATA=1 and {msg}");
    }
    skip_line(&msg);
    None
}

/// Prints `skipped: {msg}` once per test binary, straight to stderr (past libtest's capture,
/// so it is seen in a plain `cargo test` run).
pub fn skip_line(msg: &str) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(std::io::stderr(), "skipped: {msg}");
    });
}

/// Drop the `seconds` column of a summary.csv (timings differ between runs).
pub fn summary_without_seconds(path: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    let skip = headers.iter().position(|h| h == "seconds").unwrap();
    let mut rows = vec![headers.iter().map(String::from).collect::<Vec<_>>()];
    for rec in r.records() {
        let rec = rec.unwrap();
        rows.push(
            rec.iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, v)| v.to_string())
                .collect(),
        );
    }
    rows[0].remove(skip);
    rows
}

/// Minimal XML well-formedness check: one root element (named `root` when given), balanced
/// tags, quoted attributes, no stray `<` or `&` in text (entities `&name;` / `&#...;`).
pub fn check_xml(doc: &str, root: Option<&str>) -> Result<(), String> {
    let b = doc.as_bytes();
    let mut stack: Vec<String> = vec![];
    let mut i = 0;
    let mut roots = 0;
    let mut first_tag: Option<String> = None;
    while i < b.len() {
        if b[i] == b'<' {
            if doc[i..].starts_with("<?") {
                i += doc[i..].find("?>").ok_or("unterminated <?")? + 2;
                continue;
            }
            if doc[i..].starts_with("<!--") {
                i += doc[i..].find("-->").ok_or("unterminated comment")? + 3;
                continue;
            }
            if doc[i..].starts_with("<!") {
                i += doc[i..].find('>').ok_or("unterminated <!")? + 1;
                continue;
            }
            let closing = b.get(i + 1) == Some(&b'/');
            let mut j = i + if closing { 2 } else { 1 };
            let start = j;
            while j < b.len() && !b" \t\r\n/>".contains(&b[j]) {
                j += 1;
            }
            let name = doc[start..j].to_string();
            if name.is_empty() {
                return Err(format!("empty tag name at byte {i}"));
            }
            // Attributes, respecting quotes.
            let mut quote: Option<u8> = None;
            while j < b.len() {
                match (quote, b[j]) {
                    (None, b'"') | (None, b'\'') => quote = Some(b[j]),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'>') => break,
                    (None, b'<') => return Err(format!("'<' inside tag {name}")),
                    _ => {}
                }
                j += 1;
            }
            if j >= b.len() {
                return Err(format!("unterminated tag {name}"));
            }
            let self_closing = b[j - 1] == b'/';
            if closing {
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            } else {
                if stack.is_empty() {
                    roots += 1;
                }
                if first_tag.is_none() {
                    first_tag = Some(name.clone());
                }
                if !self_closing {
                    stack.push(name);
                }
            }
            i = j + 1;
        } else {
            if b[i] == b'&' {
                let end = doc[i..].find(';').ok_or("bare '&'")?;
                let ent = &doc[i + 1..i + end];
                let ok =
                    !ent.is_empty() && ent.chars().all(|c| c.is_ascii_alphanumeric() || c == '#');
                if !ok {
                    return Err(format!("bad entity &{ent};"));
                }
            }
            if !stack.is_empty() || b[i].is_ascii_whitespace() {
                i += 1;
                continue;
            }
            return Err(format!("text outside the root element at byte {i}"));
        }
    }
    if !stack.is_empty() {
        return Err(format!("unclosed tags {stack:?}"));
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    if root.is_some() && first_tag.as_deref() != root {
        return Err(format!("root is {first_tag:?}, not {root:?}"));
    }
    Ok(())
}
