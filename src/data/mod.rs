//! KMNIST data: readers (IDX, npz), download + md5 verification, downsampling.
//!
//! [`load`] reads the four official files from a data directory ([`resolve_data_dir`]) and
//! returns a [`Dataset`] of u8 images at side 7, 14 or 28. It never writes to the directory.

pub mod fetch;
pub mod idx;
pub mod npz;
pub mod resize;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use fetch::{IDX_FILES, IDX_RAW_FILES, NPZ_FILES};

/// Environment variable naming the data directory.
pub const DATA_DIR_ENV: &str = "AQNN_DATA_DIR";

/// Side of the KMNIST images as stored.
pub const SOURCE_SIDE: usize = 28;

/// Number of classes.
pub const N_CLASSES: usize = 10;

/// Image sides [`load`] can produce.
pub const RESOLUTIONS: [usize; 3] = [7, 14, 28];

/// Decoded images as stored in a file: `n` images of `rows x cols` bytes, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images {
    /// Number of images.
    pub n: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// All pixels, image after image.
    pub data: Vec<u8>,
}

/// The data directory: `cli` if given, else `$AQNN_DATA_DIR`, else the per-user cache
/// directory `$XDG_CACHE_HOME/aqnn/kmnist` or `$HOME/.cache/aqnn/kmnist` (else
/// `.aqnn-cache/kmnist` relative to the working directory, if neither variable is set).
pub fn resolve_data_dir(cli: Option<&Path>) -> PathBuf {
    let var = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    resolve_from(cli, var(DATA_DIR_ENV), var("XDG_CACHE_HOME"), var("HOME"))
}

fn resolve_from(
    cli: Option<&Path>,
    env: Option<PathBuf>,
    xdg: Option<PathBuf>,
    home: Option<PathBuf>,
) -> PathBuf {
    if let Some(p) = cli {
        return p.to_path_buf();
    }
    if let Some(p) = env {
        return p;
    }
    // The XDG spec says relative values are invalid and must be ignored.
    let cache = xdg
        .filter(|p| p.is_absolute())
        .or_else(|| home.map(|h| h.join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".aqnn-cache"));
    cache.join("aqnn").join("kmnist")
}

/// KMNIST train and test sets at one resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    /// Image side (7, 14 or 28).
    pub side: usize,
    /// Training images, `side * side` bytes each, row-major, concatenated.
    pub train_x: Vec<u8>,
    /// Training labels, 0..10.
    pub train_y: Vec<u8>,
    /// Test images, as `train_x`.
    pub test_x: Vec<u8>,
    /// Test labels, 0..10.
    pub test_y: Vec<u8>,
}

impl Dataset {
    /// Number of training images.
    pub fn n_train(&self) -> usize {
        self.train_y.len()
    }

    /// Number of test images.
    pub fn n_test(&self) -> usize {
        self.test_y.len()
    }

    /// Pixels per image (`side * side`).
    pub fn pixels(&self) -> usize {
        self.side * self.side
    }

    /// Histogram of the training images' pixel values: 256 counts, index = value.
    pub fn pixel_counts(&self) -> Vec<u64> {
        let mut counts = vec![0u64; 256];
        for &v in &self.train_x {
            counts[v as usize] += 1;
        }
        counts
    }
}

/// The KMNIST files are not in the data directory (a typed error, so the command line can
/// say which command and flag to use next).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{}\nDownload them (data::fetch), or use a directory holding the four IDX files ({}); \
     AQNN_DATA_DIR=DIR sets the default directory.",
    self.problem(),
    IDX_FILES.map(|f| f.name).join(", ")
)]
pub struct MissingData {
    /// The data directory.
    pub dir: PathBuf,
    /// False when the directory itself does not exist.
    pub dir_exists: bool,
    /// The files missing (of the compressed IDX set).
    pub missing: Vec<&'static str>,
    /// A sub-directory that holds every file.
    pub found_in: Option<PathBuf>,
}

