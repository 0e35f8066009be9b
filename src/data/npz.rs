//! .npz readers with bounded allocation: the KMNIST release (each file holds one array under
//! `arr_0`; images `uint8` (N, rows, cols), labels `uint8` or `int64` (N,)) and the user's own
//! dataset (`--dataset npz:PATH`: one file with `x_train`, `y_train`, `x_test`, `y_test`).
//!
//! The reader parses each member's .npy header itself, checks the size it announces against
//! [`MAX_NPZ_ARRAY_BYTES`] before allocating, reads the data in chunks as it arrives, and
//! refuses a member that holds more or less than its header says. So a small .npz that
//! decompresses to gigabytes (or claims to) fails fast, holding at most what it really has.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::Images;

/// Largest array (data bytes) an .npz member may announce: 1 GiB.
pub const MAX_NPZ_ARRAY_BYTES: usize = 1 << 30;

/// Element types the readers accept: unsigned or signed integers of 1, 2, 4 or 8 bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IntType {
    signed: bool,
    size: usize,
    big_endian: bool,
}

/// One array as stored: its dtype string, shape and raw little- or big-endian bytes.
#[derive(Debug)]
pub(crate) struct RawArray {
    descr: String,
    /// Shape, C order.
    pub shape: Vec<usize>,
    int: Option<IntType>,
    fortran: bool,
    bytes: Vec<u8>,
}

fn parse_descr(d: &str) -> Option<IntType> {
    let (order, rest) = d.split_at(1.min(d.len()));
    let big_endian = match order {
        "<" | "|" | "=" => false,
        ">" => true,
        _ => return None,
    };
    let signed = match rest.get(..1)? {
        "u" => false,
        "i" => true,
        _ => return None,
    };
    let size: usize = rest.get(1..)?.parse().ok()?;
    [1, 2, 4, 8].contains(&size).then_some(IntType {
        signed,
        size,
        big_endian,
    })
}

/// The value of `'key':` in a .npy header dict, up to the next `,` at depth 0 (or `}`).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (i, c) in rest.char_indices() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth -= 1,
            ',' | '}' if depth == 0 => return Some(rest[..i].trim()),
            _ => {}
        }
    }
    None
}

/// Reads one .npy member, bounded: header first, then exactly the bytes it announces.
fn read_member(mut r: impl Read, what: &str) -> Result<RawArray> {
    let bad = |m: &str| anyhow!("{what}: not a valid .npy array ({m})");
    let mut pre = [0u8; 8];
    r.read_exact(&mut pre)
        .map_err(|_| bad("shorter than the .npy preamble"))?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad("no \\x93NUMPY magic"));
    }
    let hlen = if pre[6] == 1 {
        let mut b = [0u8; 2];
        r.read_exact(&mut b).map_err(|_| bad("truncated header"))?;
        u16::from_le_bytes(b) as usize
    } else {
        let mut b = [0u8; 4];
        r.read_exact(&mut b).map_err(|_| bad("truncated header"))?;
        u32::from_le_bytes(b) as usize
    };
    if hlen > 1 << 16 {
        return Err(bad(&format!("header of {hlen} bytes")));
    }
    let mut h = vec![0u8; hlen];
    r.read_exact(&mut h).map_err(|_| bad("truncated header"))?;
    let header = String::from_utf8_lossy(&h).to_string();
    let descr = dict_value(&header, "descr")
        .map(|v| v.trim_matches(|c| c == '\'' || c == '"').to_string())
        .ok_or_else(|| bad("no 'descr' in the header"))?;
    let fortran = dict_value(&header, "fortran_order") == Some("True");
    let shape_s = dict_value(&header, "shape").ok_or_else(|| bad("no 'shape' in the header"))?;
    let shape: Vec<usize> = shape_s
        .trim_matches(|c| c == '(' || c == ')')
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad(&format!("shape {shape_s}")))?;
    let int = parse_descr(&descr);
    let item = int.map_or(1, |t| t.size);
    let len = shape
        .iter()
        .try_fold(item, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= MAX_NPZ_ARRAY_BYTES)
        .ok_or_else(|| {
            anyhow!(
                "{what}: the array header announces shape {shape:?} of {descr}, more than the \
                 {} MiB limit of one array; the file is corrupt or not a dataset",
                MAX_NPZ_ARRAY_BYTES >> 20
            )
        })?;
    if int.is_none() {
        // Not an integer array: its data is never needed, only the error about its dtype.
        return Ok(RawArray {
            descr,
            shape,
            int,
            fortran,
            bytes: vec![],
        });
    }
    let mut bytes = Vec::with_capacity(len.min(1 << 24));
    (&mut r)
        .take(len as u64)
        .read_to_end(&mut bytes)
        .with_context(|| format!("{what}: truncated or corrupt zip member"))?;
    if bytes.len() != len {
        bail!(
            "{what}: truncated: the header announces {shape:?} = {len} bytes but only {} follow",
            bytes.len()
        );
    }
    let mut extra = [0u8; 1];
    if r.read(&mut extra)
        .with_context(|| format!("{what}: corrupt zip member"))?
        != 0
    {
        bail!("{what}: holds more data than its header announces ({shape:?}); it is corrupt");
    }
    Ok(RawArray {
        descr,
        shape,
        int,
        fortran,
        bytes,
    })
}

