//! Minimal .npy / .npz reading and writing (the formats numpy reads).
//!
//! Supported: little-endian, C-order arrays of dtype `u8` (`|u1`), `i64` (`<i8`), `f32`
//! (`<f4`) and `f64` (`<f8`). Files are written as .npy format version 1.0 with the header
//! padded to a multiple of 64 bytes, exactly as `numpy.save` does; headers of versions 1.0,
//! 2.0 and 3.0 are read. An .npz is a zip of `<key>.npy` members: [`write_npz`] stores them
//! uncompressed (like `numpy.savez`), [`read_npz`] also reads deflated members (as written by
//! `numpy.savez_compressed`), with memory bounded on hostile input (see [`read_npz`]).
//!
//! Hand-written rather than npyz or ndarray-npy: both size their buffers from the file's own
//! header before reading the data, and neither bounds a decompression bomb
//! (docs/DEPENDENCIES.md).

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

const MAGIC: &[u8; 6] = b"\x93NUMPY";

/// The elements of an array, by dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyData {
    /// numpy `uint8` (`|u1`).
    U8(Vec<u8>),
    /// numpy `float32` (`<f4`).
    F32(Vec<f32>),
    /// numpy `float64` (`<f8`).
    F64(Vec<f64>),
    /// numpy `int64` (`<i8`).
    I64(Vec<i64>),
}

impl NpyData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            NpyData::U8(v) => v.len(),
            NpyData::F32(v) => v.len(),
            NpyData::F64(v) => v.len(),
            NpyData::I64(v) => v.len(),
        }
    }

    /// True if there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The numpy dtype descriptor (`'|u1'`, `'<f4'`, `'<f8'`, `'<i8'`).
    pub fn descr(&self) -> &'static str {
        match self {
            NpyData::U8(_) => "|u1",
            NpyData::F32(_) => "<f4",
            NpyData::F64(_) => "<f8",
            NpyData::I64(_) => "<i8",
        }
    }
}

/// An n-dimensional array in C (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct NpyArray {
    /// Dimensions; empty for a scalar (0-d array, one element).
    pub shape: Vec<usize>,
    /// Elements, row-major.
    pub data: NpyData,
}

impl NpyArray {
    /// An array, checking that the number of elements matches the shape.
    pub fn new(shape: Vec<usize>, data: NpyData) -> Result<Self> {
        let n = element_count(&shape)?;
        if n != data.len() {
            bail!(
                "array of shape {:?} needs {n} elements but {} were given",
                shape,
                data.len()
            );
        }
        Ok(NpyArray { shape, data })
    }

    /// A 1-d array.
    pub fn vector(data: NpyData) -> Self {
        NpyArray {
            shape: vec![data.len()],
            data,
        }
    }
}

fn element_count(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .with_context(|| format!("shape {shape:?} has too many elements"))
}

/// Serialises an array as a complete .npy file (format 1.0).
pub fn to_npy_bytes(array: &NpyArray) -> Result<Vec<u8>> {
    let n = element_count(&array.shape)?;
    if n != array.data.len() {
        bail!(
            "array of shape {:?} has {} elements, expected {n}",
            array.shape,
            array.data.len()
        );
    }
    let shape = match array.shape.len() {
        1 => format!("({},)", array.shape[0]),
        _ => {
            let dims: Vec<String> = array.shape.iter().map(|d| d.to_string()).collect();
            format!("({})", dims.join(", "))
        }
    };
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape}, }}",
        array.data.descr()
    );
    // magic(6) + version(2) + len(2) + header + '\n' must be a multiple of 64.
    let unpadded = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - unpadded % 64) % 64));
    header.push('\n');
    let header_len = u16::try_from(header.len()).context("npy header longer than 65535 bytes")?;

    let mut out = Vec::with_capacity(10 + header.len() + n * 8);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&header_len.to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    match &array.data {
        NpyData::U8(v) => out.extend_from_slice(v),
        NpyData::F32(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        NpyData::F64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        NpyData::I64(v) => v
            .iter()
            .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
    }
    Ok(out)
}

