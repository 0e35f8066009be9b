//! One training run's configuration: every knob, validated once, serialised canonically.
//!
//! [`TrainConfig`] is the raw config (what files and sweeps hold); [`TrainConfig::check`]
//! validates it once into a [`CheckedConfig`] that holds what follows from it (the grid),
//! and the trainer takes only that (the pattern of linfa's checked hyper-parameters).
//!
//! The canonical JSON of a [`TrainConfig`] (fields in declaration order) is hashed into the
//! run id, so two runs with the same id are the same computation.

use crate::data::DatasetId;
use crate::encode::Scheme;
use crate::nn::init::InitKind;
use crate::nn::mlp::OutputKind;
use crate::nn::Hidden;
use crate::optim::OptimizerKind;
use crate::quant::{Grid, GridError, Rounding};
use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};

/// Which network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// The seed's real-valued MLP.
    #[default]
    Mlp,
    /// A complex-valued MLP on the square n x n grid.
    Complex,
}

/// Oscillation measurement and remedies (Nagel et al., ICML 2022; see [`crate::oscillation`]
/// for the exact definitions). The remedies are off by default; the measurement is on for
/// quantized runs unless `observe = false`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OscillationConfig {
    /// EMA momentum of the oscillation frequency (0.01 in the paper).
    pub ema: f32,
    /// Frequency above which a weight counts as oscillating (reporting; also the final
    /// freezing threshold).
    pub threshold: f32,
    /// Dampening: maximum lambda of the term sum (Q(w) - w)^2, cosine-annealed from 0
    /// (0 = off).
    pub dampening: f32,
    /// Iterative freezing on or off.
    pub freeze: bool,
    /// Freezing threshold at the start of its schedule (cosine from this to `threshold`).
    pub freeze_start_threshold: f32,
    /// Fraction of training before any freezing.
    pub freeze_warmup: f32,
    /// Trajectories: record the last this many steps (0 = none). Left out of the canonical
    /// JSON at its default, so adding it kept every earlier run id.
    #[serde(skip_serializing_if = "is_default_trajectory_steps")]
    pub trajectory_steps: usize,
    /// Measure oscillations (index changes, frequencies, midpoint statistics, trajectories)
    /// in quantized runs. Off, a run trains to the same bits about 10% faster, without the
    /// oscillation outputs; the remedies need it on. Left out of the canonical JSON when
    /// on (the default), so adding it kept every earlier run id.
    #[serde(skip_serializing_if = "is_true")]
    pub observe: bool,
}

fn is_true(v: &bool) -> bool {
    *v
}

/// Default length of the trajectory window: the final 500 steps (~4% of a 7x7 epoch at
/// batch 32), enough to see a weight cross its threshold many times, at ~100 kB per run.
pub const DEFAULT_TRAJECTORY_STEPS: usize = 500;

fn is_default_trajectory_steps(v: &usize) -> bool {
    *v == DEFAULT_TRAJECTORY_STEPS
}

impl Default for OscillationConfig {
    fn default() -> Self {
        OscillationConfig {
            ema: 0.01,
            threshold: 0.01,
            dampening: 0.0,
            freeze: false,
            freeze_start_threshold: 0.1,
            freeze_warmup: 0.25,
            trajectory_steps: DEFAULT_TRAJECTORY_STEPS,
            observe: true,
        }
    }
}

