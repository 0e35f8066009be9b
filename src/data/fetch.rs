//! The official KMNIST files: names, md5 sums, download (streamed to `<name>.part`, md5-verified,
//! renamed into place) and an inventory of a data directory ([`info`]).

use std::fs::File;
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use md5::{Digest, Md5};

/// Where the official files live (the IDX and the npz files are in this one folder).
pub const BASE_URL: &str = "http://codh.rois.ac.jp/kmnist/dataset/kmnist/";

/// Environment variable overriding [`BASE_URL`] (a mirror, or a local server in tests).
pub const BASE_URL_ENV: &str = "AQNN_BASE_URL";

/// A file of the official release with its md5 sum and size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownFile {
    /// File name (no directory).
    pub name: &'static str,
    /// md5 of the file, lowercase hex.
    pub md5: &'static str,
    /// Size in bytes.
    pub bytes: u64,
}

const fn known(name: &'static str, md5: &'static str, bytes: u64) -> KnownFile {
    KnownFile { name, md5, bytes }
}

/// The four gzipped IDX files: train images, train labels, test images, test labels.
pub const IDX_FILES: [KnownFile; 4] = [
    known(
        "train-images-idx3-ubyte.gz",
        "bdb82020997e1d708af4cf47b453dcf7",
        18_165_135,
    ),
    known(
        "train-labels-idx1-ubyte.gz",
        "e144d726b3acfaa3e44228e80efcd344",
        29_497,
    ),
    known(
        "t10k-images-idx3-ubyte.gz",
        "5c965bf0a639b31b8f53240b1b52f4d7",
        3_041_136,
    ),
    known(
        "t10k-labels-idx1-ubyte.gz",
        "7320c461ea6c1c855c0b718fb2a4b134",
        5_120,
    ),
];

/// The same four IDX files decompressed (`gunzip` output), in the order of [`IDX_FILES`].
pub const IDX_RAW_FILES: [KnownFile; 4] = [
    known(
        "train-images-idx3-ubyte",
        "92be26ec9822e900ac425d0a0aa84ced",
        47_040_016,
    ),
    known(
        "train-labels-idx1-ubyte",
        "949e75301f8813e0dc5800dcc320fc52",
        60_008,
    ),
    known(
        "t10k-images-idx3-ubyte",
        "bf305b8cd328700fbc17f5acbc2856d2",
        7_840_016,
    ),
    known(
        "t10k-labels-idx1-ubyte",
        "9f55f451c0988b028eccdf7d5cc265ab",
        10_008,
    ),
];

/// The four .npz files, in the order of [`IDX_FILES`].
pub const NPZ_FILES: [KnownFile; 4] = [
    known(
        "kmnist-train-imgs.npz",
        "a183fbc01ed9a345513b145673d3d0bb",
        18_384_171,
    ),
    known(
        "kmnist-train-labels.npz",
        "b0e1d240e8afec72b50437fc3bc5908a",
        29_700,
    ),
    known(
        "kmnist-test-imgs.npz",
        "dace6de62ca8b90843cc45366337d02e",
        3_079_479,
    ),
    known(
        "kmnist-test-labels.npz",
        "3ae489a79983d0fe386152684e3b5412",
        5_304,
    ),
];

/// What [`fetch`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchReport {
    /// The data directory.
    pub dir: PathBuf,
    /// Files downloaded (and verified) now.
    pub downloaded: Vec<String>,
    /// Files already present with the right md5.
    pub skipped: Vec<String>,
}

impl std::fmt::Display for FetchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "data directory: {}", self.dir.display())?;
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        writeln!(f, "downloaded (md5 verified): {}", list(&self.downloaded))?;
        write!(f, "already present (md5 ok): {}", list(&self.skipped))
    }
}

/// The base URL: `$AQNN_BASE_URL` if set and non-empty, else [`BASE_URL`]; always ends in `/`.
pub fn base_url() -> String {
    base_url_from(std::env::var(BASE_URL_ENV).ok())
}