/// Parses a complete .npy file held in memory. `what` names the source in error messages
/// (a path, or `file.npz:key.npy`).
pub fn parse_npy(bytes: &[u8], what: &str) -> Result<NpyArray> {
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        bail!("{what}: not a .npy file (bad magic bytes)");
    }
    let (header_len, start): (usize, usize) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => bail!("{what}: unsupported .npy format version {v}.{}", bytes[7]),
    };
    let body = start
        .checked_add(header_len)
        .filter(|&b| b <= bytes.len())
        .with_context(|| format!("{what}: truncated .npy header"))?;
    let header = std::str::from_utf8(&bytes[start..body])
        .with_context(|| format!("{what}: .npy header is not text"))?;
    let (descr, fortran, shape) =
        parse_header(header).with_context(|| format!("{what}: bad .npy header {header:?}"))?;
    if fortran {
        bail!("{what}: fortran_order arrays are not supported (save in C order)");
    }
    let n = element_count(&shape).with_context(|| what.to_string())?;
    let raw = &bytes[body..];
    let item = match descr.as_str() {
        "|u1" | "<u1" | "=u1" | "u1" => 1,
        "<f4" => 4,
        "<f8" | "<i8" => 8,
        other => bail!(
            "{what}: unsupported dtype {other:?} (supported: |u1, <i8, <f4, <f8, little-endian)"
        ),
    };
    let expected = n.saturating_mul(item);
    if raw.len() != expected {
        bail!(
            "{what}: size mismatch: shape {shape:?} of {descr} needs {expected} data bytes, \
             file has {}",
            raw.len()
        );
    }
    let data = match descr.as_str() {
        "<f4" => NpyData::F32(
            raw.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
        "<f8" => NpyData::F64(
            raw.chunks_exact(8)
                .map(|c| f64::from_le_bytes(arr8(c)))
                .collect(),
        ),
        "<i8" => NpyData::I64(
            raw.chunks_exact(8)
                .map(|c| i64::from_le_bytes(arr8(c)))
                .collect(),
        ),
        _ => NpyData::U8(raw.to_vec()),
    };
    Ok(NpyArray { shape, data })
}

fn arr8(c: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    a
}

/// Parses `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
fn parse_header(h: &str) -> Result<(String, bool, Vec<usize>)> {
    let descr = {
        let rest = after_key(h, "descr")?;
        let q = rest.chars().next().context("missing descr value")?;
        if q != '\'' && q != '"' {
            bail!("descr is not a string");
        }
        let end = rest[1..].find(q).context("unterminated descr string")?;
        rest[1..1 + end].to_string()
    };
    let fortran = {
        let rest = after_key(h, "fortran_order")?;
        if rest.starts_with("True") {
            true
        } else if rest.starts_with("False") {
            false
        } else {
            bail!("fortran_order is neither True nor False");
        }
    };
    let shape = {
        let rest = after_key(h, "shape")?;
        let inner = rest.strip_prefix('(').context("shape is not a tuple")?;
        let end = inner.find(')').context("unterminated shape tuple")?;
        inner[..end]
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.trim_end_matches('L')
                    .parse::<usize>()
                    .with_context(|| format!("bad dimension {s:?}"))
            })
            .collect::<Result<Vec<_>>>()?
    };
    Ok((descr, fortran, shape))
}

/// The text after `'key':` (whitespace trimmed).
fn after_key<'a>(h: &'a str, key: &str) -> Result<&'a str> {
    for q in ['\'', '"'] {
        let pat = format!("{q}{key}{q}");
        if let Some(i) = h.find(&pat) {
            let rest = h[i + pat.len()..].trim_start();
            let rest = rest.strip_prefix(':').context("missing ':' after key")?;
            return Ok(rest.trim_start());
        }
    }
    bail!("missing key '{key}'")
}

