//! Datasets: KMNIST (the default), Fashion-MNIST, MNIST and the user's own .npz; readers
//! (IDX, npz), download + md5 verification, downsampling.
//!
//! [`load_dataset`] finds a dataset ([`source::locate`]), downloads missing files into the
//! default cache when allowed, and returns a [`Dataset`] of u8 images at side 7, 14 or 28.
//! [`load`] reads the four KMNIST files from one folder. Neither writes to a folder the user
//! named.

pub mod fetch;
pub mod idx;
pub mod npz;
pub mod resize;
pub mod source;
pub mod verify;

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use fetch::NPZ_FILES;
pub use source::{DatasetId, DATA_DIR_ENV, DATA_HOME_ENV};
use source::{DatasetSpec, KMNIST};

/// Key of a loaded dataset in a sweep: which dataset, at which resolution.
pub type DataKey = (DatasetId, usize);

/// Side of the images of the built-in datasets as stored.
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

/// The KMNIST folder: `cli` if given, else `$AQNN_DATA_DIR`, else `$AQNN_DATA_HOME/kmnist`
/// (or its `idx/`), else the per-user cache `$XDG_CACHE_HOME/aqnn/kmnist` or
/// `$HOME/.cache/aqnn/kmnist` (see [`source::locate`]).
pub fn resolve_data_dir(cli: Option<&Path>) -> PathBuf {
    source::locate(KMNIST.name, cli).dir
}