fn base_url_from(env: Option<String>) -> String {
    let mut url = env
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| BASE_URL.to_string());
    if !url.ends_with('/') {
        url.push('/');
    }
    url
}

/// Makes sure the four official IDX files are in `dir` with the right md5 sums, downloading
/// the missing or damaged ones from [`base_url`]. `progress` prints progress to stderr.
pub fn fetch(dir: &Path, progress: bool) -> Result<FetchReport> {
    let files: Vec<(&str, &str)> = IDX_FILES.iter().map(|f| (f.name, f.md5)).collect();
    fetch_files(dir, &base_url(), &files, progress)
}

/// The core of [`fetch`]: for each `(name, md5)`, skip it if `dir/name` has that md5, else
/// download `base_url + name` to `dir/name.part`, verify the md5 and rename it to `dir/name`.
pub fn fetch_files(
    dir: &Path,
    base_url: &str,
    files: &[(&str, &str)],
    progress: bool,
) -> Result<FetchReport> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("cannot create data directory {}", dir.display()))?;
    let mut report = FetchReport {
        dir: dir.to_path_buf(),
        downloaded: vec![],
        skipped: vec![],
    };
    let mut todo = vec![];
    for &(name, md5) in files {
        let path = dir.join(name);
        if path.is_file() && md5_file(&path)? == md5 {
            report.skipped.push(name.to_string());
        } else {
            todo.push((name, md5));
        }
    }
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        // HTTP(S)_PROXY / ALL_PROXY are honoured (ureq 2 ignores NO_PROXY), except for a
        // server on this machine.
        .try_proxy_from_env(!is_loopback(base_url))
        .build();
    for (i, &(name, md5)) in todo.iter().enumerate() {
        let url = format!("{base_url}{name}");
        let response = match agent.get(&url).set("Accept-Encoding", "identity").call() {
            Ok(r) => r,
            Err(ureq::Error::Status(code, _)) => {
                return Err(DownloadFailed::new(
                    dir,
                    base_url,
                    &todo[i..],
                    format!("server answered HTTP {code} for {url}"),
                )
                .into())
            }
            Err(e) => {
                return Err(DownloadFailed::new(
                    dir,
                    base_url,
                    &todo[i..],
                    format!("cannot download {url}: {e}"),
                )
                .into())
            }
        };
        let total = response
            .header("Content-Length")
            .and_then(|s| s.parse::<u64>().ok());
        download(
            response.into_reader(),
            dir,
            name,
            md5,
            &url,
            total,
            progress,
        )?;
        report.downloaded.push(name.to_string());
    }
    Ok(report)
}