impl MissingData {
    /// What is missing (the text up to what to do next).
    pub fn problem(&self) -> String {
        if !self.dir_exists {
            return format!(
                "data directory {} does not exist (or is not a directory).",
                self.dir.display()
            );
        }
        let mut s = format!(
            "KMNIST files missing in data directory {}: {} (the uncompressed IDX files, or all \
             four kmnist-*.npz files, also work).",
            self.dir.display(),
            self.missing.join(", ")
        );
        if let Some(d) = &self.found_in {
            s.push_str(&format!("\nThey are in {}.", d.display()));
        }
        s
    }
}

/// Which files hold the data in a directory.
struct Sources {
    paths: [PathBuf; 4],
    npz: bool,
}

/// Finds the four files in `dir`: IDX (`.gz`, else decompressed), else the four .npz files.
fn find_sources(dir: &Path) -> Result<Sources> {
    if !dir.is_dir() {
        return Err(MissingData {
            dir: dir.to_path_buf(),
            dir_exists: false,
            missing: Vec::new(),
            found_in: None,
        }
        .into());
    }
    let idx: Vec<Option<PathBuf>> = (0..4)
        .map(|i| {
            [IDX_FILES[i].name, IDX_RAW_FILES[i].name]
                .iter()
                .map(|n| dir.join(n))
                .find(|p| p.is_file())
        })
        .collect();
    if idx.iter().all(Option::is_some) {
        let paths = std::array::from_fn(|i| idx[i].clone().unwrap_or_default());
        return Ok(Sources { paths, npz: false });
    }
    let npz: [PathBuf; 4] = std::array::from_fn(|i| dir.join(NPZ_FILES[i].name));
    if npz.iter().all(|p| p.is_file()) {
        return Ok(Sources {
            paths: npz,
            npz: true,
        });
    }
    let missing: Vec<&str> = (0..4)
        .filter(|&i| idx[i].is_none())
        .map(|i| IDX_FILES[i].name)
        .collect();
    let found_in = ["idx", "npz"]
        .iter()
        .map(|sub| dir.join(sub))
        .find(|d| d.is_dir() && find_sources(d).is_ok());
    Err(MissingData {
        dir: dir.to_path_buf(),
        dir_exists: true,
        missing,
        found_in,
    }
    .into())
}

/// Images per class; errors (naming `path`) if a label is >= 10.
pub(crate) fn class_counts(labels: &[u8], path: &Path) -> Result<[usize; N_CLASSES]> {
    let mut counts = [0usize; N_CLASSES];
    for (i, &l) in labels.iter().enumerate() {
        match counts.get_mut(l as usize) {
            Some(c) => *c += 1,
            None => bail!(
                "{}: label {i} is {l}, but labels must be below {N_CLASSES}",
                path.display()
            ),
        }
    }
    Ok(counts)
}