/// Reads the arrays named in `keys` (each `None` when absent) plus the list of all keys.
pub(crate) fn read_arrays(
    path: &Path,
    keys: &[&str],
) -> Result<(Vec<Option<RawArray>>, Vec<String>)> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).with_context(|| {
        format!(
            "{} is not a valid .npz (zip) file: truncated or corrupt",
            path.display()
        )
    })?;
    let names: Vec<String> = zip
        .file_names()
        .map(|n| n.trim_end_matches(".npy").to_string())
        .collect();
    let mut out = vec![];
    for key in keys {
        let member = format!("{key}.npy");
        let what = format!("{}: array '{key}'", path.display());
        match zip.by_name(&member) {
            Ok(f) => out.push(Some(read_member(f, &what)?)),
            Err(zip::result::ZipError::FileNotFound) => out.push(None),
            Err(e) => return Err(anyhow!("{what}: cannot open its zip member: {e}")),
        }
    }
    Ok((out, names))
}

impl RawArray {
    /// The values as i64 (integer arrays only).
    fn ints(&self) -> Option<Vec<i64>> {
        let t = self.int?;
        Some(
            self.bytes
                .chunks_exact(t.size)
                .map(|c| {
                    let mut b = [0u8; 8];
                    if t.big_endian {
                        b[8 - t.size..].copy_from_slice(c);
                        b.reverse();
                    } else {
                        b[..t.size].copy_from_slice(c);
                    }
                    let u = u64::from_le_bytes(b);
                    if t.signed && t.size < 8 {
                        let shift = 64 - 8 * t.size as u32;
                        ((u << shift) as i64) >> shift
                    } else {
                        u as i64
                    }
                })
                .collect(),
        )
    }

    fn is_u8(&self) -> bool {
        self.int
            == Some(IntType {
                signed: false,
                size: 1,
                big_endian: false,
            })
            || self.descr == ">u1"
    }
}

/// Labels of `a` as u8 in `0..classes`; `what` names the array in errors.
fn labels_of(a: &RawArray, what: &str, classes: usize) -> Result<Vec<u8>> {
    if a.shape.len() != 1 {
        bail!("{what}: labels must have shape (N,), found {:?}", a.shape);
    }
    let v = a.ints().ok_or_else(|| {
        anyhow!(
            "{what}: labels must be integers (uint8, int64, ...), found dtype {}",
            a.descr
        )
    })?;
    v.iter()
        .enumerate()
        .map(|(i, &x)| {
            u8::try_from(x)
                .ok()
                .filter(|&l| (l as usize) < classes)
                .ok_or_else(|| {
                    anyhow!(
                        "{what}: label {i} is {x}, but labels must be 0 to {}",
                        classes - 1
                    )
                })
        })
        .collect()
}

