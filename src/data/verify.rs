//! Checking a dataset's files: md5 of a file or of its decompressed bytes, and the inventory
//! of a data folder that `aqnn data info` prints ([`info_for`]).
//!
//! A `.gz` verifies when its own md5 is the official one, or when its decompressed bytes have
//! the official decompressed md5 (a faithful re-compression, such as Debian's packages, differs
//! in the gzip container only). The decompressed file verifies by its md5.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use md5::{Digest, Md5};

use super::fetch::{KnownFile, NPZ_FILES};
use super::source::{DatasetSpec, OfficialFile, KMNIST};

fn md5_reader(mut r: impl Read, path: &Path) -> Result<String> {
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

/// md5 of a file, lowercase hex.
pub fn md5_file(path: &Path) -> Result<String> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    md5_reader(BufReader::with_capacity(1 << 16, file), path)
}

/// md5 of a gzip file's decompressed bytes (None if the file is not gzip). A second member or
/// trailing bytes are an error, as when the file is read for training.
pub fn gunzip_md5(path: &Path) -> Result<Option<String>> {
    let (mut s, gz) = super::idx::open(path)?;
    if !gz {
        return Ok(None);
    }
    let md5 = md5_reader(&mut s, path)?;
    s.check_end(path)?;
    Ok(Some(md5))
}

/// Result of comparing a file's md5 with the official one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Md5Status {
    /// Matches.
    Ok,
    /// A `.gz` whose own md5 differs but whose decompressed bytes have the official
    /// decompressed md5: a faithful re-compression.
    OkDecompressed,
    /// Differs.
    Mismatch {
        /// The official md5.
        expected: String,
        /// The file's md5.
        actual: String,
    },
}

impl Md5Status {
    /// True when the file verifies (either way).
    pub fn is_ok(&self) -> bool {
        !matches!(self, Md5Status::Mismatch { .. })
    }
}

/// Verifies `path` as the `.gz` form of `f` (its md5, else its decompressed md5).
pub fn verify_gz(path: &Path, f: &OfficialFile) -> Result<Md5Status> {
    let actual = md5_file(path)?;
    if actual == f.gz.md5 {
        return Ok(Md5Status::Ok);
    }
    // A file that fails to decompress simply does not verify.
    if let Ok(Some(inner)) = gunzip_md5(path) {
        if inner == f.raw.md5 {
            return Ok(Md5Status::OkDecompressed);
        }
    }
    Ok(Md5Status::Mismatch {
        expected: f.gz.md5.to_string(),
        actual,
    })
}

fn verify_plain(path: &Path, k: &KnownFile) -> Result<Md5Status> {
    let actual = md5_file(path)?;
    Ok(if actual == k.md5 {
        Md5Status::Ok
    } else {
        Md5Status::Mismatch {
            expected: k.md5.to_string(),
            actual,
        }
    })
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
    /// md5 check, if present and readable.
    pub md5: Option<Md5Status>,
    /// For a present label file that parses with all labels < 10: images per class.
    pub class_counts: Option<[usize; 10]>,
    /// Why a present file could not be read or parsed, if it could not.
    pub problem: Option<String>,
}