/// A dataset's train and test sets at one resolution.
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

    /// Share of the training images' pixels that are exactly 0 (black), and of the test
    /// images'.
    pub fn black_share(&self) -> (f64, f64) {
        let share = |x: &[u8]| x.iter().filter(|&&v| v == 0).count() as f64 / x.len().max(1) as f64;
        (share(&self.train_x), share(&self.test_x))
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

/// Which files hold the data in a directory.
struct Sources {
    paths: [PathBuf; 4],
    npz: bool,
}

/// Finds the four files of `spec` in `dir`: IDX (`.gz`, else decompressed), else (KMNIST)
/// the four .npz files.
fn find_sources(spec: &DatasetSpec, dir: &Path) -> Result<Sources> {
    if !dir.is_dir() {
        bail!(
            "data directory {} does not exist (or is not a directory).\n{}",
            dir.display(),
            what_to_do(spec)
        );
    }
    let idx: Vec<Option<PathBuf>> = (0..4)
        .map(|i| {
            [spec.files[i].gz.name, spec.files[i].raw.name]
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
    if spec.name == KMNIST.name && npz.iter().all(|p| p.is_file()) {
        return Ok(Sources {
            paths: npz,
            npz: true,
        });
    }
    let missing: Vec<&str> = (0..4)
        .filter(|&i| idx[i].is_none())
        .map(|i| spec.files[i].gz.name)
        .collect();
    let hint = ["idx", "npz"]
        .iter()
        .map(|sub| dir.join(sub))
        .find(|d| d.is_dir() && find_sources(spec, d).is_ok())
        .map(|d| {
            format!(
                "\nThey are in {}: use `--data-dir {}`.",
                d.display(),
                d.display()
            )
        })
        .unwrap_or_default();
    let also = if spec.name == KMNIST.name {
        "the uncompressed IDX files, or all four kmnist-*.npz files, also work"
    } else {
        "the uncompressed IDX files also work"
    };
    bail!(
        "{} files missing in data directory {}: {} ({also}).{hint}\n{}",
        spec.title,
        dir.display(),
        missing.join(", "),
        what_to_do(spec)
    )
}

fn what_to_do(spec: &DatasetSpec) -> String {
    let (fetch, env) = if spec.name == KMNIST.name {
        (
            "aqnn data fetch".to_string(),
            format!("(or set {DATA_DIR_ENV}=DIR) "),
        )
    } else {
        (
            format!("aqnn data fetch --dataset {}", spec.name),
            String::new(),
        )
    };
    format!(
        "Run `{fetch}` to download them, or pass `--data-dir DIR` {env}for a folder holding \
         the four IDX files ({}), or set {DATA_HOME_ENV}=ROOT for a folder with one sub-folder \
         per dataset (ROOT/{}/ or ROOT/{}/idx/).",
        spec.files.map(|f| f.gz.name).join(", "),
        spec.name,
        spec.name
    )
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

fn check_resolution(resolution: usize) -> Result<()> {
    if !RESOLUTIONS.contains(&resolution) {
        bail!("unsupported resolution {resolution}: must be 7, 14 or 28 (image side in pixels)");
    }
    Ok(())
}

/// Refuses an empty training or test set (one error naming the file).
fn check_not_empty(n: usize, what: &str, path: &Path) -> Result<()> {
    if n == 0 {
        bail!(
            "the {what} set is empty: {} holds 0 images; a run needs at least one training and \
             one test image",
            path.display()
        );
    }
    Ok(())
}

/// Loads `id` at side `resolution`: from `data_dir` if given, else from where
/// [`source::locate`] finds it. When the folder is the default cache and files are missing,
/// they are downloaded first if `download` (progress on stderr); a folder the user named is
/// never written to.
pub fn load_dataset(
    id: &DatasetId,
    data_dir: Option<&Path>,
    resolution: usize,
    download: bool,
) -> Result<Dataset> {
    check_resolution(resolution)?;
    let Some(spec) = id.spec() else {
        let DatasetId::Npz(path) = id else {
            unreachable!("every dataset but npz: has a spec")
        };
        if data_dir.is_some() {
            bail!("--data-dir does not apply to --dataset npz:PATH (the file is the dataset)");
        }
        return load_npz(path, resolution);
    };
    let loc = source::locate(spec.name, data_dir);
    if loc.is_cache() && download && find_sources(spec, &loc.dir).is_err() {
        eprintln!(
            "{} files not found in {}: downloading them (turn this off with --no-download)",
            spec.title,
            loc.dir.display()
        );
        let r = fetch::fetch_dataset(spec, &loc.dir, true)?;
        eprintln!("{r}");
    }
    load_idx(spec, &loc.dir, resolution)
}

/// Loads the user's dataset from an .npz (see [`npz::read_user`]) at side `resolution`: the
/// images are square with a side that `resolution` divides, box-downsampled as the others.
pub fn load_npz(path: &Path, resolution: usize) -> Result<Dataset> {
    check_resolution(resolution)?;
    let u = npz::read_user(path, N_CLASSES)?;
    if u.side % resolution != 0 {
        bail!(
            "{}: images are {s}x{s}, which cannot be reduced to {resolution}x{resolution}: \
             --resolution must divide the side (7, 14 or 28 that divides {s})",
            path.display(),
            s = u.side
        );
    }
    check_not_empty(u.train.1.len(), "training", path)?;
    check_not_empty(u.test.1.len(), "test", path)?;
    let down = |x: &[u8]| {
        resize::downsample(x, u.side, resolution)
            .with_context(|| format!("downsampling {}", path.display()))
    };
    Ok(Dataset {
        side: resolution,
        train_x: down(&u.train.0)?,
        train_y: u.train.1,
        test_x: down(&u.test.0)?,
        test_y: u.test.1,
    })
}

/// Loads KMNIST from `dir` (read-only) and downsamples the images to side `resolution`
/// (7: 4x4 box mean, 14: 2x2 box mean, 28: as stored; see [`resize`]).
pub fn load(dir: &Path, resolution: usize) -> Result<Dataset> {
    load_idx(&KMNIST, dir, resolution)
}

/// Loads the built-in dataset `spec` from `dir` (read-only) at side `resolution`.
pub fn load_idx(spec: &DatasetSpec, dir: &Path, resolution: usize) -> Result<Dataset> {
    check_resolution(resolution)?;
    let src = find_sources(spec, dir)?;
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
    let split = |xp: &Path, yp: &Path, what: &str| -> Result<(Vec<u8>, Vec<u8>)> {
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
        check_not_empty(x.n, what, xp)?;
        class_counts(&y, yp)?;
        let pixels = resize::downsample(&x.data, SOURCE_SIDE, resolution)
            .with_context(|| format!("downsampling {}", xp.display()))?;
        Ok((pixels, y))
    };
    let (train, test) = std::thread::scope(|s| {
        let test = s.spawn(|| split(test_xp, test_yp, "test"));
        let train = split(train_xp, train_yp, "training");
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
    use crate::data::fetch::{IDX_FILES, IDX_RAW_FILES};
    use crate::data::idx::tests::{gzip, idx_bytes};
    use crate::data::idx::{IMAGES_MAGIC, LABELS_MAGIC};
    use crate::data::npz::tests::{npy, write as write_npz};

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
                    let i64s: Vec<u8> = [8i64, 7, 0, 1, 4]
                        .iter()
                        .flat_map(|x| x.to_le_bytes())
                        .collect();
                    let arrays = [
                        npy("|u1", &[5, 28, 28], &images(5, 1)),
                        npy("<i8", &[5], &i64s),
                        npy("|u1", &[3, 28, 28], &images(3, 2)),
                        npy("|u1", &[3], &[2, 9, 3]),
                    ];
                    for (f, a) in NPZ_FILES.iter().zip(arrays) {
                        write_npz(&dir.path().join(f.name), &[("arr_0", a)]);
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
            e.contains("aqnn data fetch")
                && e.contains("--data-dir")
                && e.contains("AQNN_DATA_DIR")
        );
        write_idx(dir.path(), true);
        std::fs::remove_file(dir.path().join(IDX_FILES[2].name)).unwrap();
        let e = load_err(dir.path(), 7);
        assert!(e.contains(&format!(": {} (", IDX_FILES[2].name)), "{e}");
        assert!(
            e.contains(&dir.path().display().to_string()) && e.contains("aqnn data fetch"),
            "{e}"
        );
        // Files one level down are pointed out.
        let parent = tempfile::tempdir().unwrap();
        let sub = parent.path().join("idx");
        std::fs::create_dir(&sub).unwrap();
        write_idx(&sub, true);
        let e = load_err(parent.path(), 7);
        assert!(e.contains(&format!("--data-dir {}", sub.display())), "{e}");
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
    fn empty_training_or_test_set_is_refused() {
        for (which, what) in [(0, "training"), (2, "test")] {
            let dir = tempfile::tempdir().unwrap();
            write_idx(dir.path(), true);
            let (img, lab) = (
                gzip(&idx_bytes(IMAGES_MAGIC, &[0, 28, 28], &[])),
                gzip(&idx_bytes(LABELS_MAGIC, &[0], &[])),
            );
            std::fs::write(dir.path().join(IDX_FILES[which].name), img).unwrap();
            std::fs::write(dir.path().join(IDX_FILES[which + 1].name), lab).unwrap();
            let e = load_err(dir.path(), 7);
            assert!(
                e.contains(&format!("the {what} set is empty"))
                    && e.contains(IDX_FILES[which].name),
                "{e}"
            );
        }
        // The same for an npz dataset.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.npz");
        write_npz(
            &p,
            &[
                ("x_train", npy("|u1", &[2, 28, 28], &images(2, 1))),
                ("y_train", npy("|u1", &[2], &[1, 2])),
                ("x_test", npy("|u1", &[0, 28, 28], &[])),
                ("y_test", npy("|u1", &[0], &[])),
            ],
        );
        let e = format!("{:#}", load_npz(&p, 7).unwrap_err());
        assert!(e.contains("the test set is empty"), "{e}");
    }

    #[test]
    fn npz_dataset_loads_and_downsamples() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.npz");
        write_npz(
            &p,
            &[
                ("x_train", npy("|u1", &[5, 784], &images(5, 1))),
                ("y_train", npy("|u1", &[5], &[8, 7, 0, 1, 4])),
                ("x_test", npy("|u1", &[3, 28, 28], &images(3, 2))),
                ("y_test", npy("|u1", &[3], &[2, 9, 3])),
            ],
        );
        for side in RESOLUTIONS {
            let id = DatasetId::Npz(p.clone());
            check(&load_dataset(&id, None, side, false).unwrap(), side);
        }
        // 16x16 images cannot become 7x7.
        write_npz(
            &p,
            &[
                ("x_train", npy("|u1", &[1, 16, 16], &[0; 256])),
                ("y_train", npy("|u1", &[1], &[1])),
                ("x_test", npy("|u1", &[1, 16, 16], &[0; 256])),
                ("y_test", npy("|u1", &[1], &[1])),
            ],
        );
        let e = format!("{:#}", load_npz(&p, 7).unwrap_err());
        assert!(e.contains("16x16") && e.contains("7x7"), "{e}");
    }

    #[test]
    fn datasets_are_selected_by_folder_and_named_in_errors() {
        // A Fashion-MNIST folder given with --data-dir loads with the Fashion-MNIST spec.
        let dir = tempfile::tempdir().unwrap();
        write_idx(dir.path(), true);
        let ds = load_dataset(&DatasetId::FashionMnist, Some(dir.path()), 7, true).unwrap();
        check(&ds, 7);
        // A named folder without the files: an error naming the dataset and how to fetch it,
        // and nothing is downloaded into it even with downloads allowed.
        let empty = tempfile::tempdir().unwrap();
        let e = format!(
            "{:#}",
            load_dataset(&DatasetId::Mnist, Some(empty.path()), 7, true).unwrap_err()
        );
        assert!(
            e.contains("MNIST files missing") && e.contains("aqnn data fetch --dataset mnist"),
            "{e}"
        );
        assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0);
        let e = format!(
            "{:#}",
            load_dataset(&DatasetId::Npz("x.npz".into()), Some(empty.path()), 7, true).unwrap_err()
        );
        assert!(e.contains("--data-dir does not apply"), "{e}");
    }

    #[test]
    fn black_share_counts_exact_zeros() {
        let ds = Dataset {
            side: 1,
            train_x: vec![0, 1, 0, 0],
            train_y: vec![0; 4],
            test_x: vec![5, 0],
            test_y: vec![0; 2],
        };
        assert_eq!(ds.black_share(), (0.75, 0.5));
    }
}