/// Writes one array as a .npy file (atomically: temp file in the same directory, then rename).
pub fn write_npy(path: &Path, array: &NpyArray) -> Result<()> {
    let bytes = to_npy_bytes(array).with_context(|| format!("writing {}", path.display()))?;
    write_atomic(path, |w| w.write_all(&bytes).map_err(Into::into))
}

/// Reads one .npy file.
pub fn read_npy(path: &Path) -> Result<NpyArray> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse_npy(&bytes, &path.display().to_string())
}

/// Writes arrays as an uncompressed .npz (`numpy.load` gives them back under their keys).
/// Atomic: written to a temp file in the same directory, then renamed into place.
pub fn write_npz(path: &Path, arrays: &[(&str, NpyArray)]) -> Result<()> {
    write_atomic(path, |w| {
        let mut zip = zip::ZipWriter::new(w);
        let written = (|| -> Result<()> {
            for (key, array) in arrays {
                let bytes = to_npy_bytes(array).with_context(|| format!("array {key:?}"))?;
                let opts = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Stored)
                    .large_file(bytes.len() as u64 >= u32::MAX as u64);
                zip.start_file(format!("{key}.npy"), opts)?;
                zip.write_all(&bytes)?;
            }
            Ok(())
        })();
        match written {
            Ok(()) => {
                zip.finish()?;
                Ok(())
            }
            Err(e) => {
                // Dropping a ZipWriter finalizes it and prints "ZipWriter drop failed" to
                // stderr when that fails too (a full disk); the temp file is removed anyway,
                // so skip the drop (it only borrows the file).
                std::mem::forget(zip);
                Err(e)
            }
        }
    })
}

/// The most decompressed bytes [`read_npz`] accepts from one archive (all members together):
/// 2 GiB, ten times the largest KMNIST-family file (Kuzushiji-49's training images, 182 MB).
pub const NPZ_READ_LIMIT: u64 = 2 << 30;

/// Reads every array of an .npz, in archive order, keyed without the `.npy` suffix.
///
/// Memory is bounded on hostile input (a decompression bomb, or a zip directory that lies
/// about its sizes): each member is read only up to the uncompressed size the archive
/// declares for it, a member that inflates past that is an error, and the declared sizes of
/// all members together must stay within [`NPZ_READ_LIMIT`].
pub fn read_npz(path: &Path) -> Result<Vec<(String, NpyArray)>> {
    read_npz_limited(path, NPZ_READ_LIMIT)
}

/// [`read_npz`] with the limit on the total decompressed bytes as a parameter.
fn read_npz_limited(path: &Path, limit: u64) -> Result<Vec<(String, NpyArray)>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).with_context(|| {
        format!(
            "{} is not a valid .npz (zip) file: truncated or corrupt",
            path.display()
        )
    })?;
    let mut out = Vec::with_capacity(zip.len());
    let mut total = 0u64;
    for i in 0..zip.len() {
        let member = zip
            .by_index(i)
            .with_context(|| format!("{}: cannot open zip member {i}", path.display()))?;
        let name = member.name().to_string();
        let what = format!("{}:{name}", path.display());
        let declared = member.size();
        total = total.saturating_add(declared);
        if total > limit {
            bail!(
                "{what}: the archive declares {total} or more uncompressed bytes, over the \
                 limit of {limit} for one .npz (corrupt or not an .npz this program wrote \
                 or downloaded)"
            );
        }
        // Grow with the data actually inflated, never past the declared size (+1 to notice
        // a member that is longer than it says).
        let mut bytes = Vec::with_capacity(declared.min(1 << 26) as usize);
        member
            .take(declared + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("{what}: truncated or corrupt zip member"))?;
        if bytes.len() as u64 > declared {
            bail!(
                "{what}: inflates to more than the {declared} bytes the archive declares \
                 (corrupt or hostile file)"
            );
        }
        let key = name.strip_suffix(".npy").unwrap_or(&name).to_string();
        out.push((key, parse_npy(&bytes, &what)?));
    }
    Ok(out)
}

/// Runs `write` on a temp file next to `path`, then syncs and renames it over `path`.
/// On error the temp file is removed.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| -> Result<()> {
        let file =
            File::create(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {}", path.display()))
}

