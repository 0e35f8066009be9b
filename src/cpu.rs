//! The one place that picks the kernel: what this CPU can run, detected once, and the one
//! macro that compiles a body per instruction set.
//!
//! - [`isa`] is the instruction-set level every dispatching kernel runs: AVX-512 (F and VL),
//!   AVX2, or the portable code. `AQNN_NO_SIMD` (set to anything, read once) forces the
//!   portable code, to time and test it. Every build computes the same bits (no fused
//!   multiply-add is enabled and Rust never contracts `a * b + c`; every sum keeps its
//!   order), so the choice only changes speed; the `builds_agree` tests and the whole-run
//!   test with `AQNN_NO_SIMD=1` check it.
//! - [`has_vbmi`]: the byte-table lookup of `lookup.rs` (AVX-512 F, BW and VBMI; off with
//!   `AQNN_NO_SIMD`).
//! - [`has_fma`]: the hardware fused multiply-add behind `exp` and `ln` in `nn/act.rs`.
//!   Those are *defined* with fused multiply-adds (`mul_add`, exact in software too), so the
//!   hardware one is a speed-up only, and `AQNN_NO_SIMD` leaves it on.
//! - [`available`]: every level the hardware runs (whatever `AQNN_NO_SIMD` says), for the
//!   tests that compare the builds.
//! - [`per_isa!`](crate::cpu::per_isa): "compile this body per level and run the build of
//!   this level", the only way a compiled (not hand-written) SIMD build is made.
//!
//! Hand-written AVX-512 kernels are `#[target_feature]` functions in per-ISA files beside
//! their portable code (`nn/mlp/avx512.rs`, `oscillation/avx512.rs`, `lookup.rs`'s `vbmi`);
//! they run only when this module said the CPU has the feature.

use std::sync::OnceLock;

/// An instruction-set level of the kernels, widest last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// The portable code, compiled for the baseline target. The reference.
    Portable,
    /// The portable code compiled with AVX2 enabled.
    Avx2,
    /// AVX-512 F and VL: the portable code compiled with AVX-512 F, or a hand-written kernel
    /// (16 lanes per register).
    Avx512,
}

/// The CPU features the kernels use, as detected (no `AQNN_NO_SIMD` applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Features {
    /// AVX2 (the AVX2 builds).
    pub avx2: bool,
    /// Fused multiply-add (`exp` and `ln`).
    pub fma: bool,
    /// AVX-512 F and VL (the AVX-512 level, with `avx512vl`).
    pub avx512f: bool,
    /// AVX-512 VL.
    pub avx512vl: bool,
    /// AVX-512 BW (the byte-table lookup, with F and VBMI).
    pub avx512bw: bool,
    /// AVX-512 VBMI.
    pub avx512vbmi: bool,
}

impl Features {
    /// The features of this CPU (none off x86-64).
    pub fn detect() -> Features {
        #[cfg(target_arch = "x86_64")]
        {
            Features {
                avx2: std::is_x86_feature_detected!("avx2"),
                fma: std::is_x86_feature_detected!("fma"),
                avx512f: std::is_x86_feature_detected!("avx512f"),
                avx512vl: std::is_x86_feature_detected!("avx512vl"),
                avx512bw: std::is_x86_feature_detected!("avx512bw"),
                avx512vbmi: std::is_x86_feature_detected!("avx512vbmi"),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Features::default()
        }
    }

    /// Whether these features run the builds of `isa`.
    pub fn supports(&self, isa: Isa) -> bool {
        match isa {
            Isa::Portable => true,
            Isa::Avx2 => self.avx2,
            Isa::Avx512 => self.avx512f && self.avx512vl,
        }
    }

    /// The widest level these features run.
    pub fn widest(&self) -> Isa {
        [Isa::Avx512, Isa::Avx2]
            .into_iter()
            .find(|&i| self.supports(i))
            .unwrap_or(Isa::Portable)
    }

    /// Whether the byte-table lookup (AVX-512 F, BW and VBMI) runs.
    pub fn vbmi(&self) -> bool {
        self.avx512f && self.avx512bw && self.avx512vbmi
    }
}

/// What the kernels run: the choice made once from the features and `AQNN_NO_SIMD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice {
    /// The detected features.
    pub features: Features,
    /// The level every dispatching kernel runs.
    pub isa: Isa,
    /// Whether the byte-table lookup runs.
    pub vbmi: bool,
}

