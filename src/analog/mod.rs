//! Simulated analog hardware for trained runs: the non-idealities of a real chip and the
//! evaluation of a run on many simulated chips (`aqnn eval`).
//!
//! - [`Effects`]: the named, validated parameters of the chip model (every effect off by
//!   default; units and equations in docs/ANALOG.md).
//! - [`chip`]: programming one chip from a run's quantized weights (DAC INL, programming
//!   noise, stuck-at faults, PCM conductance pairs) and drifting it to a time.
//! - [`forward`]: the noisy forward pass (read noise, output noise, output ADC, input DAC
//!   INL) for the real-valued MLP of any depth and the complex model.
//! - [`normal`]: fast counter-based f32 normals (training noise, per-pass noise).
//! - [`eval`]: loading a run, repeats x times, statistics, `robustness.json`.
//! - [`speed`]: the `aqnn eval` rows of `aqnn bench`.
//! - [`stored`]: evaluations kept with a run, `eval/<eval-id>.json` (a sweep's `[eval]`).
//!
//! With every effect off, the evaluation is the trainer's own (`train::evaluate` on the
//! stored quantized weights), so the accuracy is the run's test accuracy bit for bit.

pub mod chip;
pub mod eval;
pub mod forward;
pub mod normal;
pub mod speed;
pub mod stored;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// How programming noise is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum ProgModel {
    /// Additive Gaussian on the weight, sigma in units of the level spacing D.
    #[default]
    Gaussian,
    /// aihwkit's PCM-like model on a differential conductance pair; sigma scales the
    /// conductance-dependent standard deviation (1 = aihwkit's default).
    Pcm,
}

/// How read noise is drawn (fresh at every matrix-vector product).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum ReadModel {
    /// Additive Gaussian on every weight, sigma in units of D.
    #[default]
    Gaussian,
    /// aihwkit's PCM 1/f read noise at the evaluation time, relative to the drifted
    /// conductance; sigma scales it (1 = aihwkit's default).
    Pcm,
}

/// Conductance drift.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum DriftModel {
    /// No drift: every time sees the programmed chip.
    #[default]
    None,
    /// PCM power-law drift with a drift exponent per device.
    Pcm,
}

/// Where a stuck weight sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum StuckMode {
    /// A uniformly drawn level of the grid.
    #[default]
    Random,
    /// 0.
    Zero,
    /// -1 or +1, each with probability 1/2.
    Extreme,
}

/// The chip model's parameters. `Effects::default()` is the ideal chip.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Effects {
    /// Programming noise (units: D for `gaussian`, a scale of aihwkit's sigma for `pcm`).
    pub prog_noise: f64,
    pub prog_noise_model: ProgModel,
    /// Read noise (units: D for `gaussian`, a scale of aihwkit's 1/f sigma for `pcm`).
    pub read_noise: f64,
    pub read_noise_model: ReadModel,
    /// DAC integral non-linearity of the input (and activation) levels, units of D.
    pub dac_inl: f64,
    /// Apply a DAC INL of the same size to the weight levels too.
    pub dac_inl_weights: bool,
    pub drift: DriftModel,
    /// Global drift compensation (one scale per layer from a calibration input).
    pub drift_compensation: bool,
    /// Fraction of weights stuck, in [0, 1].
    pub stuck: f64,
    pub stuck_mode: StuckMode,
    /// Output ADC levels (None: no quantization of the outputs); one value for every
    /// layer, or one per layer.
    pub adc_levels: Option<PerLayer<u32>>,
    /// Output range [-b, b] (None: no clipping); one value, or one per layer.
    pub adc_range: Option<PerLayer<f64>>,
    /// Additive Gaussian output noise before the ADC, in pre-activation units.
    pub out_noise: f64,
    /// Biases on the chip (an extra row driven by 1): they get every weight effect and go
    /// through the ADC; otherwise they are digital and exact (aihwkit's default).
    pub bias_noise: bool,
}

