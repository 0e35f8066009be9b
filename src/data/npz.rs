//! KMNIST .npz reader: each file holds one array under key `arr_0`; images are `uint8`
//! (N, rows, cols), labels `uint8` or `int64` (N,).

use std::path::Path;

use anyhow::{bail, Context, Result};

use super::Images;
use crate::npy::{read_npz, NpyArray, NpyData};

/// The array stored under `arr_0` (or the only array in the file).
fn arr_0(path: &Path) -> Result<NpyArray> {
    let mut arrays = read_npz(path)?;
    let pos = match arrays.iter().position(|(k, _)| k == "arr_0") {
        Some(i) => i,
        None if arrays.len() == 1 => 0,
        None => {
            let keys: Vec<&str> = arrays.iter().map(|(k, _)| k.as_str()).collect();
            bail!("{}: no array 'arr_0' (keys: {keys:?})", path.display());
        }
    };
    Ok(arrays.swap_remove(pos).1)
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
    match a.data {
        NpyData::U8(data) => Ok(Images {
            n,
            rows,
            cols,
            data,
        }),
        other => bail!(
            "{}: images must be uint8, found dtype {}",
            path.display(),
            other.descr()
        ),
    }
}

/// Reads a KMNIST label .npz (`uint8` or `int64`, shape (N,)).
pub fn read_labels(path: &Path) -> Result<Vec<u8>> {
    let a = arr_0(path)?;
    if a.shape.len() != 1 {
        bail!(
            "{}: labels must have shape (N,), found {:?}",
            path.display(),
            a.shape
        );
    }
    match a.data {
        NpyData::U8(v) => Ok(v),
        NpyData::I64(v) => v
            .iter()
            .enumerate()
            .map(|(i, &x)| {
                u8::try_from(x).with_context(|| format!("{}: label {i} is {x}", path.display()))
            })
            .collect(),
        other => bail!(
            "{}: labels must be uint8 or int64, found dtype {}",
            path.display(),
            other.descr()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::npy::write_npz;

    #[test]
    fn reads_images_and_both_label_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("imgs.npz");
        let data: Vec<u8> = (0..2 * 2 * 3).collect();
        let a = NpyArray::new(vec![2, 2, 3], NpyData::U8(data.clone())).unwrap();
        write_npz(&p, &[("arr_0", a)]).unwrap();
        let im = read_images(&p).unwrap();
        assert_eq!((im.n, im.rows, im.cols, im.data), (2, 2, 3, data));

        let p = dir.path().join("l8.npz");
        write_npz(&p, &[("arr_0", NpyArray::vector(NpyData::U8(vec![3, 1])))]).unwrap();
        assert_eq!(read_labels(&p).unwrap(), vec![3, 1]);
        let p = dir.path().join("l64.npz");
        write_npz(&p, &[("arr_0", NpyArray::vector(NpyData::I64(vec![9, 0])))]).unwrap();
        assert_eq!(read_labels(&p).unwrap(), vec![9, 0]);
    }

    #[test]
    fn rejects_wrong_shapes_dtypes_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npz");
        let e = |r: Result<()>| format!("{:#}", r.unwrap_err());

        write_npz(&p, &[("arr_0", NpyArray::vector(NpyData::U8(vec![1, 2])))]).unwrap();
        assert!(e(read_images(&p).map(|_| ())).contains("shape (N, rows, cols)"));
        write_npz(&p, &[("arr_0", NpyArray::vector(NpyData::F32(vec![1.0])))]).unwrap();
        assert!(e(read_labels(&p).map(|_| ())).contains("uint8 or int64"));
        write_npz(
            &p,
            &[("arr_0", NpyArray::vector(NpyData::I64(vec![1, 300])))],
        )
        .unwrap();
        let msg = e(read_labels(&p).map(|_| ()));
        assert!(
            msg.contains("label 1 is 300") && msg.contains("x.npz"),
            "{msg}"
        );
        let v = || NpyArray::vector(NpyData::U8(vec![1]));
        write_npz(&p, &[("a", v()), ("b", v())]).unwrap();
        assert!(e(read_labels(&p).map(|_| ())).contains("no array 'arr_0'"));
    }
}