/// Everything that defines one training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainConfig {
    /// Network kind.
    pub model: ModelKind,
    /// Number of levels (0 = full precision).
    pub levels: u32,
    /// Rounding mode of the quantizer.
    pub rounding: Rounding,
    /// Input scheme.
    pub scheme: Scheme,
    /// Shift of black pixels for the zero-shift scheme.
    pub zero_shift_eps: f32,
    /// Optimizer of the learned input table.
    pub table_optimizer: OptimizerKind,
    /// Learning rate of the learned input table.
    pub table_lr: f32,
    /// Hidden layer widths (`16`, or `32,16` for two layers): a number in the canonical
    /// JSON when there is one layer, as before deeper networks, so run ids stay the same.
    pub hidden: Hidden,
    /// Image side after downsampling: 7, 14 or 28.
    pub resolution: usize,
    /// Output layer: linear logits or tanh.
    pub output: OutputKind,
    /// Epochs.
    pub epochs: usize,
    /// Batch size.
    pub batch: usize,
    /// Learning rate.
    pub lr: f32,
    /// Optimizer of the network.
    pub optimizer: OptimizerKind,
    /// Momentum (SGD only).
    pub momentum: f32,
    /// Weight initialiser.
    pub init: InitKind,
    /// Limit `a` of `--init uniform`.
    pub init_scale: f32,
    /// Seed of initialisation, shuffling and stochastic rounding.
    pub seed: u64,
    /// Oscillation measurement and remedies.
    pub oscillation: OscillationConfig,
    /// Dataset (`kmnist`, `fashion-mnist`, `mnist` or `npz:PATH`). Left out of the canonical
    /// JSON when KMNIST (the default), so adding it kept every earlier run id.
    #[serde(skip_serializing_if = "DatasetId::is_kmnist")]
    pub dataset: DatasetId,
    /// Hardware-aware training: a fresh Gaussian on the quantized weights at every batch,
    /// sigma in units of the level spacing D (aihwkit's ADD_NORMAL weight modifier; the
    /// gradient is taken at the noisy weights and applied by the STE). 0 = off, and then
    /// left out of the canonical JSON, so adding it kept every earlier run id.
    #[serde(skip_serializing_if = "is_zero")]
    pub train_noise: f32,
    /// Hardware-aware training with the output ADC: every layer's sum W x (without the
    /// digital bias) clipped to [-B, B] and read with M levels, as `aqnn eval --adc-levels
    /// M --adc-range B` reads it, then the bias added; straight-through backward inside
    /// (-B, B), 0 where clipped (docs/ANALOG.md). M >= 2, or None/0 = off, and then left
    /// out of the canonical JSON (as `train_adc_range` when None), so every earlier run id
    /// stays the same. Needs `train_adc_range`; the real MLP only.
    #[serde(skip_serializing_if = "adc_off")]
    pub train_adc_levels: Option<u32>,
    /// The range B > 0 of the training ADC (`train_adc_levels`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub train_adc_range: Option<f64>,
}

fn is_zero(v: &f32) -> bool {
    *v == 0.0
}

fn adc_off(v: &Option<u32>) -> bool {
    matches!(v, None | Some(0))
}

/// Most levels of the training ADC (as `aqnn eval --adc-levels`).
pub const MAX_ADC_LEVELS: u32 = 1 << 24;

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelKind::Mlp,
            levels: 8,
            rounding: Rounding::HalfEven,
            scheme: Scheme::Plain,
            zero_shift_eps: 1e-4,
            table_optimizer: OptimizerKind::Adam,
            table_lr: 1e-3,
            hidden: Hidden::one(16),
            resolution: 7,
            output: OutputKind::Linear,
            epochs: 10,
            batch: 32,
            lr: 1e-3,
            optimizer: OptimizerKind::Adam,
            momentum: 0.9,
            init: InitKind::Auto,
            init_scale: 0.5,
            seed: 0,
            oscillation: OscillationConfig::default(),
            dataset: DatasetId::Kmnist,
            train_noise: 0.0,
            train_adc_levels: None,
            train_adc_range: None,
        }
    }
}

/// A key of a [`TrainConfig`] a [`ConfigError`] is about (its name in the canonical JSON and
/// sweep files: [`Field::key`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Field {
    Levels,
    Epochs,
    Batch,
    Hidden,
    Resolution,
    Lr,
    TableLr,
    Momentum,
    ZeroShiftEps,
    InitScale,
    OscillationEma,
    OscillationThreshold,
    FreezeStartThreshold,
    FreezeWarmup,
    TrajectorySteps,
    Dampening,
    TrainNoise,
    TrainAdcLevels,
    TrainAdcRange,
}