impl Effects {
    /// Check every parameter; the error names the option.
    pub fn check(&self) -> anyhow::Result<()> {
        let sigma = |name: &str, v: f64| {
            if !v.is_finite() || v < 0.0 {
                Err(anyhow::anyhow!(
                    "{name} {v} is not a valid standard deviation: give a finite number >= 0"
                ))
            } else if v > 1e6 {
                Err(anyhow::anyhow!(
                    "{name} {v} is absurdly large: give at most 1e6"
                ))
            } else {
                Ok(())
            }
        };
        sigma("--prog-noise", self.prog_noise)?;
        sigma("--read-noise", self.read_noise)?;
        sigma("--dac-inl", self.dac_inl)?;
        sigma("--out-noise", self.out_noise)?;
        if !(0.0..=1.0).contains(&self.stuck) {
            return Err(anyhow::anyhow!(
                "--stuck {} is not a fraction: give a number in [0, 1]",
                self.stuck
            ));
        }
        if let Some(ms) = &self.adc_levels {
            for &m in ms.values() {
                if m < 2 {
                    return Err(anyhow::anyhow!(
                        "--adc-levels {m} is too few: an ADC needs at least 2 levels"
                    ));
                }
                if m > 1 << 24 {
                    return Err(anyhow::anyhow!(
                        "--adc-levels {m} is too many: at most 2^24"
                    ));
                }
            }
            if self.adc_range.is_none() {
                return Err(anyhow::anyhow!(
                    "--adc-levels needs --adc-range B (the ADC reads [-B, B])"
                ));
            }
        }
        if let Some(bs) = &self.adc_range {
            for &b in bs.values() {
                if !b.is_finite() || b <= 0.0 {
                    return Err(anyhow::anyhow!(
                        "--adc-range {b} is not a valid range: give a finite number > 0"
                    ));
                }
            }
        }
        for (name, n) in [
            ("--adc-levels", self.adc_levels.as_ref().map(PerLayer::len)),
            ("--adc-range", self.adc_range.as_ref().map(PerLayer::len)),
        ] {
            if n == Some(0) {
                return Err(anyhow::anyhow!("{name} needs at least one value"));
            }
        }
        if self.dac_inl_weights && self.dac_inl == 0.0 {
            return Err(anyhow::anyhow!(
                "--dac-inl-weights needs --dac-inl SIGMA > 0"
            ));
        }
        if self.drift_compensation && self.drift == DriftModel::None {
            return Err(anyhow::anyhow!("--drift-compensation needs --drift pcm"));
        }
        Ok(())
    }

    /// True when no effect is on: the ideal chip.
    pub fn is_ideal(&self) -> bool {
        self.prog_noise == 0.0
            && self.read_noise == 0.0
            && self.dac_inl == 0.0
            && self.drift == DriftModel::None
            && self.stuck == 0.0
            && self.adc_levels.is_none()
            && self.adc_range.is_none()
            && self.out_noise == 0.0
            && !self.bias_noise
    }

    /// True when some effect acts inside the forward pass (so the trainer's kernel with
    /// perturbed weights is not enough).
    pub fn needs_noisy_forward(&self) -> bool {
        self.read_noise > 0.0
            || self.out_noise > 0.0
            || self.adc_levels.is_some()
            || self.adc_range.is_some()
            || self.dac_inl > 0.0
    }

    /// True when the chip changes with time (so each time needs its own pass).
    pub fn time_dependent(&self) -> bool {
        self.drift != DriftModel::None
            || (self.read_noise > 0.0 && self.read_noise_model == ReadModel::Pcm)
    }

    /// True when the forward pass draws fresh noise.
    pub fn per_pass_noise(&self) -> bool {
        self.read_noise > 0.0 || self.out_noise > 0.0
    }

    /// True when programming a chip draws nothing random, so every repeat programs the
    /// same chip (no programming noise, INL, faults or drift exponents).
    pub fn deterministic_chip(&self) -> bool {
        self.prog_noise == 0.0
            && self.dac_inl == 0.0
            && self.stuck == 0.0
            && self.drift == DriftModel::None
    }

    /// Check that the per-layer ADC lists fit a network of `layers` arrays.
    pub fn check_layers(&self, layers: usize) -> anyhow::Result<()> {
        for (name, n) in [
            ("--adc-levels", self.adc_levels.as_ref().map(PerLayer::len)),
            ("--adc-range", self.adc_range.as_ref().map(PerLayer::len)),
        ] {
            if let Some(n) = n {
                if n != 1 && n != layers {
                    return Err(anyhow::anyhow!(
                        "{name} has {n} values, but the run has {layers} layers (analog arrays): give one value for every layer or exactly {layers}"
                    ));
                }
            }
        }
        Ok(())
    }

