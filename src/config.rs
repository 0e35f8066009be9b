//! One training run's configuration: every knob, validated once, serialised canonically.
//!
//! The canonical JSON of a [`TrainConfig`] (fields in declaration order) is hashed into the
//! run id, so two runs with the same id are the same computation.

use crate::data::DatasetId;
use crate::encode::Scheme;
use crate::nn::init::InitKind;
use crate::nn::mlp::OutputKind;
use crate::optim::OptimizerKind;
use crate::quant::Rounding;
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
    /// Hidden width.
    pub hidden: usize,
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
}

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
            hidden: 16,
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
        }
    }
}

fn positive_finite(name: &str, v: f32, hint: &str) -> Result<(), String> {
    if v.is_finite() && v > 0.0 {
        Ok(())
    } else {
        Err(format!("{name} = {v} is invalid: {hint}"))
    }
}

impl TrainConfig {
    /// Check every value; the error names the key, the bad value and what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if self.levels == 1 {
            return Err("levels = 1 is invalid: a single level cannot span [-1, 1]; use 2 or more levels, or 0 for full precision".into());
        }
        if self.levels > 65536 {
            return Err(format!(
                "levels = {} is invalid: at most 65536 levels are supported",
                self.levels
            ));
        }
        if self.epochs == 0 {
            return Err("epochs = 0 is invalid: train for at least 1 epoch".into());
        }
        if self.batch == 0 {
            return Err("batch = 0 is invalid: the batch size must be at least 1".into());
        }
        if self.hidden == 0 || self.hidden > 4096 {
            return Err(format!(
                "hidden = {} is invalid: the hidden width must be between 1 and 4096",
                self.hidden
            ));
        }
        if ![7, 14, 28].contains(&self.resolution) {
            return Err(format!(
                "resolution = {} is invalid: expected 7, 14 or 28",
                self.resolution
            ));
        }
        positive_finite("lr", self.lr, "the learning rate must be a positive number")?;
        positive_finite(
            "table_lr",
            self.table_lr,
            "the table's learning rate must be a positive number",
        )?;
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(format!(
                "momentum = {} is invalid: expected a value in [0, 1)",
                self.momentum
            ));
        }
        if !(self.zero_shift_eps.is_finite()
            && self.zero_shift_eps > 0.0
            && self.zero_shift_eps < 0.5)
        {
            return Err(format!(
                "zero_shift_eps = {} is invalid: expected a small positive value in (0, 0.5), e.g. 1e-4",
                self.zero_shift_eps
            ));
        }
        if !(self.init_scale.is_finite() && self.init_scale > 0.0 && self.init_scale <= 1.0) {
            return Err(format!(
                "init_scale = {} is invalid: expected a value in (0, 1]",
                self.init_scale
            ));
        }
        let o = &self.oscillation;
        for (name, v) in [
            ("oscillation.ema", o.ema),
            ("oscillation.threshold", o.threshold),
            (
                "oscillation.freeze_start_threshold",
                o.freeze_start_threshold,
            ),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 1.0) {
                return Err(format!(
                    "{name} = {v} is invalid: expected a value in (0, 1]"
                ));
            }
        }
        if !(o.freeze_warmup.is_finite() && (0.0..1.0).contains(&o.freeze_warmup)) {
            return Err(format!(
                "oscillation.freeze_warmup = {} is invalid: expected a fraction in [0, 1)",
                o.freeze_warmup
            ));
        }
        if o.trajectory_steps > 100_000 {
            return Err(format!(
                "oscillation.trajectory_steps = {} is invalid: record at most 100000 steps (0 turns trajectories off)",
                o.trajectory_steps
            ));
        }
        if !(o.dampening.is_finite() && o.dampening >= 0.0) {
            return Err(format!(
                "oscillation.dampening = {} is invalid: expected lambda >= 0 (0 turns it off)",
                o.dampening
            ));
        }
        if !o.observe && (o.dampening > 0.0 || o.freeze) {
            return Err("oscillation.observe = false (--no-observers) turns the oscillation observers off, but dampening and freezing need them: keep the observers on, or turn the remedies off".into());
        }
        Ok(())
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
    fn defaults_are_valid_and_ids_are_stable() {
        let c = TrainConfig::default();
        c.validate().unwrap();
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
        assert!(d.validate().is_ok());
        d.oscillation.freeze = true;
        assert!(d.validate().unwrap_err().contains("observe"));
        d.oscillation.freeze = false;
        d.oscillation.dampening = 0.1;
        assert!(d.validate().unwrap_err().contains("observe"));
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
            let e = c.validate().unwrap_err();
            assert!(e.starts_with(k), "{e}");
        }
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
}