/// A temp file name next to `path`, unique per process and call.
fn temp_path(path: &Path) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let k = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp.{}.{k}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrays() -> Vec<(&'static str, NpyArray)> {
        vec![
            (
                "u8",
                NpyArray::new(vec![2, 3], NpyData::U8(vec![0, 1, 2, 253, 254, 255])).unwrap(),
            ),
            (
                "f32",
                NpyArray::vector(NpyData::F32(vec![-1.5, 0.0, f32::MAX, 1e-30])),
            ),
            (
                "f64",
                NpyArray::new(vec![], NpyData::F64(vec![std::f64::consts::PI])).unwrap(),
            ),
            (
                "i64",
                NpyArray::new(vec![1, 2, 1], NpyData::I64(vec![i64::MIN, 7])).unwrap(),
            ),
            (
                "empty",
                NpyArray::new(vec![0, 5], NpyData::U8(vec![])).unwrap(),
            ),
        ]
    }

    #[test]
    fn npy_round_trip_and_header_layout() {
        for (key, a) in arrays() {
            let bytes = to_npy_bytes(&a).unwrap();
            let hlen = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
            assert_eq!((10 + hlen) % 64, 0, "{key}");
            assert_eq!(bytes[10 + hlen - 1], b'\n');
            assert_eq!(parse_npy(&bytes, key).unwrap(), a, "{key}");
        }
    }

    #[test]
    fn header_text_matches_numpy() {
        let a = NpyArray::vector(NpyData::U8(vec![1, 2, 3]));
        let bytes = to_npy_bytes(&a).unwrap();
        let text = std::str::from_utf8(&bytes[10..]).unwrap();
        assert!(text.starts_with("{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }"));
    }

    #[test]
    fn npz_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npz");
        let arrays = arrays();
        write_npz(&path, &arrays).unwrap();
        let back = read_npz(&path).unwrap();
        assert_eq!(back.len(), arrays.len());
        for ((k1, a1), (k2, a2)) in arrays.iter().zip(&back) {
            assert_eq!(k1, k2);
            assert_eq!(a1, a2);
        }
        // No temp file left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn reads_deflated_npz() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.npz");
        let a = NpyArray::vector(NpyData::I64((0..1000).collect()));
        let mut zip = zip::ZipWriter::new(File::create(&path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("arr_0.npy", opts).unwrap();
        zip.write_all(&to_npy_bytes(&a).unwrap()).unwrap();
        zip.finish().unwrap();
        assert_eq!(read_npz(&path).unwrap(), vec![("arr_0".to_string(), a)]);
    }

    #[test]
    fn npy_file_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.npy");
        let a = NpyArray::new(vec![2, 2], NpyData::F32(vec![1.0, 2.0, 3.0, 4.0])).unwrap();
        write_npy(&path, &a).unwrap();
        assert_eq!(read_npy(&path).unwrap(), a);
    }

    fn err(bytes: &[u8]) -> String {
        format!("{:#}", parse_npy(bytes, "f.npy").unwrap_err())
    }

    fn with_header(header: &str, data: &[u8]) -> Vec<u8> {
        let mut b = MAGIC.to_vec();
        b.extend_from_slice(&[1, 0]);
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(data);
        b
    }

    #[test]
    fn errors_are_specific() {
        assert!(err(b"PK\x03\x04 not npy").contains("bad magic"));
        let e = err(&with_header(
            "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }\n",
            &[0; 4],
        ));
        assert!(
            e.contains("unsupported dtype") && e.contains("f.npy"),
            "{e}"
        );
        let e = err(&with_header(
            "{'descr': '|u1', 'fortran_order': True, 'shape': (2, 2), }\n",
            &[0; 4],
        ));
        assert!(e.contains("fortran_order"), "{e}");
        let e = err(&with_header(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }\n",
            &[0; 15],
        ));
        assert!(e.contains("size mismatch") && e.contains("16"), "{e}");
        let e = err(&with_header(
            "{'descr': '<f8', 'shape': (2,), }\n",
            &[0; 16],
        ));
        assert!(e.contains("fortran_order"), "{e}");
        let mut b = with_header(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (1,), }\n",
            &[0],
        );
        b.truncate(20);
        assert!(err(&b).contains("truncated"));
    }

    #[test]
    fn npz_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.npz");
        std::fs::write(&path, b"not a zip").unwrap();
        let e = format!("{:#}", read_npz(&path).unwrap_err());
        assert!(e.contains("bad.npz"), "{e}");
        let e = format!(
            "{:#}",
            read_npz(&dir.path().join("missing.npz")).unwrap_err()
        );
        assert!(e.contains("missing.npz"), "{e}");
    }

    /// A zip of one deflated member of `n` zero bytes (a small decompression bomb).
    fn zeros_zip(path: &Path, n: usize) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        zip.start_file("arr_0.npy", opts).unwrap();
        zip.write_all(&vec![0u8; n]).unwrap();
        zip.finish().unwrap();
    }

    #[test]
    fn decompression_bomb_stops_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bomb.npz");
        zeros_zip(&path, 8 << 20);
        assert!(std::fs::metadata(&path).unwrap().len() < 100_000);
        let e = format!("{:#}", read_npz_limited(&path, 1 << 20).unwrap_err());
        assert!(
            e.contains("bomb.npz:arr_0.npy") && e.contains("over the limit"),
            "{e}"
        );
    }

    #[test]
    fn member_longer_than_declared_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lie.npz");
        zeros_zip(&path, 1 << 20);
        // Shrink the declared uncompressed size (local header offset 22, central directory
        // offset 24) to 1000 bytes: the member now inflates past what it declares.
        let mut b = std::fs::read(&path).unwrap();
        for (sig, off) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
            let at = b.windows(4).position(|w| w == sig).unwrap() + off;
            b[at..at + 4].copy_from_slice(&1000u32.to_le_bytes());
        }
        std::fs::write(&path, &b).unwrap();
        let e = format!("{:#}", read_npz(&path).unwrap_err());
        assert!(
            e.contains("lie.npz:arr_0.npy") && e.contains("1000 bytes"),
            "{e}"
        );
    }

    proptest::proptest! {
        #[test]
        fn prop_round_trip(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
            ints in proptest::collection::vec(proptest::prelude::any::<i64>(), 0..50),
            floats in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..50),
        ) {
            let f64s: Vec<f64> = floats.iter().map(|&b| f64::from_bits(b)).collect();
            let f32s: Vec<f32> = floats.iter().map(|&b| f32::from_bits(b as u32)).collect();
            for a in [
                NpyArray::vector(NpyData::U8(bytes.clone())),
                NpyArray::vector(NpyData::I64(ints.clone())),
                NpyArray::vector(NpyData::F64(f64s.clone())),
                NpyArray::vector(NpyData::F32(f32s.clone())),
            ] {
                let back = parse_npy(&to_npy_bytes(&a).unwrap(), "p").unwrap();
                proptest::prop_assert_eq!(&back.shape, &a.shape);
                // Compare bits so that NaNs compare equal.
                let bits = |d: &NpyData| -> Vec<u64> {
                    match d {
                        NpyData::U8(v) => v.iter().map(|&x| x as u64).collect(),
                        NpyData::I64(v) => v.iter().map(|&x| x as u64).collect(),
                        NpyData::F64(v) => v.iter().map(|x| x.to_bits()).collect(),
                        NpyData::F32(v) => v.iter().map(|x| x.to_bits() as u64).collect(),
                    }
                };
                proptest::prop_assert_eq!(back.data.descr(), a.data.descr());
                proptest::prop_assert_eq!(bits(&back.data), bits(&a.data));
            }
        }
    }

    #[test]
    fn new_checks_shape() {
        assert!(NpyArray::new(vec![2, 2], NpyData::U8(vec![1, 2, 3])).is_err());
    }
}