    /// The output ADC of layer `k` (from 0), if any.
    pub fn adc(&self, k: usize) -> Option<forward::Adc> {
        self.adc_range.as_ref().map(|b| forward::Adc {
            range: b.get(k) as f32,
            levels: self.adc_levels.as_ref().map(|m| m.get(k)),
        })
    }
}

/// One value for every layer (serialized as the value itself, as before per-layer values
/// existed, so earlier settings keep their JSON and eval ids) or one value per layer (a
/// list).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerLayer<T> {
    One(T),
    Each(Vec<T>),
}

impl<T: Copy> PerLayer<T> {
    /// The value of layer `k` (from 0); a list shorter than the network is refused by
    /// [`Effects::check_layers`] before this is asked.
    pub fn get(&self, k: usize) -> T {
        match self {
            PerLayer::One(v) => *v,
            PerLayer::Each(v) => v[k.min(v.len() - 1)],
        }
    }

    /// Every value given.
    pub fn values(&self) -> &[T] {
        match self {
            PerLayer::One(v) => std::slice::from_ref(v),
            PerLayer::Each(v) => v,
        }
    }

    /// How many values were given.
    pub fn len(&self) -> usize {
        self.values().len()
    }

    /// True when no value was given.
    pub fn is_empty(&self) -> bool {
        self.values().is_empty()
    }
}

impl<T> From<T> for PerLayer<T> {
    fn from(v: T) -> Self {
        PerLayer::One(v)
    }
}

impl<T: std::str::FromStr> PerLayer<T> {
    /// Parse "16" (every layer) or "16,32" (one per layer); `name` is the option, for the
    /// error.
    pub fn parse(s: &str, name: &str) -> anyhow::Result<PerLayer<T>> {
        let mut v = Vec::new();
        for p in s.split(',') {
            let p = p.trim();
            v.push(p.parse::<T>().map_err(|_| {
                anyhow::anyhow!("{name}: '{p}' is not a valid value (give one number, or a comma-separated list with one per layer)")
            })?);
        }
        Ok(if v.len() == 1 {
            PerLayer::One(v.pop().expect("one value"))
        } else {
            PerLayer::Each(v)
        })
    }
}

/// A standard normal from two uniform draws of `rng` (Box–Muller, one value; f64 math so
/// the result is the same on every platform with IEEE doubles and a correct `ln`/`cos`).
pub fn normal(rng: &mut impl RngCore) -> f64 {
    normal_pair(rng).0
}

/// Two independent standard normals (Box–Muller).
#[inline]
pub fn normal_pair(rng: &mut impl RngCore) -> (f64, f64) {
    let x = rng.next_u64();
    // Two 32-bit uniforms; u1 in (0, 1] so ln is finite.
    let u1 = ((x >> 32) as f64 + 1.0) * (1.0 / 4_294_967_296.0);
    let u2 = (x & 0xFFFF_FFFF) as f64 * (1.0 / 4_294_967_296.0);
    let r = (-2.0 * u1.ln()).sqrt();
    let (s, c) = (std::f64::consts::TAU * u2).sin_cos();
    (r * c, r * s)
}