/// The array under `arr_0` (or the only array in the file).
fn arr_0(path: &Path) -> Result<RawArray> {
    let (mut got, names) = read_arrays(path, &["arr_0"])?;
    if let Some(a) = got.pop().flatten() {
        return Ok(a);
    }
    if names.len() == 1 {
        let (mut got, _) = read_arrays(path, &[names[0].as_str()])?;
        if let Some(a) = got.pop().flatten() {
            return Ok(a);
        }
    }
    bail!("{}: no array 'arr_0' (keys: {names:?})", path.display())
}

/// Reads a KMNIST image .npz (`uint8`, shape (N, rows, cols)).
pub fn read_images(path: &Path) -> Result<Images> {
    let a = arr_0(path)?;
    let [n, rows, cols] = a.shape[..] else {
        bail!(
            "{}: images must have shape (N, rows, cols), found {:?}",
            path.display(),
            a.shape
        );
    };
    if !a.is_u8() {
        bail!(
            "{}: images must be uint8, found dtype {}",
            path.display(),
            a.descr
        );
    }
    Ok(Images {
        n,
        rows,
        cols,
        data: a.bytes,
    })
}

/// Reads a KMNIST label .npz (integers, shape (N,); values 0..=255 here, the class range is
/// checked by the loader).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let a = arr_0(path)?;
    labels_of(&a, &path.display().to_string(), 256)
}

/// The user's dataset (`--dataset npz:PATH`): square uint8 images and labels 0..`classes`.
#[derive(Debug)]
pub struct UserData {
    /// Side of the square images as stored.
    pub side: usize,
    /// Training images (`side * side` bytes each) and labels.
    pub train: (Vec<u8>, Vec<u8>),
    /// Test images and labels.
    pub test: (Vec<u8>, Vec<u8>),
}

