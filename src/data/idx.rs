//! IDX reader (the MNIST/KMNIST format): unsigned-byte images (magic `0x00000803`, dims
//! N x rows x cols) and labels (magic `0x00000801`, dim N), big-endian header, gzip-compressed
//! or raw (gzip is detected by its magic bytes `1f 8b`, not by the file name).
//!
//! Defences against damaged or hostile files: the size the header announces is checked against
//! [`MAX_IDX_BYTES`] before anything is allocated, the body is read in chunks as it actually
//! arrives (a header that lies costs only what the stream really holds), and a gzip file must
//! be exactly one member with nothing after it (a second member or trailing bytes are refused,
//! as `aqnn data info` refuses them by their md5).

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use flate2::bufread::GzDecoder;

/// Largest data section (bytes after the header) an IDX file may announce: 1 GiB. The
/// largest official file holds 47 MB; this bounds what a corrupt or hostile header can make
/// the reader allocate.
pub const MAX_IDX_BYTES: usize = 1 << 30;

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

/// A file's decompressed bytes: one gzip member, or the raw file.
pub(crate) enum Stream {
    /// A gzip file (its first member; [`Stream::check_end`] refuses anything after it).
    Gz(Box<GzDecoder<BufReader<File>>>),
    /// An uncompressed file.
    Raw(BufReader<File>),
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Gz(g) => g.read(buf),
            Stream::Raw(r) => r.read(buf),
        }
    }
}

impl Stream {
    /// After the decompressed stream ended: an error when the file holds more bytes (a
    /// second gzip member, or trailing garbage). Raw files have nothing after their end.
    pub(crate) fn check_end(&mut self, path: &Path) -> Result<()> {
        let Stream::Gz(g) = self else { return Ok(()) };
        let rest = g
            .get_mut()
            .fill_buf()
            .with_context(|| format!("cannot read {}", path.display()))?;
        if rest.is_empty() {
            return Ok(());
        }
        let what = if rest.starts_with(&[0x1f, 0x8b]) {
            "a second gzip member"
        } else {
            "trailing bytes"
        };
        bail!(
            "file {} has {what} after its gzip stream; it is corrupt or not the official file \
             (aqnn data info shows its md5), re-download with `aqnn data fetch`",
            path.display()
        )
    }
}

/// Opens `path`, returning a reader of the decompressed bytes and whether it is gzip.
pub(crate) fn open(path: &Path) -> Result<(Stream, bool)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut r = BufReader::with_capacity(1 << 16, file);
    let head = r
        .fill_buf()
        .with_context(|| format!("cannot read {}", path.display()))?;
    let gz = head.starts_with(&[0x1f, 0x8b]);
    if gz {
        Ok((Stream::Gz(Box::new(GzDecoder::new(r))), true))
    } else {
        Ok((Stream::Raw(r), false))
    }
}

fn read_header(
    r: &mut Stream,
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
fn read_body(r: &mut Stream, path: &Path, gz: bool, dims: &[usize]) -> Result<Vec<u8>> {
    let len = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .with_context(|| {
            format!(
                "{}: the IDX header announces dimensions {dims:?}, more than the {} MiB limit \
                 of one file; the file is corrupt or not a dataset file",
                path.display(),
                MAX_IDX_BYTES >> 20
            )
        })?;
    // Grow with the data that actually arrives (at most 16 MiB up front), so a header that
    // lies costs only what the stream really holds.
    let mut data = Vec::with_capacity(len.min(1 << 24));
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
    r.check_end(path)?;
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

    #[test]
    fn a_header_claiming_2_pow_31_images_fails_fast() {
        // 2^31 images of 28x28: 1.7 TB announced, a few bytes present.
        let bomb = gzip(&idx_bytes(IMAGES_MAGIC, &[1 << 31, 28, 28], &[0; 784]));
        let t = std::time::Instant::now();
        let (e, p) = err_of(&bomb, false);
        assert!(t.elapsed().as_secs_f64() < 1.0, "took {:?}", t.elapsed());
        assert!(e.contains(&p) && e.contains("1024 MiB limit"), "{e}");
        // Within the limit but far more than the stream holds: truncated, not allocated.
        let lie = gzip(&idx_bytes(IMAGES_MAGIC, &[1_000_000, 28, 28], &[0; 7840]));
        let (e, _) = err_of(&lie, false);
        assert!(e.contains("truncated") && e.contains("7840"), "{e}");
    }

    #[test]
    fn trailing_bytes_and_second_member_are_refused() {
        let lab = idx_bytes(LABELS_MAGIC, &[3], &[1, 2, 3]);
        let mut two = gzip(&lab);
        two.extend(gzip(b"more"));
        let (e, p) = err_of(&two, true);
        assert!(e.contains(&p) && e.contains("second gzip member"), "{e}");
        let mut junk = gzip(&lab);
        junk.extend(b"junk");
        let (e, _) = err_of(&junk, true);
        assert!(e.contains("trailing bytes"), "{e}");
        // A clean file still reads.
        let dir = tempfile::tempdir().unwrap();
        let ok = dir.path().join("ok.gz");
        std::fs::write(&ok, gzip(&lab)).unwrap();
        assert_eq!(read_labels(&ok).unwrap(), vec![1, 2, 3]);
    }
}