/// A uniform in [0, 1).
#[inline]
pub fn uniform(rng: &mut impl RngCore) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn defaults_are_ideal_and_valid() {
        let e = Effects::default();
        assert!(e.is_ideal());
        assert!(!e.needs_noisy_forward());
        e.check().unwrap();
    }

    #[test]
    fn check_names_the_option() {
        let bad = [
            (
                Effects {
                    prog_noise: -1.0,
                    ..Default::default()
                },
                "--prog-noise",
            ),
            (
                Effects {
                    read_noise: f64::NAN,
                    ..Default::default()
                },
                "--read-noise",
            ),
            (
                Effects {
                    stuck: 1.5,
                    ..Default::default()
                },
                "--stuck",
            ),
            (
                Effects {
                    adc_levels: Some(1.into()),
                    adc_range: Some(1.0.into()),
                    ..Default::default()
                },
                "--adc-levels",
            ),
            (
                Effects {
                    adc_range: Some(0.0.into()),
                    ..Default::default()
                },
                "--adc-range",
            ),
        ];
        for (e, name) in bad {
            let msg = e.check().unwrap_err().to_string();
            assert!(msg.contains(name), "{msg}");
        }
    }

    /// One ADC value serializes as the number it always was (so stored settings keep their
    /// JSON and eval ids); a list serializes as a list; both read back.
    #[test]
    fn per_layer_adc_keeps_the_old_json_and_eval_id() {
        let spec = |levels: PerLayer<u32>, range: PerLayer<f64>| eval::EvalSpec {
            effects: Effects {
                adc_levels: Some(levels),
                adc_range: Some(range),
                ..Default::default()
            },
            repeats: 25,
            times: vec![0.0],
            seed: 0,
        };
        let one = spec(16.into(), 4.0.into());
        // The JSON of this setting before per-layer values existed (Option<u32>, Option<f64>).
        let old = r#"{"effects":{"prog_noise":0.0,"prog_noise_model":"gaussian","read_noise":0.0,"read_noise_model":"gaussian","dac_inl":0.0,"dac_inl_weights":false,"drift":"none","drift_compensation":false,"stuck":0.0,"stuck_mode":"random","adc_levels":16,"adc_range":4.0,"out_noise":0.0,"bias_noise":false},"repeats":25,"times":[0.0],"seed":0}"#;
        assert_eq!(one.canonical_json(), old);
        assert_eq!(one.eval_id(), "5706c34a9e06");
        let back: eval::EvalSpec = serde_json::from_str(old).unwrap();
        assert_eq!(back, one);
        let each = spec(PerLayer::Each(vec![16, 32]), PerLayer::Each(vec![4.0, 8.0]));
        let j = each.canonical_json();
        assert!(
            j.contains(r#""adc_levels":[16,32],"adc_range":[4.0,8.0]"#),
            "{j}"
        );
        assert_eq!(serde_json::from_str::<eval::EvalSpec>(&j).unwrap(), each);
        assert_ne!(each.eval_id(), one.eval_id());
        // An integer range reads as the float it means.
        let e: Effects = serde_json::from_str(r#"{"prog_noise":0.0,"prog_noise_model":"gaussian","read_noise":0.0,"read_noise_model":"gaussian","dac_inl":0.0,"dac_inl_weights":false,"drift":"none","drift_compensation":false,"stuck":0.0,"stuck_mode":"random","adc_levels":[8,8],"adc_range":4,"out_noise":0.0,"bias_noise":false}"#).unwrap();
        assert_eq!(e.adc_range, Some(PerLayer::One(4.0)));
    }

    #[test]
    fn per_layer_values_parse_check_and_fit_the_network() {
        assert_eq!(
            PerLayer::<u32>::parse("16", "--adc-levels").unwrap(),
            PerLayer::One(16)
        );
        assert_eq!(
            PerLayer::<f64>::parse("4, 8", "--adc-range").unwrap(),
            PerLayer::Each(vec![4.0, 8.0])
        );
        let e = PerLayer::<u32>::parse("16,x", "--adc-levels").unwrap_err();
        assert!(e.to_string().starts_with("--adc-levels: 'x'"), "{e}");
        let e = Effects {
            adc_levels: Some(PerLayer::Each(vec![16, 32])),
            adc_range: Some(4.0.into()),
            ..Default::default()
        };
        e.check().unwrap();
        e.check_layers(2).unwrap();
        let msg = e.check_layers(3).unwrap_err().to_string();
        assert!(
            msg.contains("--adc-levels has 2 values") && msg.contains("3 layers"),
            "{msg}"
        );
        assert_eq!(e.adc(0).unwrap().levels, Some(16));
        assert_eq!(e.adc(1).unwrap().levels, Some(32));
        assert_eq!(e.adc(1).unwrap().range, 4.0);
        let bad = Effects {
            adc_levels: Some(PerLayer::Each(vec![16, 1])),
            adc_range: Some(PerLayer::Each(vec![4.0, 8.0])),
            ..Default::default()
        };
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .contains("--adc-levels 1"));
        let bad = Effects {
            adc_range: Some(PerLayer::Each(vec![4.0, -8.0])),
            ..Default::default()
        };
        assert!(bad
            .check()
            .unwrap_err()
            .to_string()
            .contains("--adc-range -8"));
    }

    #[test]
    fn normals_have_unit_moments() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n = 200_000;
        let (mut s, mut s2) = (0.0, 0.0);
        for _ in 0..n / 2 {
            let (a, b) = normal_pair(&mut rng);
            s += a + b;
            s2 += a * a + b * b;
        }
        let mean = s / n as f64;
        let var = s2 / n as f64 - mean * mean;
        assert!(mean.abs() < 0.01, "{mean}");
        assert!((var - 1.0).abs() < 0.02, "{var}");
    }
}
