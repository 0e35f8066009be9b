//! Simulated analog hardware for trained runs: the non-idealities of a real chip and the
//! evaluation of a run on many simulated chips (`aqnn eval`).
//!
//! - [`Effects`]: the named, validated parameters of the chip model (every effect off by
//!   default; units and equations in docs/ANALOG.md).
//! - [`chip`]: programming one chip from a run's quantized weights (DAC INL, programming
//!   noise, stuck-at faults, PCM conductance pairs) and drifting it to a time.
//! - [`forward`]: the noisy forward pass (read noise, output noise, output ADC, input DAC
//!   INL) for the real-valued MLP.
//! - [`normal`]: fast counter-based f32 normals (training noise, per-pass noise).
//! - [`eval`]: loading a run, repeats x times, statistics, `robustness.json`.
//! - [`stored`]: evaluations kept with a run, `eval/<eval-id>.json` (a sweep's `[eval]`).
//!
//! With every effect off, the evaluation is the trainer's own (`train::evaluate` on the
//! stored quantized weights), so the accuracy is the run's test accuracy bit for bit.

pub mod chip;
pub mod eval;
pub mod forward;
pub mod normal;
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
    /// Output ADC levels (None: no quantization of the outputs).
    pub adc_levels: Option<u32>,
    /// Output range [-b, b] (None: no clipping).
    pub adc_range: Option<f64>,
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
        if let Some(m) = self.adc_levels {
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
            if self.adc_range.is_none() {
                return Err(anyhow::anyhow!(
                    "--adc-levels needs --adc-range B (the ADC reads [-B, B])"
                ));
            }
        }
        if let Some(b) = self.adc_range {
            if !b.is_finite() || b <= 0.0 {
                return Err(anyhow::anyhow!(
                    "--adc-range {b} is not a valid range: give a finite number > 0"
                ));
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
                    adc_levels: Some(1),
                    adc_range: Some(1.0),
                    ..Default::default()
                },
                "--adc-levels",
            ),
            (
                Effects {
                    adc_range: Some(0.0),
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
