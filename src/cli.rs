//! Command-line definitions (clap only; the work happens in the library), the conversion of
//! the train flags to a checked config, and the mapping of the library's config errors (which
//! name keys) to the flags that set them.

use crate::config::{CheckedConfig, ConfigError, Field, ModelKind, OscillationConfig, TrainConfig};
use crate::encode::Scheme;
use crate::nn::init::InitKind;
use crate::nn::mlp::OutputKind;
use crate::optim::OptimizerKind;
use crate::quant::Rounding;
use anyhow::{anyhow, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// aqnn: analog quantized neural networks.
#[derive(Debug, Parser)]
#[command(name = "aqnn", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one network and report its accuracy.
    Train(TrainArgs),
    /// Explain an n-level grid: levels, decision thresholds, where 0 goes.
    Levels(LevelsArgs),
    /// Download or inspect the KMNIST files.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run a grid of trainings (TOML file or flags) in parallel, resumably.
    Sweep(SweepArgs),
    /// Merge the outputs of several (sharded) sweeps into one directory and summary.
    Collect(CollectArgs),
    /// Statistics over seeds and the verdict on each of the seed's claims.
    Analyze(AnalyzeArgs),
    /// Run every experiment of the seed, the analysis and the report.
    Reproduce(ReproduceArgs),
    /// Measure speed: time per 60,000-sample epoch on one core, scaling, sweep throughput.
    Bench(BenchArgs),
    /// Draw one figure (SVG and PNG) from stored runs, without retraining.
    Plot(PlotArgs),
    /// Write the HTML report (figures, tables, verdicts, configs) of stored runs.
    Report(ReportArgs),
    /// Accuracy of a trained run on simulated analog chips (noise, drift, faults, ADC).
    Eval(EvalArgs),
}