impl FileInfo {
    /// True when the file is present, readable and verifies.
    pub fn is_ok(&self) -> bool {
        self.present && self.problem.is_none() && self.md5.as_ref().is_some_and(Md5Status::is_ok)
    }
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
            Some(Md5Status::OkDecompressed) => {
                write!(f, "  md5 ok (decompressed bytes; a re-compressed copy)")?
            }
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

/// [`info_for`] of KMNIST.
pub fn info(dir: &Path) -> Result<Vec<FileInfo>> {
    info_for(&KMNIST, dir)
}

/// Inventory of `dir` for `spec`: the four IDX files (`.gz`, or else their decompressed form;
/// absent ones listed under the `.gz` name) and, for KMNIST, those of the four .npz files that
/// are present. Each present file is md5-checked; label files are parsed and their class
/// counts reported. A file that cannot be read is reported (`problem`), not an error.
pub fn info_for(spec: &DatasetSpec, dir: &Path) -> Result<Vec<FileInfo>> {
    let mut out = vec![];
    for (i, f) in spec.files.iter().enumerate() {
        let raw_only = dir.join(f.raw.name).is_file() && !dir.join(f.gz.name).is_file();
        let check = |p: &Path| {
            if raw_only {
                verify_plain(p, &f.raw)
            } else {
                verify_gz(p, f)
            }
        };
        let name = if raw_only { f.raw.name } else { f.gz.name };
        out.push(inspect(
            dir,
            name,
            &check,
            i % 2 == 1,
            super::idx::read_labels,
        ));
    }
    if spec.name == KMNIST.name {
        for (i, f) in NPZ_FILES.iter().enumerate() {
            if dir.join(f.name).is_file() {
                let check = |p: &Path| verify_plain(p, f);
                out.push(inspect(
                    dir,
                    f.name,
                    &check,
                    i % 2 == 1,
                    super::npz::read_labels,
                ));
            }
        }
    }
    Ok(out)
}

fn inspect(
    dir: &Path,
    name: &str,
    check: &dyn Fn(&Path) -> Result<Md5Status>,
    labels: bool,
    read_labels: fn(&Path) -> Result<Vec<u8>>,
) -> FileInfo {
    let path = dir.join(name);
    let mut fi = FileInfo {
        name: name.to_string(),
        path: path.clone(),
        present: path.is_file(),
        size: None,
        md5: None,
        class_counts: None,
        problem: None,
    };
    if !fi.present {
        return fi;
    }
    fi.size = std::fs::metadata(&path).ok().map(|m| m.len());
    match check(&path) {
        Ok(s) => fi.md5 = Some(s),
        Err(e) => {
            fi.problem = Some(format!("{e:#}"));
            return fi;
        }
    }
    if labels {
        match read_labels(&path).and_then(|l| super::class_counts(&l, &path)) {
            Ok(c) => fi.class_counts = Some(c),
            Err(e) => fi.problem = Some(format!("{e:#}")),
        }
    }
    fi
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fetch::{IDX_FILES, IDX_RAW_FILES};
    use crate::data::idx::tests::{gzip, idx_bytes};
    use crate::data::idx::LABELS_MAGIC;
    use std::io::Write;

    fn md5_hex(b: &[u8]) -> String {
        format!("{:x}", Md5::digest(b))
    }

    fn gzip_level(bytes: &[u8], level: u32) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::new(level));
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// A made-up official file: `content` gzipped at level 9 is "the release".
    fn official(content: &[u8]) -> (OfficialFile, Vec<u8>) {
        let gz = gzip_level(content, 9);
        // The md5 strings must live for 'static in KnownFile: leak them (tests only).
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        let f = OfficialFile {
            gz: crate::data::fetch::known("f.gz", leak(md5_hex(&gz)), gz.len() as u64),
            raw: crate::data::fetch::known("f", leak(md5_hex(content)), content.len() as u64),
        };
        (f, gz)
    }

    #[test]
    fn recompressed_copy_verifies_and_corrupted_one_fails() {
        let content = idx_bytes(LABELS_MAGIC, &[6], &[9, 0, 0, 3, 0, 2]);
        let (f, release) = official(&content);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.gz");
        std::fs::write(&p, &release).unwrap();
        assert_eq!(verify_gz(&p, &f).unwrap(), Md5Status::Ok);
        // The same bytes at another compression level: another container, same content.
        let copy = gzip_level(&content, 1);
        assert_ne!(copy, release);
        std::fs::write(&p, &copy).unwrap();
        assert_eq!(verify_gz(&p, &f).unwrap(), Md5Status::OkDecompressed);
        // One label changed, re-compressed: fails, naming the official .gz md5.
        let mut bad = content.clone();
        *bad.last_mut().unwrap() = 7;
        std::fs::write(&p, gzip_level(&bad, 1)).unwrap();
        let s = verify_gz(&p, &f).unwrap();
        assert!(
            matches!(&s, Md5Status::Mismatch { expected, .. } if expected == f.gz.md5),
            "{s:?}"
        );
        // A faithful copy with a byte appended after the gzip stream fails too.
        let mut tail = copy.clone();
        tail.push(0);
        std::fs::write(&p, &tail).unwrap();
        assert!(!verify_gz(&p, &f).unwrap().is_ok());
        // A flipped byte in the compressed data fails.
        let mut flip = release.clone();
        let k = flip.len() / 2;
        flip[k] ^= 0x55;
        std::fs::write(&p, &flip).unwrap();
        assert!(!verify_gz(&p, &f).unwrap().is_ok());
    }

    #[test]
    fn info_reports_presence_md5_and_counts() {
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
        assert!(!inf[0].is_ok() && !inf[1].is_ok());
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