/// Reads `x_train`, `y_train`, `x_test`, `y_test` from `path`. Images: uint8, shape
/// (N, S, S) or (N, S*S); labels: integers in `0..classes`, shape (N,). Every problem is one
/// error naming the file, the array and what is expected.
pub fn read_user(path: &Path, classes: usize) -> Result<UserData> {
    const KEYS: [&str; 4] = ["x_train", "y_train", "x_test", "y_test"];
    let (arrays, names) = read_arrays(path, &KEYS)?;
    let missing: Vec<&str> = KEYS
        .iter()
        .zip(&arrays)
        .filter(|(_, a)| a.is_none())
        .map(|(k, _)| *k)
        .collect();
    if !missing.is_empty() {
        bail!(
            "{}: missing array(s) {} (found: {}); a dataset .npz needs x_train, y_train, x_test, \
             y_test, e.g. np.savez(path, x_train=..., y_train=..., x_test=..., y_test=...)",
            path.display(),
            missing.join(", "),
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        );
    }
    let mut it = arrays.into_iter().flatten();
    let mut side = None;
    let mut split = |xk: &str, yk: &str| -> Result<(Vec<u8>, Vec<u8>)> {
        let (x, y) = (
            it.next().unwrap_or_else(|| unreachable!()),
            it.next().unwrap_or_else(|| unreachable!()),
        );
        let xw = format!("{}: {xk}", path.display());
        let yw = format!("{}: {yk}", path.display());
        if !x.is_u8() {
            bail!(
                "{xw}: images must be uint8 (0 = black .. 255), found dtype {}; convert with \
                 x.astype(np.uint8) after scaling to 0..255",
                x.descr
            );
        }
        if x.fortran && x.shape.len() > 1 {
            bail!("{xw}: Fortran-ordered arrays are not supported; save np.ascontiguousarray(x)");
        }
        let (n, s) = match x.shape[..] {
            [n, h, w] if h == w && h > 0 => (n, h),
            [n, d] if d > 0 && d.isqrt() * d.isqrt() == d => (n, d.isqrt()),
            _ => bail!(
                "{xw}: images must have shape (N, S, S) or (N, S*S) (square images), found {:?}",
                x.shape
            ),
        };
        match side {
            None => side = Some(s),
            Some(t) if t != s => bail!(
                "{xw}: images are {s}x{s} but the other split's are {t}x{t}; both must be the same"
            ),
            _ => {}
        }
        let labels = labels_of(&y, &yw, classes)?;
        if labels.len() != n {
            bail!(
                "{}: {xk} has {n} images but {yk} has {} labels",
                path.display(),
                labels.len()
            );
        }
        Ok((x.bytes, labels))
    };
    let train = split("x_train", "y_train")?;
    let test = split("x_test", "y_test")?;
    Ok(UserData {
        side: side.unwrap_or(0),
        train,
        test,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write;

    /// .npy bytes for `shape` and `descr` with the raw data `bytes`.
    pub(crate) fn npy(descr: &str, shape: &[usize], bytes: &[u8]) -> Vec<u8> {
        let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
        let shape = if dims.len() == 1 {
            format!("({},)", dims[0])
        } else {
            format!("({})", dims.join(", "))
        };
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend(bytes);
        b
    }

    /// Writes an .npz of `(key, npy bytes)` members (deflated).
    pub(crate) fn write(path: &Path, members: &[(&str, Vec<u8>)]) {
        let mut zip = zip::ZipWriter::new(File::create(path).unwrap());
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for (k, b) in members {
            zip.start_file(format!("{k}.npy"), opts).unwrap();
            zip.write_all(b).unwrap();
        }
        zip.finish().unwrap();
    }

    fn i64s(v: &[i64]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn reads_images_and_label_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("imgs.npz");
        let data: Vec<u8> = (0..2 * 2 * 3).collect();
        write(&p, &[("arr_0", npy("|u1", &[2, 2, 3], &data))]);
        let im = read_images(&p).unwrap();
        assert_eq!((im.n, im.rows, im.cols, im.data), (2, 2, 3, data));
        for (descr, bytes) in [
            ("|u1", vec![3u8, 1]),
            ("<i8", i64s(&[3, 1])),
            (
                "<i4",
                [3i32, 1].iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            (
                ">i2",
                [3i16, 1].iter().flat_map(|x| x.to_be_bytes()).collect(),
            ),
        ] {
            write(&p, &[("arr_0", npy(descr, &[2], &bytes))]);
            assert_eq!(read_labels(&p).unwrap(), vec![3, 1], "{descr}");
        }
    }

    #[test]
    fn rejects_wrong_shapes_dtypes_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npz");
        let e = |r: Result<()>| format!("{:#}", r.unwrap_err());
        write(&p, &[("arr_0", npy("|u1", &[2], &[1, 2]))]);
        assert!(e(read_images(&p).map(|_| ())).contains("shape (N, rows, cols)"));
        write(&p, &[("arr_0", npy("<f4", &[1], &[0; 4]))]);
        assert!(e(read_labels(&p).map(|_| ())).contains("must be integers"));
        write(&p, &[("arr_0", npy("<i8", &[2], &i64s(&[1, 300])))]);
        let msg = e(read_labels(&p).map(|_| ()));
        assert!(
            msg.contains("label 1 is 300") && msg.contains("x.npz"),
            "{msg}"
        );
        write(
            &p,
            &[("a", npy("|u1", &[1], &[1])), ("b", npy("|u1", &[1], &[1]))],
        );
        assert!(e(read_labels(&p).map(|_| ())).contains("no array 'arr_0'"));
    }

    #[test]
    fn bombs_fail_fast_with_bounded_memory() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bomb.npz");
        // The header claims 2^31 images of 28x28; a few bytes follow.
        write(&p, &[("arr_0", npy("|u1", &[1 << 31, 28, 28], &[0; 100]))]);
        let t = std::time::Instant::now();
        let msg = format!("{:#}", read_images(&p).unwrap_err());
        assert!(t.elapsed().as_secs_f64() < 1.0);
        assert!(msg.contains("1024 MiB limit"), "{msg}");
        // A header under the limit that promises more than the member holds: truncated.
        write(&p, &[("arr_0", npy("|u1", &[100_000, 28, 28], &[0; 784]))]);
        let msg = format!("{:#}", read_images(&p).unwrap_err());
        assert!(msg.contains("truncated") && msg.contains("784"), "{msg}");
        // 8 MB of zeros behind a header announcing 784 bytes: refused after 784 + 1 bytes.
        write(
            &p,
            &[("arr_0", npy("|u1", &[1, 28, 28], &vec![0; 8 << 20]))],
        );
        let msg = format!("{:#}", read_images(&p).unwrap_err());
        assert!(msg.contains("more data than its header"), "{msg}");
    }

    fn user(members: &[(&str, Vec<u8>)]) -> Result<UserData> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("mine.npz");
        write(&p, members);
        read_user(&p, 10)
    }

    fn good() -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("x_train", npy("|u1", &[3, 4, 4], &[7; 48])),
            ("y_train", npy("<i8", &[3], &i64s(&[0, 9, 5]))),
            ("x_test", npy("|u1", &[2, 16], &[9; 32])),
            ("y_test", npy("|u1", &[2], &[1, 2])),
        ]
    }

    #[test]
    fn user_npz_good() {
        let d = user(&good()).unwrap();
        assert_eq!(d.side, 4);
        assert_eq!(d.train, (vec![7; 48], vec![0, 9, 5]));
        assert_eq!(d.test, (vec![9; 32], vec![1, 2]));
    }

    #[test]
    fn user_npz_each_bad_case_is_one_clear_error() {
        let with = |k: &str, b: Vec<u8>| {
            let mut m = good();
            m.iter_mut().find(|(n, _)| *n == k).unwrap().1 = b;
            format!("{:#}", user(&m).unwrap_err())
        };
        let cases = [
            (
                with("x_train", npy("<f4", &[3, 4, 4], &[0; 192])),
                vec!["x_train", "uint8", "<f4"],
            ),
            (
                with("x_test", npy("|u1", &[2, 4, 5], &[0; 40])),
                vec!["x_test", "(N, S, S)", "[2, 4, 5]"],
            ),
            (
                with("x_test", npy("|u1", &[2, 15], &[0; 30])),
                vec!["x_test", "S*S"],
            ),
            (
                with("x_test", npy("|u1", &[2, 3, 3], &[0; 18])),
                vec!["3x3", "4x4"],
            ),
            (
                with("y_train", npy("<i8", &[3], &i64s(&[0, 10, 1]))),
                vec!["y_train", "label 1 is 10", "0 to 9"],
            ),
            (
                with("y_train", npy("<i8", &[3], &i64s(&[0, -1, 1]))),
                vec!["y_train", "label 1 is -1"],
            ),
            (
                with("y_test", npy("<f8", &[2], &[0; 16])),
                vec!["y_test", "integers", "<f8"],
            ),
            (
                with("y_test", npy("|u1", &[2, 1], &[0; 2])),
                vec!["y_test", "shape (N,)"],
            ),
            (
                with("y_test", npy("|u1", &[3], &[0; 3])),
                vec!["x_test has 2 images", "y_test has 3 labels"],
            ),
        ];
        for (msg, wants) in cases {
            assert!(!msg.contains('\n'), "one line: {msg}");
            for w in wants {
                assert!(msg.contains(w), "missing {w:?} in {msg}");
            }
        }
        let mut m = good();
        m.retain(|(k, _)| *k != "y_test");
        let msg = format!("{:#}", user(&m).unwrap_err());
        assert!(
            msg.contains("missing array(s) y_test") && msg.contains("x_train, y_train, x_test"),
            "{msg}"
        );
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("not.npz");
        std::fs::write(&p, b"hello").unwrap();
        assert!(format!("{:#}", read_user(&p, 10).unwrap_err()).contains("not a valid .npz"));
    }
}
