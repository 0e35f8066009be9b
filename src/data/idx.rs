//! IDX reader (the MNIST/KMNIST format): unsigned-byte images (magic `0x00000803`, dims
//! N x rows x cols) and labels (magic `0x00000801`, dim N), big-endian header, gzip-compressed
//! or raw (gzip is detected by its magic bytes `1f 8b`, not by the file name).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use flate2::read::GzDecoder;

use super::Images;

/// Magic number of an IDX file of unsigned bytes with 3 dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// Magic number of an IDX file of unsigned bytes with 1 dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// Reads an IDX image file (`.gz` or raw) into one row-major buffer.
pub fn read_images(path: &Path) -> Result<Images> {
    let (mut r, gz) = open(path)?;
    let dims = read_header(&mut r, path, gz, IMAGES_MAGIC, 3)?;
    let (n, rows, cols) = (dims[0], dims[1], dims[2]);
    let data = read_body(&mut r, path, gz, &dims)?;
    Ok(Images {
        n,
        rows,
        cols,
        data,
    })
}

/// Reads an IDX label file (`.gz` or raw).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let (mut r, gz) = open(path)?;
    let dims = read_header(&mut r, path, gz, LABELS_MAGIC, 1)?;
    read_body(&mut r, path, gz, &dims)
}

/// Opens `path`, returning a reader of the decompressed bytes and whether it is gzip.
fn open(path: &Path) -> Result<(Box<dyn Read>, bool)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let head =
        io::BufRead::fill_buf(&mut r).with_context(|| format!("cannot read {}", path.display()))?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    if gz {
        Ok((Box::new(GzDecoder::new(r)), true))
    } else {
        Ok((Box::new(r), false))
    }
}

fn read_header(
    r: &mut dyn Read,
    path: &Path,
    gz: bool,
    magic: u32,
    ndims: usize,
) -> Result<Vec<usize>> {
    let mut buf = [0u8; 4];
    let mut word = |r: &mut dyn Read| -> Result<u32> {
        r.read_exact(&mut buf)
            .map_err(|e| read_error(e, path, gz))?;
        Ok(u32::from_be_bytes(buf))
    };
    let found = word(r)?;
    if found != magic {
        let kind = if magic == IMAGES_MAGIC {
            "image"
        } else {
            "label"
        };
        bail!(
            "{} is not an IDX {kind} file: magic number is 0x{found:08x}, expected 0x{magic:08x} \
             (unsigned bytes, {ndims} dimension{})",
            path.display(),
            if ndims == 1 { "" } else { "s" }
        );
    }
    (0..ndims).map(|_| Ok(word(r)? as usize)).collect()
}

/// Reads exactly the product of `dims` bytes, then checks that the file ends there.
fn read_body(r: &mut dyn Read, path: &Path, gz: bool, dims: &[usize]) -> Result<Vec<u8>> {
    let len = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .with_context(|| format!("{}: IDX dimensions {dims:?} are too large", path.display()))?;
    // Cap the up-front allocation so a corrupt header cannot request gigabytes.
    let mut data = Vec::with_capacity(len.min(1 << 28));
    r.take(len as u64)
        .read_to_end(&mut data)
        .map_err(|e| read_error(e, path, gz))?;
    if data.len() != len {
        bail!(
            "file {} is truncated: its header announces {dims:?} = {len} bytes of data but only \
             {} follow; re-download with `aqnn data fetch`",
            path.display(),
            data.len()
        );
    }
    // Reading on to the end also makes the gzip decoder verify its CRC and length.
    let mut extra = [0u8; 1];
    let more = r.read(&mut extra).map_err(|e| read_error(e, path, gz))?;
    if more != 0 {
        bail!(
            "file {} has data after the {len} bytes its IDX header announces ({dims:?}); \
             it is corrupt, re-download with `aqnn data fetch`",
            path.display()
        );
    }
    Ok(data)
}

