//! Which dataset, and where its files are: [`DatasetId`] (`kmnist`, `fashion-mnist`, `mnist`
//! or `npz:PATH`), the official files of each built-in dataset ([`DatasetSpec`]: download URLs
//! with a mirror, md5 of each `.gz` and of its decompressed bytes), and [`locate`], which finds
//! a dataset's folder the way every command does:
//!
//! 1. `--data-dir DIR` (one dataset's folder);
//! 2. for KMNIST only, `$AQNN_DATA_DIR` (its meaning before there were other datasets);
//! 3. `$AQNN_DATA_HOME/<name>/idx` if that folder exists, else `$AQNN_DATA_HOME/<name>`;
//! 4. the per-user cache `$XDG_CACHE_HOME/aqnn/<name>` or `$HOME/.cache/aqnn/<name>`.
//!
//! Only the last one is ours to write into: missing files are downloaded there automatically
//! (unless `--no-download`); a folder the user named is never written to.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::fetch::{known, KnownFile, IDX_FILES, IDX_RAW_FILES};

/// Environment variable naming the KMNIST folder.
pub const DATA_DIR_ENV: &str = "AQNN_DATA_DIR";

/// Environment variable naming a root with one sub-folder per dataset.
pub const DATA_HOME_ENV: &str = "AQNN_DATA_HOME";

/// A dataset: one of the built-in ones, or the user's own `.npz` file.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum DatasetId {
    /// Kuzushiji-MNIST (the default; the seed's dataset).
    #[default]
    Kmnist,
    /// Zalando's Fashion-MNIST.
    FashionMnist,
    /// LeCun et al.'s MNIST.
    Mnist,
    /// The user's own data: an .npz with `x_train`, `y_train`, `x_test`, `y_test`.
    Npz(PathBuf),
}

impl DatasetId {
    /// True for the default (KMNIST); used to keep the key out of the canonical config JSON,
    /// so every run id from before datasets existed stays the same.
    pub fn is_kmnist(&self) -> bool {
        *self == DatasetId::Kmnist
    }

    /// The built-in dataset's files and URLs (None for `npz:`).
    pub fn spec(&self) -> Option<&'static DatasetSpec> {
        match self {
            DatasetId::Kmnist => Some(&KMNIST),
            DatasetId::FashionMnist => Some(&FASHION_MNIST),
            DatasetId::Mnist => Some(&MNIST),
            DatasetId::Npz(_) => None,
        }
    }

    /// Every built-in dataset.
    pub fn builtin() -> [DatasetId; 3] {
        [DatasetId::Kmnist, DatasetId::FashionMnist, DatasetId::Mnist]
    }
}

impl std::fmt::Display for DatasetId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatasetId::Npz(p) => write!(f, "npz:{}", p.display()),
            other => f.write_str(other.spec().map_or("", |s| s.name)),
        }
    }
}

/// Why a dataset name does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DatasetParseError {
    #[error(
        "dataset 'npz:' needs a file: npz:PATH (an .npz with x_train, y_train, x_test, y_test)"
    )]
    NpzWithoutPath,
    #[error("unknown dataset '{0}'; expected one of: kmnist, fashion-mnist, mnist, npz:PATH")]
    Unknown(String),
}

impl FromStr for DatasetId {
    type Err = DatasetParseError;

    fn from_str(s: &str) -> Result<Self, DatasetParseError> {
        let t = s.trim();
        if let Some(p) = t.strip_prefix("npz:") {
            if p.is_empty() {
                return Err(DatasetParseError::NpzWithoutPath);
            }
            return Ok(DatasetId::Npz(PathBuf::from(p)));
        }
        match t.to_ascii_lowercase().as_str() {
            "kmnist" => Ok(DatasetId::Kmnist),
            "fashion-mnist" | "fashion_mnist" | "fashionmnist" => Ok(DatasetId::FashionMnist),
            "mnist" => Ok(DatasetId::Mnist),
            _ => Err(DatasetParseError::Unknown(s.to_string())),
        }
    }
}

impl Serialize for DatasetId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DatasetId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// One of the four files of a built-in dataset, in both forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfficialFile {
    /// The official `.gz` (name, md5 of the .gz, size of the .gz).
    pub gz: KnownFile,
    /// The decompressed IDX file (name, md5 of the decompressed bytes, size).
    pub raw: KnownFile,
}

/// A built-in dataset: its name (also its cache folder), title, URLs and files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    /// `kmnist`, `fashion-mnist` or `mnist`: the `--dataset` value and the folder name.
    pub name: &'static str,
    /// Human name, e.g. `Fashion-MNIST`.
    pub title: &'static str,
    /// Base URLs, official first, then mirrors (each ends in `/`).
    pub urls: &'static [&'static str],
    /// Train images, train labels, test images, test labels.
    pub files: [OfficialFile; 4],
}