impl Field {
    /// The name of the option that sets this key in aqnn's front-ends: `aqnn train --NAME`
    /// on the command line, `NAME` with `-` as `_` as a Python keyword. One table, so the two
    /// front-ends cannot drift apart.
    pub fn option(self) -> &'static str {
        match self {
            Field::Levels => "levels",
            Field::Epochs => "epochs",
            Field::Batch => "batch",
            Field::Hidden => "hidden",
            Field::Resolution => "resolution",
            Field::Lr => "lr",
            Field::TableLr => "table-lr",
            Field::Momentum => "momentum",
            Field::ZeroShiftEps => "eps",
            Field::InitScale => "init-scale",
            Field::OscillationEma => "osc-ema",
            Field::OscillationThreshold => "osc-threshold",
            Field::FreezeStartThreshold => "freeze-start-threshold",
            Field::FreezeWarmup => "freeze-warmup",
            Field::TrajectorySteps => "trajectory-steps",
            Field::Dampening => "dampening",
            Field::TrainNoise => "train-noise",
            Field::TrainAdcLevels => "train-adc-levels",
            Field::TrainAdcRange => "train-adc-range",
        }
    }

    /// The key, e.g. `levels` or `oscillation.ema`.
    pub fn key(self) -> &'static str {
        match self {
            Field::Levels => "levels",
            Field::Epochs => "epochs",
            Field::Batch => "batch",
            Field::Hidden => "hidden",
            Field::Resolution => "resolution",
            Field::Lr => "lr",
            Field::TableLr => "table_lr",
            Field::Momentum => "momentum",
            Field::ZeroShiftEps => "zero_shift_eps",
            Field::InitScale => "init_scale",
            Field::OscillationEma => "oscillation.ema",
            Field::OscillationThreshold => "oscillation.threshold",
            Field::FreezeStartThreshold => "oscillation.freeze_start_threshold",
            Field::FreezeWarmup => "oscillation.freeze_warmup",
            Field::TrajectorySteps => "oscillation.trajectory_steps",
            Field::Dampening => "oscillation.dampening",
            Field::TrainNoise => "train_noise",
            Field::TrainAdcLevels => "train_adc_levels",
            Field::TrainAdcRange => "train_adc_range",
        }
    }
}

impl std::fmt::Display for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// Why a [`TrainConfig`] is not a run. The message names the key and the value (never a
/// command-line flag); the binary maps [`Field`]s to its flags.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value outside what its key allows.
    #[error("{field} = {value}: {expected}")]
    Invalid {
        /// The key.
        field: Field,
        /// The value as given.
        value: String,
        /// What is allowed (and, where useful, what to do).
        expected: String,
    },
    /// `oscillation.observe = false` with dampening or freezing on.
    #[error("oscillation.observe = false turns the oscillation observers off, but dampening and freezing need them: keep the observers on, or turn the remedies off")]
    RemediesNeedObservers,
}

impl ConfigError {
    /// The key the error is about, when it is about one value.
    pub fn field(&self) -> Option<Field> {
        match self {
            ConfigError::Invalid { field, .. } => Some(*field),
            ConfigError::RemediesNeedObservers => None,
        }
    }
}

impl From<GridError> for ConfigError {
    fn from(e: GridError) -> Self {
        ConfigError::Invalid {
            field: Field::Levels,
            value: e.levels.to_string(),
            expected: e.expected(),
        }
    }
}

/// Ok when `ok`, else [`ConfigError::Invalid`] of `field` with `value`.
fn ensure(
    ok: bool,
    field: Field,
    value: impl std::fmt::Display,
    expected: &str,
) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::Invalid {
            field,
            value: value.to_string(),
            expected: expected.to_string(),
        })
    }
}

/// Most epochs one run may have (each epoch's metrics are kept in memory and on disk).
pub const MAX_EPOCHS: usize = 100_000;

/// Largest batch size (the trainer's buffers grow with it; a batch larger than the training
/// set is the whole set).
pub const MAX_BATCH: usize = 65_536;

/// A [`TrainConfig`] whose every value was checked, with what follows from it (the
/// quantizer's [`Grid`]). Made only by [`TrainConfig::check`], so the trainer trusts it;
/// it reads as its config (`Deref`), and is immutable: change the config and check again.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckedConfig {
    config: TrainConfig,
    grid: Grid,
}

impl CheckedConfig {
    /// The config.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The quantizer's grid (`levels`, `rounding`).
    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    /// The config back, to change it (and check it again).
    pub fn into_config(self) -> TrainConfig {
        self.config
    }
}

impl std::ops::Deref for CheckedConfig {
    type Target = TrainConfig;
    fn deref(&self) -> &TrainConfig {
        &self.config
    }
}

impl TryFrom<TrainConfig> for CheckedConfig {
    type Error = ConfigError;
    fn try_from(c: TrainConfig) -> Result<Self, ConfigError> {
        c.check()
    }
}

impl TrainConfig {
    /// Check every value once; the checked config holds the grid. The error names the key,
    /// the bad value and what is allowed.
    pub fn check(self) -> Result<CheckedConfig, ConfigError> {
        let grid = self.check_ref()?;
        Ok(CheckedConfig { config: self, grid })
    }