/// Loads KMNIST from `dir` (read-only) and downsamples the images to side `resolution`
/// (7: 4x4 box mean, 14: 2x2 box mean, 28: as stored; see [`resize`]).
pub fn load(dir: &Path, resolution: usize) -> Result<Dataset> {
    if !RESOLUTIONS.contains(&resolution) {
        bail!("unsupported resolution {resolution}: must be 7, 14 or 28 (image side in pixels)");
    }
    let src = find_sources(dir)?;
    let read_images = if src.npz {
        npz::read_images
    } else {
        idx::read_images
    };
    let read_labels = if src.npz {
        npz::read_labels
    } else {
        idx::read_labels
    };
    let [train_xp, train_yp, test_xp, test_yp] = &src.paths;
    let split = |xp: &Path, yp: &Path| -> Result<(Vec<u8>, Vec<u8>)> {
        let (x, y) = std::thread::scope(|s| {
            let labels = s.spawn(|| read_labels(yp));
            let images = read_images(xp);
            let labels = labels
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("label reader panicked")));
            (images, labels)
        });
        let (x, y) = (x?, y?);
        if (x.rows, x.cols) != (SOURCE_SIDE, SOURCE_SIDE) {
            bail!(
                "{}: images are {}x{}, expected {SOURCE_SIDE}x{SOURCE_SIDE}",
                xp.display(),
                x.rows,
                x.cols
            );
        }
        if x.n != y.len() {
            bail!(
                "image and label counts disagree: {} has {} images but {} has {} labels",
                xp.display(),
                x.n,
                yp.display(),
                y.len()
            );
        }
        class_counts(&y, yp)?;
        let pixels = resize::downsample(&x.data, SOURCE_SIDE, resolution)
            .with_context(|| format!("downsampling {}", xp.display()))?;
        Ok((pixels, y))
    };
    let (train, test) = std::thread::scope(|s| {
        let test = s.spawn(|| split(test_xp, test_yp));
        let train = split(train_xp, train_yp);
        let test = test
            .join()
            .unwrap_or_else(|_| Err(anyhow::anyhow!("test set reader panicked")));
        (train, test)
    });
    let ((train_x, train_y), (test_x, test_y)) = (train?, test?);
    Ok(Dataset {
        side: resolution,
        train_x,
        train_y,
        test_x,
        test_y,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::idx::tests::{gzip, idx_bytes};
    use crate::data::idx::{IMAGES_MAGIC, LABELS_MAGIC};
    use crate::npy::{write_npz, NpyArray, NpyData};

    fn images(n: usize, seed: u8) -> Vec<u8> {
        (0..n * 784)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    /// Writes a fake KMNIST in IDX form: 5 train and 3 test images.
    fn write_idx(dir: &Path, gz: bool) {
        let files = [
            idx_bytes(IMAGES_MAGIC, &[5, 28, 28], &images(5, 1)),
            idx_bytes(LABELS_MAGIC, &[5], &[8, 7, 0, 1, 4]),
            idx_bytes(IMAGES_MAGIC, &[3, 28, 28], &images(3, 2)),
            idx_bytes(LABELS_MAGIC, &[3], &[2, 9, 3]),
        ];
        for (i, bytes) in files.iter().enumerate() {
            if gz {
                std::fs::write(dir.join(IDX_FILES[i].name), gzip(bytes)).unwrap();
            } else {
                std::fs::write(dir.join(IDX_RAW_FILES[i].name), bytes).unwrap();
            }
        }
    }

    fn check(ds: &Dataset, side: usize) {
        assert_eq!(
            (ds.side, ds.n_train(), ds.n_test(), ds.pixels()),
            (side, 5, 3, side * side)
        );
        assert_eq!(ds.train_y, vec![8, 7, 0, 1, 4]);
        assert_eq!(ds.test_y, vec![2, 9, 3]);
        assert_eq!(
            ds.train_x,
            resize::downsample(&images(5, 1), 28, side).unwrap()
        );
        assert_eq!(
            ds.test_x,
            resize::downsample(&images(3, 2), 28, side).unwrap()
        );
    }

    #[test]
    fn loads_gz_raw_and_npz_at_every_resolution() {
        for form in ["gz", "raw", "npz"] {
            let dir = tempfile::tempdir().unwrap();
            match form {
                "gz" => write_idx(dir.path(), true),
                "raw" => write_idx(dir.path(), false),
                _ => {
                    let arrays = [
                        NpyArray::new(vec![5, 28, 28], NpyData::U8(images(5, 1))).unwrap(),
                        NpyArray::vector(NpyData::I64(vec![8, 7, 0, 1, 4])),
                        NpyArray::new(vec![3, 28, 28], NpyData::U8(images(3, 2))).unwrap(),
                        NpyArray::vector(NpyData::U8(vec![2, 9, 3])),
                    ];
                    for (f, a) in NPZ_FILES.iter().zip(arrays) {
                        write_npz(&dir.path().join(f.name), &[("arr_0", a)]).unwrap();
                    }
                }
            }
            for side in RESOLUTIONS {
                check(&load(dir.path(), side).unwrap(), side);
            }
        }
    }

    fn load_err(dir: &Path, side: usize) -> String {
        format!("{:#}", load(dir, side).unwrap_err())
    }

    #[test]
    fn pixel_counts_histogram() {
        let ds = Dataset {
            side: 1,
            train_x: vec![0, 255, 3, 3],
            train_y: vec![0; 4],
            test_x: vec![7],
            test_y: vec![0],
        };
        let c = ds.pixel_counts();
        assert_eq!((c.len(), c[0], c[3], c[255], c[7]), (256, 1, 2, 1, 0));
    }

    #[test]
    fn bad_resolution() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), true);
        assert!(load_err(dir.path(), 8).contains("must be 7, 14 or 28"));
    }

    #[test]
    fn missing_dir_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let gone = dir.path().join("nope");
        let e = load_err(&gone, 7);
        assert!(
            e.contains(&gone.display().to_string()) && e.contains("does not exist"),
            "{e}"
        );
        assert!(
            e.contains("data::fetch") && e.contains("AQNN_DATA_DIR"),
            "{e}"
        );
        assert!(
            !e.contains("--"),
            "no command-line flags in the library: {e}"
        );
        write_idx(dir.path(), true);
        std::fs::remove_file(dir.path().join(IDX_FILES[2].name)).unwrap();
        let e = load_err(dir.path(), 7);
        assert!(e.contains(&format!(": {} (", IDX_FILES[2].name)), "{e}");
        assert!(
            e.contains(&dir.path().display().to_string()) && e.contains("data::fetch"),
            "{e}"
        );
        // Files one level down are pointed out.
        let parent = tempfile::tempdir().unwrap();
        let sub = parent.path().join("idx");
        std::fs::create_dir(&sub).unwrap();
        write_idx(&sub, true);
        let e = load_err(parent.path(), 7);
        assert!(
            e.contains(&format!("They are in {}.", sub.display())),
            "{e}"
        );
    }

    #[test]
    fn count_mismatch_names_both_files() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), true);
        let lab = gzip(&idx_bytes(LABELS_MAGIC, &[2], &[1, 2]));
        std::fs::write(dir.path().join(IDX_FILES[3].name), lab).unwrap();
        let e = load_err(dir.path(), 7);
        assert!(
            e.contains(IDX_FILES[2].name) && e.contains(IDX_FILES[3].name),
            "{e}"
        );
        assert!(e.contains("3 images") && e.contains("2 labels"), "{e}");
    }

    #[test]
    fn label_out_of_range() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), true);
        let lab = gzip(&idx_bytes(LABELS_MAGIC, &[5], &[1, 2, 3, 10, 4]));
        std::fs::write(dir.path().join(IDX_FILES[1].name), lab).unwrap();
        let e = load_err(dir.path(), 7);
        assert!(
            e.contains(IDX_FILES[1].name) && e.contains("label 3 is 10"),
            "{e}"
        );
    }

    #[test]
    fn wrong_image_size() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), true);
        let img = gzip(&idx_bytes(IMAGES_MAGIC, &[5, 14, 56], &images(5, 1)));
        std::fs::write(dir.path().join(IDX_FILES[0].name), img).unwrap();
        assert!(load_err(dir.path(), 7).contains("14x56"));
    }

    #[test]
    fn load_does_not_write() {
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), true);
        let before: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        load(dir.path(), 7).unwrap();
        let after: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(before.len(), after.len());
    }

    #[test]
    fn data_dir_resolution_order() {
        let p = |s: &str| Some(PathBuf::from(s));
        let cli = Path::new("/cli");
        assert_eq!(
            resolve_from(Some(cli), p("/env"), p("/xdg"), p("/home/u")),
            PathBuf::from("/cli")
        );
        assert_eq!(
            resolve_from(None, p("/env"), p("/xdg"), p("/home/u")),
            PathBuf::from("/env")
        );
        assert_eq!(
            resolve_from(None, None, p("/xdg"), p("/home/u")),
            PathBuf::from("/xdg/aqnn/kmnist")
        );
        assert_eq!(
            resolve_from(None, None, p("rel"), p("/home/u")),
            PathBuf::from("/home/u/.cache/aqnn/kmnist")
        );
        assert_eq!(
            resolve_from(None, None, None, p("/home/u")),
            PathBuf::from("/home/u/.cache/aqnn/kmnist")
        );
    }
}