const fn pair(gz: KnownFile, raw: KnownFile) -> OfficialFile {
    OfficialFile { gz, raw }
}

/// KMNIST (Clanuwat et al. 2018), CODH. The https address of the same server is the only
/// second source known: there is no independent mirror of the IDX release.
pub const KMNIST: DatasetSpec = DatasetSpec {
    name: "kmnist",
    title: "KMNIST",
    urls: &[
        super::fetch::BASE_URL,
        "https://codh.rois.ac.jp/kmnist/dataset/kmnist/",
    ],
    files: [
        pair(IDX_FILES[0], IDX_RAW_FILES[0]),
        pair(IDX_FILES[1], IDX_RAW_FILES[1]),
        pair(IDX_FILES[2], IDX_RAW_FILES[2]),
        pair(IDX_FILES[3], IDX_RAW_FILES[3]),
    ],
};

/// Fashion-MNIST (Xiao, Rasul, Vollgraf 2017): official .gz md5s from the release; the
/// decompressed md5s are those of any faithful copy (e.g. Debian's `dataset-fashion-mnist`).
pub const FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    title: "Fashion-MNIST",
    urls: &[
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
    files: [
        pair(
            known(
                "train-images-idx3-ubyte.gz",
                "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                26_421_880,
            ),
            known(
                "train-images-idx3-ubyte",
                "f4a8712d7a061bf5bd6d2ca38dc4d50a",
                47_040_016,
            ),
        ),
        pair(
            known(
                "train-labels-idx1-ubyte.gz",
                "25c81989df183df01b3e8a0aad5dffbe",
                29_515,
            ),
            known(
                "train-labels-idx1-ubyte",
                "9018921c3c673c538a1fc5bad174d6f9",
                60_008,
            ),
        ),
        pair(
            known(
                "t10k-images-idx3-ubyte.gz",
                "bef4ecab320f06d8554ea6380940ec79",
                4_422_102,
            ),
            known(
                "t10k-images-idx3-ubyte",
                "8181f5470baa50b63fa0f6fddb340f0a",
                7_840_016,
            ),
        ),
        pair(
            known(
                "t10k-labels-idx1-ubyte.gz",
                "bb300cfdad3c16e7a12a480ee83cd310",
                5_148,
            ),
            known(
                "t10k-labels-idx1-ubyte",
                "15d484375f8d13e6eb1aabb0c3f46965",
                10_008,
            ),
        ),
    ],
};

/// MNIST (LeCun, Cortes, Burges). Served by PyTorch's S3 bucket (what torchvision uses; the
/// original yann.lecun.com refuses scripted downloads) with Google's CVDF bucket as mirror.
/// The decompressed md5s are the ones widely published with the release.
pub const MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    title: "MNIST",
    urls: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    files: [
        pair(
            known(
                "train-images-idx3-ubyte.gz",
                "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                9_912_422,
            ),
            known(
                "train-images-idx3-ubyte",
                "6bbc9ace898e44ae57da46a324031adb",
                47_040_016,
            ),
        ),
        pair(
            known(
                "train-labels-idx1-ubyte.gz",
                "d53e105ee54ea40749a09fcbcd1e9432",
                28_881,
            ),
            known(
                "train-labels-idx1-ubyte",
                "a25bea736e30d166cdddb491f175f624",
                60_008,
            ),
        ),
        pair(
            known(
                "t10k-images-idx3-ubyte.gz",
                "9fb629c4189551a2d022fa330f9573f3",
                1_648_877,
            ),
            known(
                "t10k-images-idx3-ubyte",
                "2646ac647ad5339dbf082846283269ea",
                7_840_016,
            ),
        ),
        pair(
            known(
                "t10k-labels-idx1-ubyte.gz",
                "ec29112dd5afa0611ce80d1b7f02629c",
                4_542,
            ),
            known(
                "t10k-labels-idx1-ubyte",
                "27ae3e4e09519cfbb04c329615203637",
                10_008,
            ),
        ),
    ],
};

/// How a data folder was chosen (decides whether missing files may be downloaded into it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `--data-dir`.
    Flag,
    /// `$AQNN_DATA_DIR`.
    DataDirEnv,
    /// `$AQNN_DATA_HOME/<name>`.
    DataHome,
    /// The per-user cache: the only place files are downloaded to automatically.
    Cache,
}

/// A dataset's folder and how it was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLocation {
    /// The folder holding the four files.
    pub dir: PathBuf,
    /// Where the choice came from.
    pub origin: Origin,
}

impl DataLocation {
    /// True when the folder is aqnn's own cache (files may be downloaded into it).
    pub fn is_cache(&self) -> bool {
        self.origin == Origin::Cache
    }
}