/// Streams `body` to `dir/name.part`, checks the md5 and renames it to `dir/name`.
fn download(
    mut body: impl Read,
    dir: &Path,
    name: &str,
    expected: &str,
    url: &str,
    total: Option<u64>,
    progress: bool,
) -> Result<()> {
    let part = dir.join(format!("{name}.part"));
    let result = (|| -> Result<()> {
        let mut out = File::create(&part).with_context(|| {
            format!(
                "cannot create {} (is the directory writable?)",
                part.display()
            )
        })?;
        let mut hasher = Md5::new();
        let mut buf = vec![0u8; 1 << 16];
        let (mut done, mut shown) = (0u64, 0u64);
        loop {
            let k = body
                .read(&mut buf)
                .with_context(|| format!("download of {url} failed after {done} bytes"))?;
            if k == 0 {
                break;
            }
            hasher.update(&buf[..k]);
            out.write_all(&buf[..k])
                .with_context(|| format!("cannot write {}", part.display()))?;
            done += k as u64;
            if progress && (done - shown >= 1 << 20) {
                shown = done;
                let of = total
                    .map(|t| format!(" / {:.1}", t as f64 / 1e6))
                    .unwrap_or_default();
                eprint!("\r{name}: {:.1}{of} MB", done as f64 / 1e6);
            }
        }
        if progress {
            eprintln!("\r{name}: {:.1} MB done", done as f64 / 1e6);
        }
        out.sync_all()?;
        let actual = format!("{:x}", hasher.finalize());
        if actual != expected {
            bail!(
                "md5 mismatch for {url} ({done} bytes): expected {expected}, got {actual}; \
                 the download is damaged or the server sent a different file (removed {})",
                part.display()
            );
        }
        let dest = dir.join(name);
        std::fs::rename(&part, &dest)
            .with_context(|| format!("cannot rename {} to {}", part.display(), dest.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&part);
    }
    result
}

/// Whether `url` points at this machine (`localhost`, `127.x.x.x` or `[::1]`).
fn is_loopback(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = if rest.starts_with('[') {
        rest.split(']').next().unwrap_or("").trim_start_matches('[')
    } else {
        rest.split([':', '/']).next().unwrap_or("")
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A download failed: what went wrong, and the files to put in place by hand (a typed error,
/// so the command line can say which command and flag to use next).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}then check their md5 sums. Or use a directory that already holds the four IDX files \
     (AQNN_DATA_DIR=DIR sets the default).",
    self.problem()
)]
pub struct DownloadFailed {
    /// What went wrong.
    pub what: String,
    /// Where the files were to come from.
    pub base_url: String,
    /// The files still missing: (path, md5).
    pub files: Vec<(PathBuf, String)>,
}

impl DownloadFailed {
    fn new(dir: &Path, base_url: &str, files: &[(&str, &str)], what: String) -> Self {
        DownloadFailed {
            what,
            base_url: base_url.to_string(),
            files: files
                .iter()
                .map(|(name, md5)| (dir.join(name), md5.to_string()))
                .collect(),
        }
    }

    /// What went wrong and the files to place by hand, one per line (the text up to what to
    /// do next).
    pub fn problem(&self) -> String {
        let mut s = format!(
            "{}\nThe KMNIST files could not be downloaded (no network access?). \
             Put them in place by hand instead (from {} or a mirror):\n",
            self.what, self.base_url
        );
        for (path, md5) in &self.files {
            s.push_str(&format!("  {}  (md5 {md5})\n", path.display()));
        }
        s
    }
}

/// md5 of a file, lowercase hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let k = r
            .read(&mut buf)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if k == 0 {
            break;
        }
        hasher.update(&buf[..k]);
    }
    Ok(format!("{:x}", hasher.finalize()))
}

/// Result of comparing a file's md5 with the official one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Md5Status {
    /// Matches.
    Ok,
    /// Differs.
    Mismatch {
        /// The official md5.
        expected: String,
        /// The file's md5.
        actual: String,
    },
}

/// One official file as found in a data directory (see [`info`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// File name (for an absent IDX file, the `.gz` name).
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Whether the file exists.
    pub present: bool,
    /// Size in bytes, if present.
    pub size: Option<u64>,
    /// md5 check, if present.
    pub md5: Option<Md5Status>,
    /// For a present label file that parses with all labels < 10: images per class.
    pub class_counts: Option<[usize; 10]>,
    /// Why a present label file could not be read, if it could not.
    pub problem: Option<String>,
}

impl std::fmt::Display for FileInfo {
    /// One line per file, e.g. `train-labels-idx1-ubyte.gz  29497 bytes  md5 ok  per class: ...`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:<28}", self.name)?;
        if !self.present {
            return write!(f, "  MISSING ({})", self.path.display());
        }
        if let Some(size) = self.size {
            write!(f, "  {size:>9} bytes")?;
        }
        match &self.md5 {
            Some(Md5Status::Ok) => write!(f, "  md5 ok")?,
            Some(Md5Status::Mismatch { expected, actual }) => {
                write!(f, "  md5 MISMATCH (expected {expected}, got {actual})")?
            }
            None => {}
        }
        if let Some(c) = &self.class_counts {
            let c: Vec<String> = c.iter().map(|n| n.to_string()).collect();
            write!(f, "  per class: {}", c.join(" "))?;
        }
        if let Some(p) = &self.problem {
            write!(f, "  UNREADABLE: {p}")?;
        }
        Ok(())
    }
}