#[derive(Debug, Args)]
pub struct PlotArgs {
    /// The figure, e.g. accuracy, accuracy-panels, staircase, zero-map, inputs, mapping,
    /// weights (see --list).
    #[arg(required_unless_present = "list")]
    pub figure: Option<String>,
    /// Directories of runs (experiment directories, or a reproduce output root); not needed
    /// for staircase and zero-map.
    pub dirs: Vec<PathBuf>,
    /// Directory to write <figure>.svg and <figure>.png into.
    #[arg(long, value_name = "DIR", default_value = "figures")]
    pub out: PathBuf,
    /// List the figures and exit.
    #[arg(long)]
    pub list: bool,
    /// Levels to show, e.g. 6,8 or 3..=18 (meaning per figure: panels, x range, or one n).
    #[arg(long)]
    pub levels: Option<String>,
    /// Seed of the run to draw (figures of one run) [default: the lowest present].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Series to draw from (figures of one run), e.g. plain, learned, learned-sgd.
    #[arg(long)]
    pub series: Option<String>,
    /// Rounding mode (staircase, inputs).
    #[arg(long, value_enum)]
    pub rounding: Option<RoundingArg>,
    /// Only runs with these settings, e.g. hidden=32,lr=0.003 (any config key; repeatable).
    /// Figures of one run need the selection to hold one configuration per series.
    #[arg(long = "where", value_name = "KEY=VALUE,...")]
    pub select: Vec<String>,
    /// Average runs that differ in these settings into one point (e.g. --pool epochs);
    /// without it, every setting that varies gets its own series.
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub pool: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Directories of runs (experiment directories, or a reproduce output root).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write index.html and figures/ [default: <first directory>/report].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Only runs with these settings, e.g. hidden=32,lr=0.003 (any config key; repeatable).
    #[arg(long = "where", value_name = "KEY=VALUE,...")]
    pub select: Vec<String>,
    /// Average runs that differ in these settings into one point (e.g. --pool epochs);
    /// without it, every setting that varies gets its own series.
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub pool: Vec<String>,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Epochs per timed training.
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Repetitions (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub reps: usize,
    /// Also time hidden 16/64/256 and "32,16" x resolution 7/14/28 (with GFLOP/s each).
    #[arg(long)]
    pub scaling: bool,
    /// Runs of the all-core sweep throughput test (0 = skip).
    #[arg(long, default_value_t = 8)]
    pub sweep_runs: usize,
    /// Use synthetic data of the real shape (no KMNIST files needed).
    #[arg(long)]
    pub synthetic: bool,
    /// Also print the numbers as one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Time only `aqnn eval` on simulated chips (skip the training benchmarks).
    #[arg(long)]
    pub eval_only: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// Sweep file (TOML: name, [train], [grid]); or give the grid with the flags below.
    pub config: Option<PathBuf>,
    /// Output directory [default: runs/<name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Runs at once [default: all cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only the deterministic share I of N of the grid, e.g. 2/4.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Experiment name (flag grids only).
    #[arg(long, default_value = "sweep")]
    pub name: String,
    /// Levels: a list of values and ranges, e.g. 0,3..=18.
    #[arg(long, short = 'n')]
    pub levels: Option<String>,
    /// Input schemes, e.g. plain,zero-shift (alias --schemes).
    #[arg(long = "scheme", alias = "schemes", value_name = "LIST")]
    pub schemes: Option<String>,
    /// Number of seeds (0..N); or --seed with a list.
    #[arg(long, conflicts_with = "seed")]
    pub seeds: Option<u64>,
    /// Epochs (one value, or a list: a grid axis).
    #[arg(long, value_name = "LIST")]
    pub epochs: Option<String>,
    /// Rounding modes, e.g. half-even,half-up.
    #[arg(long)]
    pub rounding: Option<String>,
    /// Models, e.g. mlp,complex (alias --models).
    #[arg(long = "model", alias = "models", value_name = "LIST")]
    pub models: Option<String>,
    #[command(flatten)]
    pub train: Box<SweepTrainArgs>,
    /// Refuse a grid of more runs than this (counted before the grid is expanded).
    #[arg(long, value_name = "N", default_value_t = crate::experiment::spec::DEFAULT_MAX_RUNS)]
    pub max_runs: usize,
    /// Without a terminal: seconds between progress lines (runs done, runs left, ETA).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub progress_every: f64,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// The `aqnn train` settings on `aqnn sweep`, with the same names: one value is a fixed
/// setting, a comma list (or a range like 3..=5 for integers) is a grid axis. With a sweep
/// file they override its [train] or [grid] key.
#[derive(Debug, Args, Clone, Default)]
pub struct SweepTrainArgs {
    /// Seeds: a list or range, e.g. 0,7,9 or 0..=4 (or --seeds N for 0..N).
    #[arg(long, value_name = "LIST")]
    pub seed: Option<String>,
    /// Hidden widths, e.g. 16,64.
    #[arg(long, value_name = "LIST")]
    pub hidden: Option<String>,
    /// Batch sizes.
    #[arg(long, value_name = "LIST")]
    pub batch: Option<String>,
    /// Learning rates, e.g. 0.01,0.003.
    #[arg(long, value_name = "LIST")]
    pub lr: Option<String>,
    /// Optimizers: adam, sgd.
    #[arg(long, value_name = "LIST")]
    pub optimizer: Option<String>,
    /// SGD momentum.
    #[arg(long, value_name = "LIST")]
    pub momentum: Option<String>,
    /// Initialisers: auto, glorot-uniform, uniform.
    #[arg(long, value_name = "LIST")]
    pub init: Option<String>,
    /// Limit a of --init uniform.
    #[arg(long, value_name = "LIST")]
    pub init_scale: Option<String>,
    /// Image sides: 7, 14, 28.
    #[arg(long, value_name = "LIST")]
    pub resolution: Option<String>,
    /// Output layers: linear, tanh.
    #[arg(long, value_name = "LIST")]
    pub output: Option<String>,
    /// Black-pixel shift of the zero-shift scheme.
    #[arg(long, value_name = "LIST")]
    pub eps: Option<String>,
    /// Optimizers of the learned input table.
    #[arg(long, value_name = "LIST")]
    pub table_optimizer: Option<String>,
    /// Learning rates of the learned input table.
    #[arg(long, value_name = "LIST")]
    pub table_lr: Option<String>,
    /// Oscillation dampening: maximum lambda (0 = off).
    #[arg(long, value_name = "LIST")]
    pub dampening: Option<String>,
    /// Iterative weight freezing.
    #[arg(long)]
    pub freeze: bool,
    /// Do not measure oscillations.
    #[arg(long)]
    pub no_observers: bool,
    /// Oscillation frequency threshold.
    #[arg(long, value_name = "LIST")]
    pub osc_threshold: Option<String>,
    /// EMA momentum of the oscillation frequency.
    #[arg(long, value_name = "LIST")]
    pub osc_ema: Option<String>,
    /// Freezing threshold at the start of its schedule.
    #[arg(long, value_name = "LIST")]
    pub freeze_start_threshold: Option<String>,
    /// Fraction of training before any freezing.
    #[arg(long, value_name = "LIST")]
    pub freeze_warmup: Option<String>,
    /// Record weight trajectories over the last N steps.
    #[arg(long, value_name = "LIST")]
    pub trajectory_steps: Option<String>,
}

/// How a sweep flag's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// Integers and integer ranges (3..=18).
    Int,
    /// Numbers (read as f32, as `aqnn train` does, so run ids agree).
    Float,
    /// Names.
    Name,
    /// A switch (`--freeze`, `--no-observers`): the text is the key's value, true or false.
    Bool,
}

impl SweepArgs {
    /// Every setting given on the command line: (flag without dashes, config key (dotted for
    /// nested), kind, the text given). `--seeds N` is not here (it is a count).
    pub fn settings(&self) -> Vec<(&'static str, &'static str, FlagKind, String)> {
        use FlagKind::{Bool, Float, Int, Name};
        let t = &self.train;
        let all: [(&str, &str, FlagKind, &Option<String>); 25] = [
            ("levels", "levels", Int, &self.levels),
            ("scheme", "scheme", Name, &self.schemes),
            ("epochs", "epochs", Int, &self.epochs),
            ("rounding", "rounding", Name, &self.rounding),
            ("model", "model", Name, &self.models),
            ("dataset", "dataset", Name, &self.data.dataset),
            ("seed", "seed", Int, &t.seed),
            ("hidden", "hidden", Int, &t.hidden),
            ("batch", "batch", Int, &t.batch),
            ("lr", "lr", Float, &t.lr),
            ("optimizer", "optimizer", Name, &t.optimizer),
            ("momentum", "momentum", Float, &t.momentum),
            ("init", "init", Name, &t.init),
            ("init-scale", "init_scale", Float, &t.init_scale),
            ("resolution", "resolution", Int, &t.resolution),
            ("output", "output", Name, &t.output),
            ("eps", "zero_shift_eps", Float, &t.eps),
            (
                "table-optimizer",
                "table_optimizer",
                Name,
                &t.table_optimizer,
            ),
            ("table-lr", "table_lr", Float, &t.table_lr),
            ("dampening", "oscillation.dampening", Float, &t.dampening),
            (
                "osc-threshold",
                "oscillation.threshold",
                Float,
                &t.osc_threshold,
            ),
            ("osc-ema", "oscillation.ema", Float, &t.osc_ema),
            (
                "freeze-start-threshold",
                "oscillation.freeze_start_threshold",
                Float,
                &t.freeze_start_threshold,
            ),
            (
                "freeze-warmup",
                "oscillation.freeze_warmup",
                Float,
                &t.freeze_warmup,
            ),
            (
                "trajectory-steps",
                "oscillation.trajectory_steps",
                Int,
                &t.trajectory_steps,
            ),
        ];
        let mut out: Vec<_> = all
            .into_iter()
            .filter_map(|(f, k, kind, v)| v.as_ref().map(|v| (f, k, kind, v.clone())))
            .collect();
        if t.freeze {
            out.push(("freeze", "oscillation.freeze", Bool, "true".into()));
        }
        if t.no_observers {
            out.push(("no-observers", "oscillation.observe", Bool, "false".into()));
        }
        out
    }
}

#[derive(Debug, Args)]
pub struct CollectArgs {
    /// Sweep output directories to merge.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Directory to merge into (run directories are copied there).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// Directories of runs (experiment directories, or a reproduce output root).
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Where to write analysis.json and analysis.md [default: the first directory].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Average runs that differ in these settings into one point (e.g. --pool epochs,lr;
    /// repeatable), with a warning; without it, every setting that varies besides the seed
    /// gets its own series (`plain hidden=32 lr=0.003`).
    #[arg(long, value_name = "KEY", value_delimiter = ',')]
    pub pool: Vec<String>,
    /// List every claim of the seed, also those these runs cannot test ("not run").
    #[arg(long)]
    pub all_verdicts: bool,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// A reduced version (fewer seeds and epochs) that finishes in minutes.
    #[arg(long)]
    pub quick: bool,
    /// Output root: one directory per experiment, analysis and report.
    #[arg(long, value_name = "DIR", default_value = "runs")]
    pub out: PathBuf,
    /// Runs at once [default: all cores].
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Only the experiments whose name contains this text.
    #[arg(long)]
    pub only: Option<String>,
    #[command(flatten)]
    pub data: DataDirArg,
}

/// Which dataset, and where its files are (see docs/DATA.md).
#[derive(Debug, Args, Clone, Default)]
pub struct DataDirArg {
    /// Directory holding the dataset's files [default: for KMNIST $AQNN_DATA_DIR, else
    /// $AQNN_DATA_HOME/<dataset>, else ~/.cache/aqnn/<dataset>]
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Dataset: kmnist, fashion-mnist, mnist, or npz:PATH (your own x_train, y_train, x_test,
    /// y_test) [default: kmnist]; `aqnn sweep` takes a list (a grid axis).
    #[arg(long, value_name = "NAME")]
    pub dataset: Option<String>,
    /// Never download missing files into the default cache (an error says how to get them).
    #[arg(long)]
    pub no_download: bool,
}

impl DataDirArg {
    /// The one dataset `--dataset` names (default KMNIST).
    pub fn dataset_id(&self) -> Result<crate::data::DatasetId> {
        self.dataset
            .as_deref()
            .map_or(Ok(crate::data::DatasetId::Kmnist), str::parse)
            .map_err(|e| anyhow!("--dataset: {e}"))
    }
}

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download the official files (md5-verified; files that verify are kept).
    Fetch(DataDirArg),
    /// For each file: present, size, md5, images per class.
    Info(DataDirArg),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoundingArg {
    HalfEven,
    HalfUp,
    HalfDown,
    HalfAway,
    Stochastic,
}

impl From<RoundingArg> for Rounding {
    fn from(r: RoundingArg) -> Rounding {
        match r {
            RoundingArg::HalfEven => Rounding::HalfEven,
            RoundingArg::HalfUp => Rounding::HalfUp,
            RoundingArg::HalfDown => Rounding::HalfDown,
            RoundingArg::HalfAway => Rounding::HalfAway,
            RoundingArg::Stochastic => Rounding::Stochastic,
        }
    }
}

#[derive(Debug, Args)]
pub struct LevelsArgs {
    /// Number of levels (>= 2).
    #[arg(long, short = 'n')]
    pub levels: u32,
    /// Rounding mode.
    #[arg(long, value_enum, default_value = "half-even")]
    pub rounding: RoundingArg,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Training parameters shared by `train` and `sweep`.
#[derive(Debug, Args, Clone)]
pub struct TrainArgs {
    /// Number of quantization levels (0 = full precision).
    #[arg(long, short = 'n', default_value_t = 8)]
    pub levels: u32,
    /// Input scheme: plain, zero-shift or learned.
    #[arg(long, default_value = "plain")]
    pub scheme: String,
    /// Epochs.
    #[arg(long, default_value_t = 10)]
    pub epochs: usize,
    /// Seed (initialisation, shuffling, stochastic rounding).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Model: mlp (real) or complex.
    #[arg(long, default_value = "mlp")]
    pub model: String,
    /// Hidden layer widths: 16 (one layer), or 32,16 for two layers (input side first; at
    /// most 8 layers of at most 4096 units).
    #[arg(long, default_value = "16")]
    pub hidden: crate::nn::Hidden,
    /// Batch size.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Learning rate.
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f32,
    /// Optimizer: adam or sgd.
    #[arg(long, default_value = "adam")]
    pub optimizer: String,
    /// SGD momentum.
    #[arg(long, default_value_t = 0.9)]
    pub momentum: f32,
    /// Initialiser: auto, glorot-uniform or uniform.
    #[arg(long, default_value = "auto")]
    pub init: String,
    /// Limit a of --init uniform (U(-a, a)).
    #[arg(long, default_value_t = 0.5)]
    pub init_scale: f32,
    /// Rounding mode of the quantizer.
    #[arg(long, value_enum, default_value = "half-even")]
    pub rounding: RoundingArg,
    /// Image side after downsampling: 7, 14 or 28.
    #[arg(long, default_value_t = 7)]
    pub resolution: usize,
    /// Output layer: linear or tanh.
    #[arg(long, default_value = "linear")]
    pub output: String,
    /// Black-pixel shift of the zero-shift scheme.
    #[arg(long, default_value_t = 1e-4)]
    pub eps: f32,
    /// Optimizer of the learned input table: adam or sgd.
    #[arg(long, default_value = "adam")]
    pub table_optimizer: String,
    /// Learning rate of the learned input table.
    #[arg(long, default_value_t = 1e-3)]
    pub table_lr: f32,
    /// Oscillation dampening: maximum lambda (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub dampening: f32,
    /// Iterative weight freezing.
    #[arg(long)]
    pub freeze: bool,
    /// Do not measure oscillations (about 10% faster; the same weights; no oscillation
    /// outputs; not with the remedies).
    #[arg(long)]
    pub no_observers: bool,
    /// Frequency above which a weight counts as oscillating (final freezing threshold).
    #[arg(long, default_value_t = 0.01)]
    pub osc_threshold: f32,
    /// EMA momentum of the oscillation frequency.
    #[arg(long, default_value_t = OscillationConfig::default().ema)]
    pub osc_ema: f32,
    /// Freezing threshold at the start of its cosine schedule (down to --osc-threshold).
    #[arg(long, default_value_t = OscillationConfig::default().freeze_start_threshold)]
    pub freeze_start_threshold: f32,
    /// Fraction of training before any freezing.
    #[arg(long, default_value_t = OscillationConfig::default().freeze_warmup)]
    pub freeze_warmup: f32,
    /// Record weight trajectories over the last N steps (0 = none).
    #[arg(long, default_value_t = OscillationConfig::default().trajectory_steps)]
    pub trajectory_steps: usize,
    /// Hardware-aware training: a fresh Gaussian on the quantized weights at every batch,
    /// sigma in units of the level spacing D (STE; 0 = off; see docs/ANALOG.md).
    #[arg(long, default_value_t = 0.0, value_name = "SIGMA")]
    pub train_noise: f32,
    /// Hardware-aware training with the output ADC: every layer's sum W x read with M
    /// levels over [-B, B] as `aqnn eval --adc-levels` reads it, STE inside (needs
    /// --train-adc-range; 0 = off; see docs/ANALOG.md).
    #[arg(long, value_name = "M")]
    pub train_adc_levels: Option<u32>,
    /// The range B > 0 of --train-adc-levels (the ADC reads [-B, B]).
    #[arg(long, value_name = "B")]
    pub train_adc_range: Option<f64>,
    #[command(flatten)]
    pub data: DataDirArg,
    /// Write config.json, metrics.jsonl, weights.npz and result.json here.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print one JSON object (the result) on stdout.
    #[arg(long)]
    pub json: bool,
}

fn parse_kebab<T: serde::de::DeserializeOwned>(what: &str, v: &str, allowed: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(v.to_string()))
        .map_err(|_| anyhow!("unknown {what} '{v}'; expected one of: {allowed}"))
}

/// The flag of the train flags that sets a config key.
pub fn flag(field: Field) -> String {
    format!("--{}", field.option())
}

/// A config error in the words of the command line: the flag instead of the key.
pub fn config_error(e: ConfigError) -> anyhow::Error {
    match e {
        ConfigError::Invalid {
            field,
            value,
            expected,
        } => anyhow!("{} {value}: {expected}", flag(field)),
        ConfigError::RemediesNeedObservers => anyhow!(
            "--no-observers turns the oscillation observers off, but dampening and freezing \
             need them: drop --no-observers, or drop --dampening and --freeze"
        ),
    }
}

impl TrainArgs {
    /// The run config these flags describe, checked; errors name the flags.
    pub fn to_config(&self) -> Result<CheckedConfig> {
        let scheme: Scheme = self.scheme.parse()?;
        let model: ModelKind = parse_kebab("model", &self.model, "mlp, complex")?;
        let optimizer: OptimizerKind = parse_kebab("optimizer", &self.optimizer, "adam, sgd")?;
        let table_optimizer: OptimizerKind =
            parse_kebab("table optimizer", &self.table_optimizer, "adam, sgd")?;
        let init: InitKind = parse_kebab("init", &self.init, "auto, glorot-uniform, uniform")?;
        let output: OutputKind = parse_kebab("output", &self.output, "linear, tanh")?;
        let mut cfg = TrainConfig {
            model,
            levels: self.levels,
            rounding: self.rounding.into(),
            scheme,
            zero_shift_eps: self.eps,
            table_optimizer,
            table_lr: self.table_lr,
            hidden: self.hidden.clone(),
            resolution: self.resolution,
            output,
            epochs: self.epochs,
            batch: self.batch,
            lr: self.lr,
            optimizer,
            momentum: self.momentum,
            init,
            init_scale: self.init_scale,
            seed: self.seed,
            dataset: self.data.dataset_id()?,
            train_noise: self.train_noise,
            train_adc_levels: self.train_adc_levels,
            train_adc_range: self.train_adc_range,
            ..TrainConfig::default()
        };
        cfg.oscillation.dampening = self.dampening;
        cfg.oscillation.freeze = self.freeze;
        cfg.oscillation.threshold = self.osc_threshold;
        cfg.oscillation.ema = self.osc_ema;
        cfg.oscillation.freeze_start_threshold = self.freeze_start_threshold;
        cfg.oscillation.freeze_warmup = self.freeze_warmup;
        cfg.oscillation.trajectory_steps = self.trajectory_steps;
        cfg.oscillation.observe = !self.no_observers;
        cfg.check().map_err(config_error)
    }
}

/// `aqnn eval`: every effect is off by default (units and equations in docs/ANALOG.md).
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// A complete run directory (aqnn train --out DIR).
    pub run_dir: PathBuf,
    /// Weight programming noise: sigma in units of the level spacing D (gaussian), or a
    /// scale of aihwkit's conductance-dependent sigma (pcm, 1 = aihwkit).
    #[arg(long, value_name = "SIGMA", default_value_t = 0.0)]
    pub prog_noise: f64,
    /// Programming-noise model.
    #[arg(long, value_enum, default_value = "gaussian")]
    pub prog_noise_model: crate::analog::ProgModel,
    /// Read noise, fresh at every matrix-vector product: sigma in units of D (gaussian), or a
    /// scale of aihwkit's 1/f read noise (pcm, 1 = aihwkit).
    #[arg(long, value_name = "SIGMA", default_value_t = 0.0)]
    pub read_noise: f64,
    /// Read-noise model.
    #[arg(long, value_enum, default_value = "gaussian")]
    pub read_noise_model: crate::analog::ReadModel,
    /// DAC integral non-linearity of the input and activation levels: sigma in units of D,
    /// one draw per level per chip (the decision thresholds move with the levels).
    #[arg(long, value_name = "SIGMA", default_value_t = 0.0)]
    pub dac_inl: f64,
    /// Apply the DAC INL to the weight levels too.
    #[arg(long)]
    pub dac_inl_weights: bool,
    /// Conductance drift.
    #[arg(long, value_enum, default_value = "none")]
    pub drift: crate::analog::DriftModel,
    /// Global drift compensation (one scale per layer from a calibration input).
    #[arg(long)]
    pub drift_compensation: bool,
    /// Fraction of weights stuck (in [0, 1]).
    #[arg(long, value_name = "FRACTION", default_value_t = 0.0)]
    pub stuck: f64,
    /// Where stuck weights sit: a random level, 0, or -1/+1.
    #[arg(long, value_enum, default_value = "random")]
    pub stuck_mode: crate::analog::StuckMode,
    /// Output ADC levels M (needs --adc-range): one value for every layer, or a comma list
    /// with one per layer (e.g. 16,32).
    #[arg(long, value_name = "M[,M...]")]
    pub adc_levels: Option<String>,
    /// Output ADC range: pre-activations are clipped to [-B, B]; one value for every layer,
    /// or a comma list with one per layer (e.g. 4,8).
    #[arg(long, value_name = "B[,B...]")]
    pub adc_range: Option<String>,
    /// Additive Gaussian output noise before the ADC (pre-activation units).
    #[arg(long, value_name = "SIGMA", default_value_t = 0.0)]
    pub out_noise: f64,
    /// Put the biases on the chip (noise, drift, ADC); otherwise they are digital and exact.
    #[arg(long)]
    pub bias_noise: bool,
    /// Chips to program (repeats).
    #[arg(long, value_name = "R", default_value_t = 10)]
    pub repeats: usize,
    /// Times after programming, seconds, ascending (e.g. 0,1,3600,86400,2592000,31536000).
    #[arg(long, value_name = "LIST", default_value = "0")]
    pub times: String,
    /// Seed of the chips' noise (separate from training's streams).
    #[arg(long, value_name = "S", default_value_t = 0)]
    pub seed: u64,
    /// Print the result as one JSON object.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub data: DataDirArg,
}

impl EvalArgs {
    /// The validated evaluation spec.
    pub fn to_spec(&self) -> Result<crate::analog::eval::EvalSpec> {
        let spec = crate::analog::eval::EvalSpec {
            effects: crate::analog::Effects {
                prog_noise: self.prog_noise,
                prog_noise_model: self.prog_noise_model,
                read_noise: self.read_noise,
                read_noise_model: self.read_noise_model,
                dac_inl: self.dac_inl,
                dac_inl_weights: self.dac_inl_weights,
                drift: self.drift,
                drift_compensation: self.drift_compensation,
                stuck: self.stuck,
                stuck_mode: self.stuck_mode,
                adc_levels: self
                    .adc_levels
                    .as_deref()
                    .map(|s| crate::analog::PerLayer::parse(s, "--adc-levels"))
                    .transpose()?,
                adc_range: self
                    .adc_range
                    .as_deref()
                    .map(|s| crate::analog::PerLayer::parse(s, "--adc-range"))
                    .transpose()?,
                out_noise: self.out_noise,
                bias_noise: self.bias_noise,
            },
            repeats: self.repeats,
            times: crate::analog::eval::parse_times(&self.times)?,
            seed: self.seed,
        };
        spec.check()?;
        Ok(spec)
    }
}