/// The choice for `features` when `AQNN_NO_SIMD` is `no_simd` (its value, if set): any
/// value, even empty or "0", means the portable code everywhere (except the fused
/// multiply-add of `exp` and `ln`, see the module doc).
pub fn choose(features: Features, no_simd: Option<&std::ffi::OsStr>) -> Choice {
    let simd = no_simd.is_none();
    Choice {
        features,
        isa: if simd {
            features.widest()
        } else {
            Isa::Portable
        },
        vbmi: simd && features.vbmi(),
    }
}

/// The choice of this process (detected and read once).
pub fn choice() -> &'static Choice {
    static CHOICE: OnceLock<Choice> = OnceLock::new();
    CHOICE.get_or_init(|| {
        choose(
            Features::detect(),
            std::env::var_os("AQNN_NO_SIMD").as_deref(),
        )
    })
}

/// The level the kernels run (see the module doc).
#[inline]
pub fn isa() -> Isa {
    choice().isa
}

/// Whether the AVX-512 VBMI byte-table lookup runs.
#[inline]
pub fn has_vbmi() -> bool {
    choice().vbmi
}

/// Whether the CPU has hardware fused multiply-add (not affected by `AQNN_NO_SIMD`).
#[inline]
pub fn has_fma() -> bool {
    choice().features.fma
}

/// Every level this CPU runs, the portable one first (whatever `AQNN_NO_SIMD` says).
pub fn available() -> Vec<Isa> {
    let f = choice().features;
    [Isa::Portable, Isa::Avx2, Isa::Avx512]
        .into_iter()
        .filter(|&i| f.supports(i))
        .collect()
}

/// `isa`, after checking that this CPU runs it: the safety argument of [`per_isa!`]
/// (a level named by a caller, e.g. a test, that the CPU lacks is a bug: it panics).
#[inline]
pub fn checked(isa: Isa) -> Isa {
    assert!(
        choice().features.supports(isa),
        "the {isa:?} kernels do not run on this CPU"
    );
    isa
}

