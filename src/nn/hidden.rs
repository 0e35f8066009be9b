//! The widths of an MLP's hidden layers: `16` (one layer, the seed's model) or `32,16` (two
//! layers, the first 32 wide), up to [`MAX_DEPTH`] layers of up to [`MAX_WIDTH`] units.
//!
//! Serialised as a number when there is one layer (`"hidden":16`, exactly what a
//! `TrainConfig` held before deeper networks, so every earlier run id stays the same) and as
//! a list otherwise (`"hidden":[32,16]`). Read from a number, a list of numbers, or a string
//! `"32,16"` (what a sweep grid and the command line give).

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most hidden layers a network may have.
pub const MAX_DEPTH: usize = 8;

/// Most units a hidden layer may have.
pub const MAX_WIDTH: usize = 4096;

/// Hidden layer widths, input side first. Any list is representable (so a bad value can be
/// reported by [`Hidden::check`] with the rest of the config); a checked config holds 1 to
/// [`MAX_DEPTH`] widths of 1 to [`MAX_WIDTH`] each.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hidden(Vec<usize>);

impl Hidden {
    /// Layers of the given widths (not checked: see [`Hidden::check`]).
    pub fn new(widths: Vec<usize>) -> Hidden {
        Hidden(widths)
    }

    /// One hidden layer of `width` units.
    pub fn one(width: usize) -> Hidden {
        Hidden(vec![width])
    }

    /// The widths, input side first.
    pub fn widths(&self) -> &[usize] {
        &self.0
    }

    /// Number of hidden layers.
    pub fn depth(&self) -> usize {
        self.0.len()
    }

    /// The width when there is exactly one hidden layer.
    pub fn single(&self) -> Option<usize> {
        match self.0[..] {
            [w] => Some(w),
            _ => None,
        }
    }

    /// Total hidden units over all layers.
    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }

    /// Ok when there are 1..=[`MAX_DEPTH`] layers of 1..=[`MAX_WIDTH`] units; else what is
    /// allowed.
    pub fn check(&self) -> Result<(), String> {
        if self.0.len() == 1 {
            if !(1..=MAX_WIDTH).contains(&self.0[0]) {
                return Err(format!("the hidden width must be 1..={MAX_WIDTH}"));
            }
            return Ok(());
        }
        if self.0.is_empty() || self.0.len() > MAX_DEPTH {
            return Err(format!(
                "give 1 to {MAX_DEPTH} hidden layers, e.g. 16 or 32,16"
            ));
        }
        if self.0.iter().any(|w| !(1..=MAX_WIDTH).contains(w)) {
            return Err(format!(
                "every hidden layer's width must be 1..={MAX_WIDTH}"
            ));
        }
        Ok(())
    }
}

impl From<usize> for Hidden {
    fn from(width: usize) -> Hidden {
        Hidden::one(width)
    }
}

impl PartialEq<usize> for Hidden {
    fn eq(&self, other: &usize) -> bool {
        self.single() == Some(*other)
    }
}

/// `16` or `32,16`.
impl fmt::Display for Hidden {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (k, w) in self.0.iter().enumerate() {
            if k > 0 {
                f.write_str(",")?;
            }
            write!(f, "{w}")?;
        }
        Ok(())
    }
}

/// Why a string is not a list of widths.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a list of hidden widths: give e.g. 16 or 32,16 (widths separated by commas, input side first)")]
pub struct ParseHiddenError(pub String);

/// Parses `16`, `32,16` (spaces around the commas allowed).
impl std::str::FromStr for Hidden {
    type Err = ParseHiddenError;
    fn from_str(s: &str) -> Result<Hidden, ParseHiddenError> {
        s.split(',')
            .map(|w| w.trim().parse::<usize>())
            .collect::<Result<Vec<_>, _>>()
            .map(Hidden)
            .map_err(|_| ParseHiddenError(s.to_string()))
    }
}

impl Serialize for Hidden {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if let Some(w) = self.single() {
            return s.serialize_u64(w as u64);
        }
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for w in &self.0 {
            seq.serialize_element(w)?;
        }
        seq.end()
    }
}

struct HiddenVisitor;

impl<'de> Visitor<'de> for HiddenVisitor {
    type Value = Hidden;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a hidden width (16), a list of widths ([32, 16]) or a string \"32,16\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Hidden, E> {
        usize::try_from(v)
            .map(Hidden::one)
            .map_err(|_| E::custom(format!("hidden width {v} is too large")))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Hidden, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(format!("hidden width {v} is negative")))
            .and_then(|v| self.visit_u64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Hidden, E> {
        v.parse().map_err(|e: ParseHiddenError| E::custom(e))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Hidden, A::Error> {
        let mut out = Vec::new();
        while let Some(w) = seq.next_element::<usize>()? {
            // A bound on memory only: `check` reports more than MAX_DEPTH layers.
            if out.len() >= 1024 {
                return Err(de::Error::custom(format!(
                    "more than {MAX_DEPTH} hidden layers"
                )));
            }
            out.push(w);
        }
        Ok(Hidden(out))
    }
}

impl<'de> Deserialize<'de> for Hidden {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Hidden, D::Error> {
        d.deserialize_any(HiddenVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_layer_is_a_number_and_more_are_a_list() {
        assert_eq!(serde_json::to_string(&Hidden::one(16)).unwrap(), "16");
        let h = Hidden::new(vec![32, 16]);
        assert_eq!(serde_json::to_string(&h).unwrap(), "[32,16]");
        for text in ["[32,16]", "\"32,16\"", "\"32, 16\""] {
            assert_eq!(serde_json::from_str::<Hidden>(text).unwrap(), h, "{text}");
        }
        assert_eq!(serde_json::from_str::<Hidden>("16").unwrap(), 16);
        assert_eq!(serde_json::from_str::<Hidden>("\"16\"").unwrap(), 16);
        assert_eq!(h.to_string(), "32,16");
        assert_eq!((h.depth(), h.total(), h.single()), (2, 48, None));
        for bad in ["-3", "\"32,\"", "\"a\"", "1.5", "[1,[2]]"] {
            assert!(serde_json::from_str::<Hidden>(bad).is_err(), "{bad}");
        }
        let e = "32;16".parse::<Hidden>().unwrap_err().to_string();
        assert!(e.contains("'32;16'") && e.contains("32,16"), "{e}");
    }

    #[test]
    fn check_bounds_depth_and_width() {
        assert!(Hidden::one(4096).check().is_ok());
        assert!(Hidden::new(vec![1; MAX_DEPTH]).check().is_ok());
        for bad in [
            vec![0],
            vec![4097],
            vec![],
            vec![8; MAX_DEPTH + 1],
            vec![32, 0],
            vec![32, 5000],
        ] {
            let e = Hidden::new(bad.clone()).check().unwrap_err();
            assert!(
                e.contains("1..=4096") || e.contains("1 to 8"),
                "{bad:?}: {e}"
            );
        }
    }
}