/// Inventory of `dir`: the four IDX files (`.gz`, or else their decompressed form; absent ones
/// listed under the `.gz` name) and those of the four .npz files that are present. Each present
/// file is md5-checked; label files are parsed and their class counts reported.
pub fn info(dir: &Path) -> Result<Vec<FileInfo>> {
    let mut out = vec![];
    for i in 0..4 {
        let (gz, raw) = (&IDX_FILES[i], &IDX_RAW_FILES[i]);
        let pick = if dir.join(raw.name).is_file() && !dir.join(gz.name).is_file() {
            raw
        } else {
            gz
        };
        out.push(inspect(dir, pick, i % 2 == 1, super::idx::read_labels)?);
    }
    for (i, f) in NPZ_FILES.iter().enumerate() {
        if dir.join(f.name).is_file() {
            out.push(inspect(dir, f, i % 2 == 1, super::npz::read_labels)?);
        }
    }
    Ok(out)
}

fn inspect(
    dir: &Path,
    f: &KnownFile,
    labels: bool,
    read_labels: fn(&Path) -> Result<Vec<u8>>,
) -> Result<FileInfo> {
    let path = dir.join(f.name);
    let mut fi = FileInfo {
        name: f.name.to_string(),
        path: path.clone(),
        present: path.is_file(),
        size: None,
        md5: None,
        class_counts: None,
        problem: None,
    };
    if !fi.present {
        return Ok(fi);
    }
    fi.size = Some(
        std::fs::metadata(&path)
            .with_context(|| format!("cannot stat {}", path.display()))?
            .len(),
    );
    let actual = md5_file(&path)?;
    fi.md5 = Some(if actual == f.md5 {
        Md5Status::Ok
    } else {
        Md5Status::Mismatch {
            expected: f.md5.to_string(),
            actual,
        }
    });
    if labels {
        match read_labels(&path).and_then(|l| super::class_counts(&l, &path)) {
            Ok(c) => fi.class_counts = Some(c),
            Err(e) => fi.problem = Some(format!("{e:#}")),
        }
    }
    Ok(fi)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::net::TcpListener;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn md5_hex(b: &[u8]) -> String {
        format!("{:x}", Md5::digest(b))
    }

    /// Serves `files` over HTTP on 127.0.0.1 (404 for other paths) from a background thread.
    /// Returns the base URL and a counter of requests served.
    fn serve(files: Vec<(&'static str, Vec<u8>)>) -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/data/", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                let _ = reader.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                }
                let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                let body = files
                    .iter()
                    .find(|(n, _)| path == format!("/data/{n}"))
                    .map(|(_, b)| b.clone());
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", b"not found".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(&body);
            }
        });
        (url, count)
    }

    #[test]
    fn downloads_verifies_and_skips() {
        let a = b"fake file a".to_vec();
        let b: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let (url, count) = serve(vec![("a.gz", a.clone()), ("b.gz", b.clone())]);
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub");
        let (ma, mb) = (md5_hex(&a), md5_hex(&b));
        let files = [("a.gz", ma.as_str()), ("b.gz", mb.as_str())];
        let r = fetch_files(&target, &url, &files, false).unwrap();
        assert_eq!(r.downloaded, vec!["a.gz", "b.gz"]);
        assert!(r.skipped.is_empty());
        assert_eq!(std::fs::read(target.join("a.gz")).unwrap(), a);
        assert_eq!(std::fs::read(target.join("b.gz")).unwrap(), b);
        assert_eq!(count.load(Ordering::SeqCst), 2);
        // Second run: nothing to do, no request.
        let r = fetch_files(&target, &url, &files, false).unwrap();
        assert_eq!(r.skipped, vec!["a.gz", "b.gz"]);
        assert_eq!(count.load(Ordering::SeqCst), 2);
        // A damaged file is downloaded again.
        std::fs::write(target.join("a.gz"), b"damaged").unwrap();
        let r = fetch_files(&target, &url, &files, false).unwrap();
        assert_eq!(
            (r.downloaded, r.skipped),
            (vec!["a.gz".to_string()], vec!["b.gz".to_string()])
        );
        assert_eq!(std::fs::read(target.join("a.gz")).unwrap(), a);
    }

    #[test]
    fn md5_mismatch_removes_part_and_reports_both_sums() {
        let (url, _) = serve(vec![("x.gz", b"served content".to_vec())]);
        let dir = tempfile::tempdir().unwrap();
        let want = "0123456789abcdef0123456789abcdef";
        let e = format!(
            "{:#}",
            fetch_files(dir.path(), &url, &[("x.gz", want)], false).unwrap_err()
        );
        assert!(e.contains("md5 mismatch") && e.contains(want), "{e}");
        assert!(e.contains(&md5_hex(b"served content")), "{e}");
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "no .part or file left"
        );
    }

    #[test]
    fn http_error_and_unreachable_give_manual_instructions() {
        let (url, _) = serve(vec![]);
        let dir = tempfile::tempdir().unwrap();
        let md5 = "0123456789abcdef0123456789abcdef";
        let e = format!(
            "{:#}",
            fetch_files(dir.path(), &url, &[("gone.gz", md5)], false).unwrap_err()
        );
        assert!(e.contains("HTTP 404"), "{e}");
        // Port 1 on localhost: connection refused.
        let files = [
            ("one.gz", md5),
            ("two.gz", "fedcba9876543210fedcba9876543210"),
        ];
        let e = format!(
            "{:#}",
            fetch_files(dir.path(), "http://127.0.0.1:1/", &files, false).unwrap_err()
        );
        for want in [
            dir.path().join("one.gz").display().to_string(),
            dir.path().join("two.gz").display().to_string(),
            md5.to_string(),
            "AQNN_DATA_DIR".to_string(),
        ] {
            assert!(e.contains(&want), "missing {want:?} in {e}");
        }
        assert!(
            !e.contains("--"),
            "no command-line flags in the library: {e}"
        );
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback("http://127.0.0.1:8000/data/"));
        assert!(is_loopback("http://localhost/x"));
        assert!(is_loopback("http://[::1]:80/"));
        assert!(!is_loopback(BASE_URL));
        assert!(!is_loopback("http://127.example.org/"));
    }

    #[test]
    fn base_url_override() {
        assert_eq!(base_url_from(None), BASE_URL);
        assert_eq!(base_url_from(Some("".into())), BASE_URL);
        assert_eq!(base_url_from(Some("http://m/x".into())), "http://m/x/");
        assert_eq!(base_url_from(Some("http://m/x/".into())), "http://m/x/");
    }

    #[test]
    fn info_reports_presence_md5_and_counts() {
        use crate::data::idx::{
            tests::{gzip, idx_bytes},
            LABELS_MAGIC,
        };
        let dir = tempfile::tempdir().unwrap();
        // Train labels: raw (decompressed) form only, wrong md5 of course; test labels: gz
        // with a label out of range.
        let train = idx_bytes(LABELS_MAGIC, &[4], &[0, 9, 9, 3]);
        std::fs::write(dir.path().join(IDX_RAW_FILES[1].name), &train).unwrap();
        let test = gzip(&idx_bytes(LABELS_MAGIC, &[2], &[1, 10]));
        std::fs::write(dir.path().join(IDX_FILES[3].name), &test).unwrap();
        let inf = info(dir.path()).unwrap();
        assert_eq!(inf.len(), 4);
        assert!(!inf[0].present && inf[0].name == IDX_FILES[0].name);
        assert_eq!(inf[1].name, IDX_RAW_FILES[1].name);
        assert_eq!(inf[1].size, Some(train.len() as u64));
        assert!(
            matches!(&inf[1].md5, Some(Md5Status::Mismatch { expected, actual })
            if expected == IDX_RAW_FILES[1].md5 && *actual == md5_hex(&train))
        );
        assert_eq!(inf[1].class_counts, Some([1, 0, 0, 1, 0, 0, 0, 0, 0, 2]));
        assert!(inf[3].present && inf[3].class_counts.is_none());
        assert!(
            inf[3].problem.as_deref().unwrap().contains("10"),
            "{:?}",
            inf[3].problem
        );
    }
}