    /// [`TrainConfig::check`] without taking the config: its grid, or the first error.
    pub fn check_ref(&self) -> Result<Grid, ConfigError> {
        let grid = Grid::new(self.levels, self.rounding)?;
        ensure(
            (1..=MAX_EPOCHS).contains(&self.epochs),
            Field::Epochs,
            self.epochs,
            "the epochs must be 1..=100000",
        )?;
        ensure(
            (1..=MAX_BATCH).contains(&self.batch),
            Field::Batch,
            self.batch,
            "the batch size must be 1..=65536",
        )?;
        if let Err(expected) = self.hidden.check() {
            return Err(ConfigError::Invalid {
                field: Field::Hidden,
                value: self.hidden.to_string(),
                expected,
            });
        }
        ensure(
            self.model == ModelKind::Mlp || self.hidden.depth() == 1,
            Field::Hidden,
            &self.hidden,
            "the complex model has one hidden layer: give one width, or use the real MLP",
        )?;
        ensure(
            [7, 14, 28].contains(&self.resolution),
            Field::Resolution,
            self.resolution,
            "must be 7, 14 or 28",
        )?;
        let positive = |v: f32| v.is_finite() && v > 0.0;
        ensure(
            positive(self.lr),
            Field::Lr,
            self.lr,
            "the learning rate must be a positive number",
        )?;
        ensure(
            positive(self.table_lr),
            Field::TableLr,
            self.table_lr,
            "the table's learning rate must be a positive number",
        )?;
        ensure(
            self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum),
            Field::Momentum,
            self.momentum,
            "must be in [0, 1)",
        )?;
        ensure(
            positive(self.zero_shift_eps) && self.zero_shift_eps < 0.5,
            Field::ZeroShiftEps,
            self.zero_shift_eps,
            "must be a small positive value in (0, 0.5), e.g. 1e-4",
        )?;
        ensure(
            positive(self.init_scale) && self.init_scale <= 1.0,
            Field::InitScale,
            self.init_scale,
            "must be in (0, 1]",
        )?;
        let o = &self.oscillation;
        for (field, v) in [
            (Field::OscillationEma, o.ema),
            (Field::OscillationThreshold, o.threshold),
            (Field::FreezeStartThreshold, o.freeze_start_threshold),
        ] {
            ensure(positive(v) && v <= 1.0, field, v, "must be in (0, 1]")?;
        }
        ensure(
            o.freeze_warmup.is_finite() && (0.0..1.0).contains(&o.freeze_warmup),
            Field::FreezeWarmup,
            o.freeze_warmup,
            "must be a fraction in [0, 1)",
        )?;
        ensure(
            o.trajectory_steps <= 100_000,
            Field::TrajectorySteps,
            o.trajectory_steps,
            "record at most 100000 steps (0 turns trajectories off)",
        )?;
        ensure(
            o.dampening.is_finite() && o.dampening >= 0.0,
            Field::Dampening,
            o.dampening,
            "must be a lambda >= 0 (0 turns dampening off)",
        )?;
        ensure(
            self.train_noise.is_finite() && self.train_noise >= 0.0,
            Field::TrainNoise,
            self.train_noise,
            "must be a sigma >= 0 in units of the level spacing D (0 turns it off)",
        )?;
        ensure(
            self.train_noise == 0.0 || grid.is_quantized(),
            Field::TrainNoise,
            self.train_noise,
            "is in units of the level spacing D, which a full-precision run (levels = 0) does not have: quantize (levels >= 2) or drop the training noise",
        )?;
        self.check_adc()?;
        if !o.observe && (o.dampening > 0.0 || o.freeze) {
            return Err(ConfigError::RemediesNeedObservers);
        }
        Ok(grid)
    }

    /// The training ADC's keys: both or neither, M in 2..=2^24, B finite and > 0, the real
    /// MLP.
    fn check_adc(&self) -> Result<(), ConfigError> {
        let levels = self.train_adc_levels.filter(|&m| m != 0);
        match (levels, self.train_adc_range) {
            (None, None) => Ok(()),
            (None, Some(b)) => Err(ConfigError::Invalid {
                field: Field::TrainAdcRange,
                value: b.to_string(),
                expected: "is the range of the training ADC, which is off: give its levels \
                           too (train_adc_levels M >= 2), or drop the range"
                    .into(),
            }),
            (Some(m), b) => {
                ensure(
                    (2..=MAX_ADC_LEVELS).contains(&m),
                    Field::TrainAdcLevels,
                    m,
                    "an ADC needs 2..=16777216 levels (0 turns it off)",
                )?;
                ensure(
                    self.model == ModelKind::Mlp,
                    Field::TrainAdcLevels,
                    m,
                    "the complex model has no output ADC in training: train the real MLP, or \
                     drop the ADC",
                )?;
                let Some(b) = b else {
                    return Err(ConfigError::Invalid {
                        field: Field::TrainAdcLevels,
                        value: m.to_string(),
                        expected: "needs the ADC's range too (train_adc_range B > 0: it reads \
                                   [-B, B])"
                            .into(),
                    });
                };
                ensure(
                    b.is_finite() && b > 0.0,
                    Field::TrainAdcRange,
                    b,
                    "must be a finite range B > 0 (the ADC reads [-B, B])",
                )
            }
        }
    }

    /// The training ADC, when on.
    pub fn train_adc(&self) -> Option<crate::nn::mlp::Adc> {
        match (self.train_adc_levels, self.train_adc_range) {
            (Some(levels), Some(range)) if levels != 0 => {
                Some(crate::nn::mlp::Adc { levels, range })
            }
            _ => None,
        }
    }

    /// Canonical JSON (field order fixed by the struct).
    pub fn canonical_json(&self) -> String {
        serde_json::to_string(self).expect("a TrainConfig always serialises")
    }

    /// The run id: the first 12 hex digits of the md5 of the canonical JSON.
    pub fn run_id(&self) -> String {
        let digest = Md5::digest(self.canonical_json().as_bytes());
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// A short human label, e.g. `plain-n8-s0`.
    pub fn label(&self) -> String {
        format!("{}-n{}-s{}", self.scheme, self.levels, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_bounded_with_a_stated_limit() {
        for (epochs, batch) in [(usize::MAX, 32), (1_000_000_000, 32), (10, usize::MAX)] {
            let c = TrainConfig {
                epochs,
                batch,
                ..TrainConfig::default()
            };
            let e = c.check_ref().unwrap_err().to_string();
            assert!(e.contains("1..="), "{e}");
        }
        let c = TrainConfig {
            epochs: MAX_EPOCHS,
            batch: MAX_BATCH,
            ..TrainConfig::default()
        };
        c.check_ref().unwrap();
    }

    #[test]
    fn defaults_are_valid_and_ids_are_stable() {
        let c = TrainConfig::default();
        c.check_ref().unwrap();
        assert_eq!(c.run_id(), c.clone().run_id());
        let mut d = c.clone();
        d.seed = 1;
        assert_ne!(c.run_id(), d.run_id());
        assert_eq!(c.run_id().len(), 12);
        let back: TrainConfig = serde_json::from_str(&c.canonical_json()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn default_trajectory_window_stays_out_of_the_run_id() {
        let c = TrainConfig::default();
        assert!(!c.canonical_json().contains("trajectory_steps"));
        let mut d = c.clone();
        d.oscillation.trajectory_steps = 100;
        assert!(d.canonical_json().contains("\"trajectory_steps\":100"));
        assert_ne!(c.run_id(), d.run_id());
        let back: TrainConfig = serde_json::from_str(&c.canonical_json()).unwrap();
        assert_eq!(back.oscillation.trajectory_steps, DEFAULT_TRAJECTORY_STEPS);
    }

    #[test]
    fn observers_off_is_a_different_run_and_excludes_the_remedies() {
        let c = TrainConfig::default();
        assert!(
            !c.canonical_json().contains("observe"),
            "default ids unchanged"
        );
        let mut d = c.clone();
        d.oscillation.observe = false;
        assert!(d.canonical_json().contains("\"observe\":false"));
        assert_ne!(c.run_id(), d.run_id());
        let back: TrainConfig = serde_json::from_str(&d.canonical_json()).unwrap();
        assert_eq!(back, d);
        assert!(d.check_ref().is_ok());
        d.oscillation.freeze = true;
        assert_eq!(
            d.check_ref().unwrap_err(),
            ConfigError::RemediesNeedObservers
        );
        d.oscillation.freeze = false;
        d.oscillation.dampening = 0.1;
        let e = d.clone().check().unwrap_err();
        assert!(
            e.to_string().starts_with("oscillation.observe = false"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_the_key() {
        let bad = [
            TrainConfig {
                levels: 1,
                ..Default::default()
            },
            TrainConfig {
                epochs: 0,
                ..Default::default()
            },
            TrainConfig {
                batch: 0,
                ..Default::default()
            },
            TrainConfig {
                lr: f32::NAN,
                ..Default::default()
            },
            TrainConfig {
                resolution: 9,
                ..Default::default()
            },
        ];
        let keys = ["levels", "epochs", "batch", "lr", "resolution"];
        for (c, k) in bad.iter().zip(keys) {
            let e = c.clone().check().unwrap_err();
            assert_eq!(e.field().map(Field::key), Some(k));
            assert!(e.to_string().starts_with(&format!("{k} = ")), "{e}");
            assert!(!e.to_string().contains("--"), "no flags: {e}");
        }
    }

    /// The checked config holds the grid and keeps the run id; errors speak of keys and
    /// values, and the one rule for levels is the grid's.
    #[test]
    fn checked_configs_hold_the_grid_and_reject_bad_values_by_value() {
        let raw = TrainConfig {
            levels: 6,
            rounding: Rounding::HalfUp,
            ..Default::default()
        };
        let c = raw.clone().check().unwrap();
        assert_eq!(c.grid(), &Grid::new(6, Rounding::HalfUp).unwrap());
        assert_eq!(c.run_id(), raw.run_id());
        assert_eq!(c.canonical_json(), raw.canonical_json());
        assert_eq!(c.into_config(), raw);
        let err = |c: TrainConfig| c.check().unwrap_err().to_string();
        assert_eq!(
            err(TrainConfig {
                levels: 1,
                ..Default::default()
            }),
            "levels = 1: must be 0 (full precision) or 2..=65536 (a single level cannot span [-1, 1])"
        );
        assert_eq!(
            err(TrainConfig {
                levels: crate::quant::MAX_LEVELS + 1,
                ..Default::default()
            }),
            "levels = 65537: must be 0 (full precision) or 2..=65536"
        );
        assert!(TrainConfig {
            levels: crate::quant::MAX_LEVELS,
            ..Default::default()
        }
        .check()
        .is_ok());
        assert_eq!(
            err(TrainConfig {
                momentum: 1.5,
                ..Default::default()
            }),
            "momentum = 1.5: must be in [0, 1)"
        );
        let mut o = TrainConfig::default();
        o.oscillation.ema = 0.0;
        assert_eq!(err(o), "oscillation.ema = 0: must be in (0, 1]");
        assert_eq!(
            CheckedConfig::try_from(TrainConfig {
                hidden: Hidden::one(0),
                ..Default::default()
            })
            .unwrap_err()
            .field(),
            Some(Field::Hidden)
        );
    }

    #[test]
    fn train_adc_stays_out_of_the_run_id_when_off_and_is_checked() {
        let c = TrainConfig::default();
        let id = c.run_id();
        let mut off = c.clone();
        off.train_adc_levels = Some(0);
        assert_eq!(off.run_id(), id, "0 levels is off");
        assert!(!off.canonical_json().contains("adc"));
        off.check_ref().unwrap();
        assert_eq!(off.train_adc(), None);
        let mut on = c.clone();
        on.train_adc_levels = Some(16);
        on.train_adc_range = Some(4.0);
        on.check_ref().unwrap();
        assert!(on
            .canonical_json()
            .ends_with(",\"train_adc_levels\":16,\"train_adc_range\":4.0}"));
        assert_ne!(on.run_id(), id);
        let back: TrainConfig = serde_json::from_str(&on.canonical_json()).unwrap();
        assert_eq!(back, on);
        assert_eq!(
            on.train_adc(),
            Some(crate::nn::mlp::Adc {
                levels: 16,
                range: 4.0
            })
        );
        // Each bad value: one error naming its key.
        let bad = |levels: Option<u32>, range: Option<f64>, model: ModelKind| {
            let d = TrainConfig {
                train_adc_levels: levels,
                train_adc_range: range,
                model,
                ..c.clone()
            };
            d.check_ref().unwrap_err()
        };
        let mlp = ModelKind::Mlp;
        for (levels, range, field) in [
            (Some(1), Some(4.0), Field::TrainAdcLevels),
            (Some(MAX_ADC_LEVELS + 1), Some(4.0), Field::TrainAdcLevels),
            (Some(16), None, Field::TrainAdcLevels),
            (Some(16), Some(0.0), Field::TrainAdcRange),
            (Some(16), Some(-1.0), Field::TrainAdcRange),
            (Some(16), Some(f64::NAN), Field::TrainAdcRange),
            (Some(16), Some(f64::INFINITY), Field::TrainAdcRange),
            (None, Some(4.0), Field::TrainAdcRange),
            (Some(0), Some(4.0), Field::TrainAdcRange),
        ] {
            let e = bad(levels, range, mlp);
            assert_eq!(e.field(), Some(field), "{levels:?} {range:?}: {e}");
            assert!(!e.to_string().contains('\n'));
        }
        let e = bad(Some(16), Some(4.0), ModelKind::Complex);
        assert_eq!(e.field(), Some(Field::TrainAdcLevels));
        assert!(e.to_string().contains("complex"), "{e}");
    }

    #[test]
    fn train_noise_stays_out_of_the_run_id_when_off_and_is_checked() {
        let c = TrainConfig::default();
        assert!(!c.canonical_json().contains("train_noise"));
        let mut d = c.clone();
        d.train_noise = 0.25;
        assert!(d.canonical_json().ends_with(",\"train_noise\":0.25}"));
        assert_ne!(c.run_id(), d.run_id());
        let back: TrainConfig = serde_json::from_str(&d.canonical_json()).unwrap();
        assert_eq!(back, d);
        assert!(d.clone().check().is_ok());
        for bad in [-0.1, f32::NAN, f32::INFINITY] {
            d.train_noise = bad;
            let e = d.clone().check().unwrap_err();
            assert_eq!(e.field(), Some(Field::TrainNoise), "{e}");
        }
        d.train_noise = 0.1;
        d.levels = 0;
        let e = d.check().unwrap_err().to_string();
        assert!(e.contains("full-precision"), "{e}");
    }

    #[test]
    fn kmnist_stays_out_of_the_run_id_and_other_datasets_enter_it() {
        let c = TrainConfig::default();
        assert!(
            !c.canonical_json().contains("dataset"),
            "default ids unchanged"
        );
        // The id of the default config, fixed before datasets existed.
        let old: TrainConfig = serde_json::from_str(&c.canonical_json()).unwrap();
        assert_eq!(old.dataset, DatasetId::Kmnist);
        assert_eq!(old.run_id(), c.run_id());
        let mut d = c.clone();
        d.dataset = DatasetId::FashionMnist;
        assert!(d
            .canonical_json()
            .ends_with(",\"dataset\":\"fashion-mnist\"}"));
        assert_ne!(c.run_id(), d.run_id());
        let back: TrainConfig = serde_json::from_str(&d.canonical_json()).unwrap();
        assert_eq!(back, d);
        let e = serde_json::from_str::<TrainConfig>(r#"{"dataset":"cifar"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown dataset 'cifar'"), "{e}");
    }

    /// One hidden layer keeps the number in the canonical JSON (and so every earlier run
    /// id); more layers are a list; a sweep's string "32,16" reads as the same config.
    #[test]
    fn one_hidden_layer_is_a_number_and_deeper_ones_a_list() {
        let c = TrainConfig::default();
        assert!(c.canonical_json().contains(",\"hidden\":16,"));
        let old = c.canonical_json();
        let back: TrainConfig = serde_json::from_str(&old).unwrap();
        assert_eq!((back.run_id(), back.canonical_json()), (c.run_id(), old));
        let d = TrainConfig {
            hidden: Hidden::new(vec![32, 16]),
            ..Default::default()
        };
        assert!(d.canonical_json().contains(",\"hidden\":[32,16],"));
        assert_ne!(d.run_id(), c.run_id());
        let from_sweep: TrainConfig = serde_json::from_str(r#"{"hidden":"32,16"}"#).unwrap();
        assert_eq!(from_sweep.run_id(), d.run_id());
        assert!(d.clone().check().is_ok());
        let complex = TrainConfig {
            model: ModelKind::Complex,
            ..d
        };
        let e = complex.check().unwrap_err();
        assert_eq!(e.field(), Some(Field::Hidden));
        assert!(
            e.to_string()
                .starts_with("hidden = 32,16: the complex model"),
            "{e}"
        );
        let e = serde_json::from_str::<TrainConfig>(r#"{"hidden":"wide"}"#).unwrap_err();
        assert!(
            e.to_string()
                .contains("'wide' is not a list of hidden widths"),
            "{e}"
        );
    }
}
