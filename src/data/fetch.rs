//! The official KMNIST files (names, md5 sums) and downloads of any built-in dataset: each file
//! is streamed to `<name>.part`, verified (its md5, or its decompressed md5, see
//! [`super::verify`]) and renamed into place; the official URL first, then the mirrors.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use md5::{Digest, Md5};

use super::source::{DatasetSpec, KMNIST};
pub use super::verify::{info, md5_file, FileInfo, Md5Status};

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

pub(crate) const fn known(name: &'static str, md5: &'static str, bytes: u64) -> KnownFile {
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

/// Makes sure the four official KMNIST IDX files are in `dir` ([`fetch_dataset`]).
pub fn fetch(dir: &Path, progress: bool) -> Result<FetchReport> {
    fetch_dataset(&KMNIST, dir, progress)
}

/// Makes sure the four IDX files of `spec` are in `dir` and verify, downloading the missing
/// or damaged ones from `$AQNN_BASE_URL` if set, else from the official URL and then the
/// mirrors. `progress` prints progress to stderr.
pub fn fetch_dataset(spec: &DatasetSpec, dir: &Path, progress: bool) -> Result<FetchReport> {
    let urls: Vec<String> = match std::env::var(BASE_URL_ENV).ok() {
        Some(u) if !u.trim().is_empty() => vec![base_url_from(Some(u))],
        _ => spec
            .urls
            .iter()
            .map(|u| base_url_from(Some(u.to_string())))
            .collect(),
    };
    let wants: Vec<Want> = spec
        .files
        .iter()
        .map(|f| Want {
            name: f.gz.name,
            md5: f.gz.md5,
            raw: Some((f.raw.name, f.raw.md5)),
        })
        .collect();
    fetch_core(dir, &urls, &wants, spec.title, progress)
}

/// One file to fetch: its name and md5, and the name and md5 of its decompressed form (a
/// `.gz` whose decompressed bytes match is accepted, and so is the decompressed file itself).
#[derive(Debug, Clone, Copy)]
struct Want<'a> {
    name: &'a str,
    md5: &'a str,
    raw: Option<(&'a str, &'a str)>,
}

impl Want<'_> {
    /// Whether `dir` already holds this file in a form that verifies.
    fn present(&self, dir: &Path) -> Result<bool> {
        let path = dir.join(self.name);
        if path.is_file() && self.verifies(&path)? {
            return Ok(true);
        }
        if let Some((raw, md5)) = self.raw {
            let p = dir.join(raw);
            if p.is_file() && md5_file(&p)? == md5 {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Whether the file at `path` (a download or a copy of this file) verifies.
    fn verifies(&self, path: &Path) -> Result<bool> {
        if md5_file(path)? == self.md5 {
            return Ok(true);
        }
        Ok(match self.raw {
            Some((_, md5)) => matches!(super::verify::gunzip_md5(path), Ok(Some(m)) if m == md5),
            None => false,
        })
    }
}

/// The core of [`fetch`] for tests: for each `(name, md5)`, skip it if `dir/name` has that
/// md5, else download `base_url + name` to `dir/name.part`, verify the md5 and rename it to
/// `dir/name`.
pub fn fetch_files(
    dir: &Path,
    base_url: &str,
    files: &[(&str, &str)],
    progress: bool,
) -> Result<FetchReport> {
    let wants: Vec<Want> = files
        .iter()
        .map(|&(name, md5)| Want {
            name,
            md5,
            raw: None,
        })
        .collect();
    fetch_core(dir, &[base_url.to_string()], &wants, "KMNIST", progress)
}

fn fetch_core(
    dir: &Path,
    urls: &[String],
    files: &[Want],
    title: &str,
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
    for w in files {
        if w.present(dir)? {
            report.skipped.push(w.name.to_string());
        } else {
            todo.push(*w);
        }
    }
    let local = urls.iter().all(|u| is_loopback(u));
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(20))
        .timeout_read(Duration::from_secs(60))
        // HTTP(S)_PROXY / ALL_PROXY are honoured (ureq 2 ignores NO_PROXY), except for a
        // server on this machine.
        .try_proxy_from_env(!local)
        .build();
    for (i, w) in todo.iter().enumerate() {
        let mut errors = vec![];
        for base in urls {
            match download_one(&agent, base, dir, w, progress) {
                Ok(()) => break,
                Err(e) => errors.push(format!("{e:#}")),
            }
        }
        if errors.len() == urls.len() {
            let pending: Vec<(&str, &str)> = todo[i..].iter().map(|w| (w.name, w.md5)).collect();
            bail!(
                "{}",
                manual_help(dir, &urls[0], &pending, title, &errors.join("\n"))
            );
        }
        report.downloaded.push(w.name.to_string());
    }
    Ok(report)
}

/// Downloads `base + w.name` into `dir` (through `<name>.part`) and verifies it.
fn download_one(
    agent: &ureq::Agent,
    base: &str,
    dir: &Path,
    w: &Want,
    progress: bool,
) -> Result<()> {
    let url = format!("{base}{}", w.name);
    let response = match agent.get(&url).set("Accept-Encoding", "identity").call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, _)) => bail!("server answered HTTP {code} for {url}"),
        Err(e) => bail!("cannot download {url}: {e}"),
    };
    let total = response
        .header("Content-Length")
        .and_then(|s| s.parse::<u64>().ok());
    download(response.into_reader(), dir, w, &url, total, progress)
}

/// Streams `body` to `dir/name.part`, checks it and renames it to `dir/name`.
fn download(
    mut body: impl Read,
    dir: &Path,
    w: &Want,
    url: &str,
    total: Option<u64>,
    progress: bool,
) -> Result<()> {
    let (name, expected) = (w.name, w.md5);
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
        if actual != expected && !w.verifies(&part)? {
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

/// The error text for a failed download: what went wrong and how to place the files by hand.
fn manual_help(
    dir: &Path,
    base_url: &str,
    files: &[(&str, &str)],
    title: &str,
    what: &str,
) -> String {
    let mut s = format!(
        "{what}\nThe {title} files could not be downloaded (no network access?). \
         Put them in place by hand instead (from {base_url} or a mirror):\n"
    );
    for (name, md5) in files {
        s.push_str(&format!("  {}  (md5 {md5})\n", dir.join(name).display()));
    }
    s.push_str(
        "then check them with `aqnn data info`. Or use a folder that already holds the four \
         IDX files: pass `--data-dir DIR`, set AQNN_DATA_DIR=DIR (KMNIST), or set \
         AQNN_DATA_HOME=ROOT for a folder with one sub-folder per dataset.",
    );
    s
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
            "--data-dir".to_string(),
            "AQNN_DATA_DIR".to_string(),
        ] {
            assert!(e.contains(&want), "missing {want:?} in {e}");
        }
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
}