/// Compile a body once per instruction-set level and run the build of a level:
///
/// ```ignore
/// cpu::per_isa!(isa, fn(p: &mut [f32] = p, g: &[f32] = g) { adam(p, g) })
/// cpu::per_isa!(isa, [avx2], fn(net: &mut Mlp = self) -> BatchStats { ... })
/// ```
///
/// The body sees only the named arguments (each bound to the value after `=`); name types
/// concretely (no `Self`). The list in brackets says which compiled builds to make
/// (`avx512`, `avx2`; both by default); a level without a build, and the portable level, run
/// the body as compiled for the baseline target. The AVX-512 build enables AVX-512 F only
/// (wider vectors for the compiler; the hand-written kernels name what they need). `isa` is
/// checked against the CPU ([`checked`]), which is what makes the `unsafe` calls sound.
macro_rules! per_isa {
    ($isa:expr, fn($($arg:ident: $ty:ty = $val:expr),* $(,)?) $(-> $ret:ty)? $body:block) => {
        $crate::cpu::per_isa!(@go $isa, [avx512, avx2], ($($arg: $ty),*), ($($arg),*),
            ($($val),*), [$(-> $ret)?], $body)
    };
    (
        $isa:expr, [$($level:ident),*],
        fn($($arg:ident: $ty:ty = $val:expr),* $(,)?) $(-> $ret:ty)? $body:block
    ) => {
        $crate::cpu::per_isa!(@go $isa, [$($level),*], ($($arg: $ty),*), ($($arg),*),
            ($($val),*), [$(-> $ret)?], $body)
    };
    (
        @go $isa:expr, [$($level:ident),*],
        $params:tt, $names:tt, $vals:tt, $ret:tt, $body:block
    ) => {{
        $crate::cpu::per_isa!(@fn #[inline(always)] portable $params $ret $body);
        $($crate::cpu::per_isa!(@build $level $params $names $ret);)*
        match $crate::cpu::checked($isa) {
            $(
                #[cfg(target_arch = "x86_64")]
                // SAFETY: `checked` made sure the CPU has the level's features.
                $crate::cpu::per_isa!(@variant $level) => unsafe { $level $vals },
            )*
            _ => portable $vals,
        }
    }};
    (@build avx512 $params:tt ($($name:ident),*) $ret:tt) => {
        $crate::cpu::per_isa!(@fn
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            avx512 $params $ret { portable($($name),*) });
    };
    (@build avx2 $params:tt ($($name:ident),*) $ret:tt) => {
        $crate::cpu::per_isa!(@fn
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2")]
            avx2 $params $ret { portable($($name),*) });
    };
    (@fn $(#[$attr:meta])* $name:ident ($($param:tt)*) [$($ret:tt)*] $body:block) => {
        $(#[$attr])*
        #[allow(clippy::too_many_arguments)]
        fn $name($($param)*) $($ret)* $body
    };
    (@variant avx512) => {
        $crate::cpu::Isa::Avx512
    };
    (@variant avx2) => {
        $crate::cpu::Isa::Avx2
    };
}
pub(crate) use per_isa;

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;

    fn all() -> Features {
        Features {
            avx2: true,
            fma: true,
            avx512f: true,
            avx512vl: true,
            avx512bw: true,
            avx512vbmi: true,
        }
    }

    #[test]
    fn no_simd_set_to_anything_means_portable() {
        for v in ["1", "0", "", "yes"] {
            let c = choose(all(), Some(OsStr::new(v)));
            assert_eq!(c.isa, Isa::Portable, "AQNN_NO_SIMD={v:?}");
            assert!(!c.vbmi);
            assert!(c.features.fma, "the fused multiply-add stays");
        }
        let c = choose(all(), None);
        assert_eq!(c.isa, Isa::Avx512);
        assert!(c.vbmi);
    }

    #[test]
    fn widest_level_the_features_allow() {
        let none = Features::default();
        assert_eq!(choose(none, None).isa, Isa::Portable);
        let avx2 = Features { avx2: true, ..none };
        assert_eq!(choose(avx2, None).isa, Isa::Avx2);
        // AVX-512 F without VL (Knights Landing) is not the AVX-512 level.
        let f_only = Features {
            avx512f: true,
            ..avx2
        };
        assert_eq!(choose(f_only, None).isa, Isa::Avx2);
        assert!(!f_only.vbmi());
        let no_vbmi = Features {
            avx512vbmi: false,
            ..all()
        };
        let c = choose(no_vbmi, None);
        assert_eq!((c.isa, c.vbmi), (Isa::Avx512, false));
    }

    #[test]
    fn checked_accepts_what_the_cpu_runs() {
        for isa in available() {
            assert_eq!(checked(isa), isa);
        }
        assert_eq!(available()[0], Isa::Portable);
        assert!(available().contains(&isa()));
    }

    #[test]
    fn per_isa_runs_the_body_in_every_build() {
        for isa in available() {
            let mut v = vec![1.0f32, 2.0, 3.0];
            let s = per_isa!(isa, fn(v: &mut [f32] = &mut v, k: f32 = 0.5) -> f32 {
                v.iter_mut().for_each(|x| *x *= k);
                v.iter().sum()
            });
            assert_eq!(s, 3.0);
            assert_eq!(v, [0.5, 1.0, 1.5]);
        }
    }
}