fn env_path(k: &str) -> Option<PathBuf> {
    std::env::var_os(k)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// The folder of the built-in dataset `name` (see the module doc for the order).
pub fn locate(name: &str, cli: Option<&Path>) -> DataLocation {
    locate_from(
        name,
        cli,
        env_path(DATA_DIR_ENV),
        env_path(DATA_HOME_ENV),
        env_path("XDG_CACHE_HOME"),
        env_path("HOME"),
    )
}

pub(crate) fn locate_from(
    name: &str,
    cli: Option<&Path>,
    data_dir: Option<PathBuf>,
    data_home: Option<PathBuf>,
    xdg: Option<PathBuf>,
    home: Option<PathBuf>,
) -> DataLocation {
    let at = |dir: PathBuf, origin| DataLocation { dir, origin };
    if let Some(p) = cli {
        return at(p.to_path_buf(), Origin::Flag);
    }
    if name == KMNIST.name {
        if let Some(p) = data_dir {
            return at(p, Origin::DataDirEnv);
        }
    }
    if let Some(root) = data_home {
        let sub = root.join(name);
        let idx = sub.join("idx");
        return at(if idx.is_dir() { idx } else { sub }, Origin::DataHome);
    }
    // The XDG spec says relative values are invalid and must be ignored.
    let cache = xdg
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".aqnn-cache"));
    at(cache.join("aqnn").join(name), Origin::Cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_print_and_serialise() {
        for (s, id) in [
            ("kmnist", DatasetId::Kmnist),
            ("fashion-mnist", DatasetId::FashionMnist),
            ("mnist", DatasetId::Mnist),
            ("npz:/x/my.npz", DatasetId::Npz("/x/my.npz".into())),
        ] {
            assert_eq!(s.parse::<DatasetId>().unwrap(), id);
            assert_eq!(id.to_string(), s);
            let j = serde_json::to_string(&id).unwrap();
            assert_eq!(j, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<DatasetId>(&j).unwrap(), id);
        }
        assert_eq!("Fashion_MNIST".parse(), Ok(DatasetId::FashionMnist));
        let e = "cifar".parse::<DatasetId>().unwrap_err().to_string();
        assert!(e.contains("cifar") && e.contains("fashion-mnist"), "{e}");
        assert!("npz:"
            .parse::<DatasetId>()
            .unwrap_err()
            .to_string()
            .contains("npz:PATH"));
        assert!(serde_json::from_str::<DatasetId>("\"svhn\"").is_err());
    }

    #[test]
    fn every_spec_is_complete() {
        for id in DatasetId::builtin() {
            let s = id.spec().unwrap();
            assert_eq!(s.name, id.to_string());
            assert!(s.urls.len() >= 2, "{}: official URL and a mirror", s.name);
            for f in s.files {
                assert_eq!(f.gz.name, format!("{}.gz", f.raw.name));
                for m in [f.gz.md5, f.raw.md5] {
                    assert!(m.len() == 32 && m.bytes().all(|b| b.is_ascii_hexdigit()));
                }
            }
        }
    }

    #[test]
    fn location_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        let loc = |name, cli: Option<&str>, dd, dh, xdg, home| {
            locate_from(name, cli.map(Path::new), dd, dh, xdg, home)
        };
        let l = loc("mnist", Some("/cli"), p("/dd"), p("/dh"), None, p("/h"));
        assert_eq!((l.dir, l.origin), (PathBuf::from("/cli"), Origin::Flag));
        let l = loc("kmnist", None, p("/dd"), p("/dh"), None, p("/h"));
        assert_eq!(
            (l.dir, l.origin),
            (PathBuf::from("/dd"), Origin::DataDirEnv)
        );
        // AQNN_DATA_DIR names the KMNIST folder only.
        let l = loc("fashion-mnist", None, p("/dd"), p("/dh"), None, p("/h"));
        assert_eq!(
            (l.dir, l.origin),
            (PathBuf::from("/dh/fashion-mnist"), Origin::DataHome)
        );
        let l = loc("fashion-mnist", None, p("/dd"), None, p("/xdg"), p("/h"));
        assert_eq!(
            (l.dir.clone(), l.is_cache()),
            (PathBuf::from("/xdg/aqnn/fashion-mnist"), true)
        );
        let l = loc("kmnist", None, None, None, p("rel"), p("/h"));
        assert_eq!(l.dir, PathBuf::from("/h/.cache/aqnn/kmnist"));
        // AQNN_DATA_HOME/<name>/idx is used when it exists.
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("mnist/idx")).unwrap();
        let l = loc("mnist", None, None, Some(root.path().into()), None, None);
        assert_eq!(l.dir, root.path().join("mnist/idx"));
        let l = loc("kmnist", None, None, Some(root.path().into()), None, None);
        assert_eq!(l.dir, root.path().join("kmnist"));
    }
}