fn read_error(e: io::Error, path: &Path, gz: bool) -> anyhow::Error {
    let what = if gz { "gzip stream" } else { "file" };
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData => {
            anyhow::anyhow!(
                "file {} is truncated or corrupt: {what} ended early or is invalid ({e}); \
                 re-download with `aqnn data fetch`",
                path.display()
            )
        }
        _ => anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// IDX bytes for `dims` and `data` with the given magic.
    pub(crate) fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut b = magic.to_be_bytes().to_vec();
        for d in dims {
            b.extend_from_slice(&d.to_be_bytes());
        }
        b.extend_from_slice(data);
        b
    }

    pub(crate) fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn image_data() -> Vec<u8> {
        (0..2 * 3 * 4).map(|i| (i * 10) as u8).collect()
    }

    #[test]
    fn reads_raw_and_gzip_images_and_labels() {
        let dir = tempfile::tempdir().unwrap();
        let img = idx_bytes(IMAGES_MAGIC, &[2, 3, 4], &image_data());
        let lab = idx_bytes(LABELS_MAGIC, &[5], &[9, 0, 3, 3, 1]);
        for (name, bytes) in [("raw", img.clone()), ("x.gz", gzip(&img))] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            let im = read_images(&p).unwrap();
            assert_eq!((im.n, im.rows, im.cols), (2, 3, 4));
            assert_eq!(im.data, image_data());
        }
        for (name, bytes) in [("lraw", lab.clone()), ("l.gz", gzip(&lab))] {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            assert_eq!(read_labels(&p).unwrap(), vec![9, 0, 3, 3, 1]);
        }
    }

    fn err_of(bytes: &[u8], labels: bool) -> (String, String) {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("file-under-test");
        std::fs::write(&p, bytes).unwrap();
        let e = if labels {
            read_labels(&p).map(|_| ())
        } else {
            read_images(&p).map(|_| ())
        };
        (format!("{:#}", e.unwrap_err()), p.display().to_string())
    }

    #[test]
    fn wrong_magic() {
        let lab = idx_bytes(LABELS_MAGIC, &[1], &[0]);
        let (e, p) = err_of(&lab, false);
        assert!(
            e.contains(&p) && e.contains("0x00000801") && e.contains("0x00000803"),
            "{e}"
        );
        let (e, _) = err_of(&gzip(&idx_bytes(IMAGES_MAGIC, &[1, 1, 1], &[0])), true);
        assert!(e.contains("not an IDX label file"), "{e}");
    }

    #[test]
    fn truncated_gzip_is_a_clear_error() {
        let gz = gzip(&idx_bytes(IMAGES_MAGIC, &[2, 3, 4], &image_data()));
        for cut in [3, gz.len() / 2, gz.len() - 4] {
            let (e, p) = err_of(&gz[..cut], false);
            assert!(e.contains(&p), "{e}");
            assert!(
                e.contains("truncated or corrupt") && e.contains("aqnn data fetch"),
                "{e}"
            );
        }
    }

    #[test]
    fn corrupt_gzip_crc_is_detected() {
        let mut gz = gzip(&idx_bytes(LABELS_MAGIC, &[3], &[1, 2, 3]));
        let n = gz.len();
        gz[n - 8] ^= 0xff; // CRC32 field of the gzip trailer
        let (e, _) = err_of(&gz, true);
        assert!(e.contains("truncated or corrupt"), "{e}");
    }

    #[test]
    fn truncated_and_overlong_raw_files() {
        let mut img = idx_bytes(IMAGES_MAGIC, &[2, 3, 4], &image_data());
        img.pop();
        let (e, p) = err_of(&img, false);
        assert!(
            e.contains(&p) && e.contains("truncated") && e.contains("23"),
            "{e}"
        );
        let (e, _) = err_of(&img[..6], false);
        assert!(e.contains("truncated"), "{e}");
        let lab = idx_bytes(LABELS_MAGIC, &[2], &[1, 2, 3]);
        let (e, _) = err_of(&lab, true);
        assert!(e.contains("data after"), "{e}");
    }

    #[test]
    fn missing_file_names_path() {
        let e = format!(
            "{:#}",
            read_labels(Path::new("/nonexistent/x-labels")).unwrap_err()
        );
        assert!(e.contains("/nonexistent/x-labels"), "{e}");
    }
}
