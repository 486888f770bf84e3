//! SIMD kernels: runtime-dispatched payload (un)masking and incremental
//! UTF-8 validation.
//!
//! # Levels and dispatch
//!
//! [`SimdLevel`] names the instruction sets the kernels are written for.
//! [`detected_level`] is the best level this CPU supports (computed once).
//! [`active_level`] is the level [`mask::apply_mask`] actually uses: on first
//! use it is taken from the `ROCWS_SIMD` environment variable if that holds a
//! level name (`scalar`, `sse2`, `avx2`, `neon`; ASCII case-insensitive,
//! surrounding whitespace ignored) that this CPU supports. An unknown or
//! unsupported value is silently ignored and the detected level is used
//! instead. The choice is cached: after the first call, dispatch costs one
//! atomic load and an indirect call, with no feature detection.
//!
//! [`force_level`] overrides the choice process-wide (tests, benchmarks).
//! Every level computes bit-identical results, so switching levels while
//! other threads are masking is harmless.
//!
//! UTF-8 validation ([`utf8`]) is delegated to `simdutf8`, which does its own
//! runtime detection; the levels here do not affect it.
//!
//! This file, `mask.rs` and `utf8.rs` stay compatible with Rust 1.63 so the
//! NEON path can be built and tested with an older cross toolchain
//! (`scripts/check-neon.sh`).

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicU8, Ordering};

pub mod mask;
pub mod utf8;

/// An instruction-set level a kernel can be run at.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SimdLevel {
    /// Portable code: 64-bit words at a time, no explicit SIMD.
    Scalar,
    /// x86 / x86_64 SSE2 (128-bit vectors).
    Sse2,
    /// x86 / x86_64 AVX2 (256-bit vectors).
    Avx2,
    /// aarch64 Advanced SIMD (NEON, 128-bit vectors).
    Neon,
}

impl SimdLevel {
    /// Every level, from the most portable to the widest.
    pub const ALL: [SimdLevel; 4] = [
        SimdLevel::Scalar,
        SimdLevel::Sse2,
        SimdLevel::Avx2,
        SimdLevel::Neon,
    ];

    /// The lowercase name of the level, as accepted by `ROCWS_SIMD` and
    /// [`FromStr`]: `"scalar"`, `"sse2"`, `"avx2"` or `"neon"`.
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Sse2 => "sse2",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Neon => "neon",
        }
    }

    /// Whether this CPU and build target can run the level (same as
    /// [`is_supported`]).
    pub fn is_supported(self) -> bool {
        is_supported(self)
    }

    fn to_u8(self) -> u8 {
        match self {
            SimdLevel::Scalar => 1,
            SimdLevel::Sse2 => 2,
            SimdLevel::Avx2 => 3,
            SimdLevel::Neon => 4,
        }
    }

    fn from_u8(v: u8) -> Option<SimdLevel> {
        match v {
            1 => Some(SimdLevel::Scalar),
            2 => Some(SimdLevel::Sse2),
            3 => Some(SimdLevel::Avx2),
            4 => Some(SimdLevel::Neon),
            _ => None,
        }
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error returned when parsing a [`SimdLevel`] from a string that is not one
/// of `scalar`, `sse2`, `avx2`, `neon`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ParseSimdLevelError(());

impl fmt::Display for ParseSimdLevelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unknown SIMD level (expected scalar, sse2, avx2 or neon)")
    }
}

impl std::error::Error for ParseSimdLevelError {}

impl FromStr for SimdLevel {
    type Err = ParseSimdLevelError;

    /// Parses a level name, ASCII case-insensitively, ignoring surrounding
    /// whitespace. Whether the CPU supports the level is not checked.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        for level in SimdLevel::ALL {
            if s.eq_ignore_ascii_case(level.name()) {
                return Ok(level);
            }
        }
        Err(ParseSimdLevelError(()))
    }
}

/// Error returned by [`force_level`] (and [`mask::apply_mask_at`]) when the
/// requested level cannot run on this CPU or build target.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnsupportedLevel {
    level: SimdLevel,
}

impl UnsupportedLevel {
    /// The level that was requested.
    pub fn level(&self) -> SimdLevel {
        self.level
    }
}

impl fmt::Display for UnsupportedLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SIMD level `{}` is not supported by this CPU or build target",
            self.level.name()
        )
    }
}

impl std::error::Error for UnsupportedLevel {}

/// Returns whether this CPU and build target can run `level`.
///
/// [`SimdLevel::Scalar`] is always supported; `Sse2`/`Avx2` only on x86 and
/// x86_64 CPUs that have the extension; `Neon` only on aarch64.
pub fn is_supported(level: SimdLevel) -> bool {
    match level {
        SimdLevel::Scalar => true,
        SimdLevel::Sse2 => x86_has_sse2(),
        SimdLevel::Avx2 => x86_has_avx2(),
        SimdLevel::Neon => aarch64_has_neon(),
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn x86_has_sse2() -> bool {
    cfg!(target_feature = "sse2") || std::is_x86_feature_detected!("sse2")
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn x86_has_sse2() -> bool {
    false
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn x86_has_avx2() -> bool {
    cfg!(target_feature = "avx2") || std::is_x86_feature_detected!("avx2")
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn x86_has_avx2() -> bool {
    false
}

#[cfg(target_arch = "aarch64")]
fn aarch64_has_neon() -> bool {
    cfg!(target_feature = "neon") || std::arch::is_aarch64_feature_detected!("neon")
}

#[cfg(not(target_arch = "aarch64"))]
fn aarch64_has_neon() -> bool {
    false
}

/// 0 = not computed yet, else `SimdLevel::to_u8`.
static DETECTED: AtomicU8 = AtomicU8::new(0);
/// 0 = not chosen yet, else `SimdLevel::to_u8`.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

/// The best level this CPU supports: on x86/x86_64 `Avx2` if available, else
/// `Sse2`; on aarch64 `Neon`; elsewhere `Scalar`.
///
/// Computed on the first call and cached; later calls are one atomic load.
pub fn detected_level() -> SimdLevel {
    if let Some(level) = SimdLevel::from_u8(DETECTED.load(Ordering::Relaxed)) {
        return level;
    }
    let level = [SimdLevel::Avx2, SimdLevel::Sse2, SimdLevel::Neon]
        .into_iter()
        .find(|&l| is_supported(l))
        .unwrap_or(SimdLevel::Scalar);
    // Racing threads compute and store the same value.
    DETECTED.store(level.to_u8(), Ordering::Relaxed);
    level
}

/// Picks the level from the value of `ROCWS_SIMD` (if any): a supported level
/// name wins, anything else (unset, unknown, unsupported) yields the
/// detected level.
fn level_from_env_value(value: Option<&str>) -> SimdLevel {
    match value.and_then(|v| v.parse::<SimdLevel>().ok()) {
        Some(level) if is_supported(level) => level,
        _ => detected_level(),
    }
}

/// The level [`mask::apply_mask`] uses.
///
/// On the first call (or first mask) it is chosen from the `ROCWS_SIMD`
/// environment variable when that names a level this CPU supports (`scalar`,
/// `sse2`, `avx2`, `neon`, case-insensitive); an unknown or unsupported value
/// is ignored and [`detected_level`] is used, as when the variable is unset.
/// The choice is cached for the life of the process unless [`force_level`]
/// changes it. Buffers shorter than 64 bytes are always masked by the scalar
/// code whatever the active level.
pub fn active_level() -> SimdLevel {
    if let Some(level) = SimdLevel::from_u8(ACTIVE.load(Ordering::Relaxed)) {
        return level;
    }
    let env = std::env::var_os("ROCWS_SIMD");
    let chosen = level_from_env_value(env.as_ref().and_then(|v| v.to_str()));
    // Do not overwrite a level that another thread chose or forced meanwhile.
    match ACTIVE.compare_exchange(0, chosen.to_u8(), Ordering::Relaxed, Ordering::Relaxed) {
        Ok(_) => chosen,
        Err(current) => SimdLevel::from_u8(current).unwrap_or(chosen),
    }
}

/// Makes `level` the active level for the whole process (all threads), for
/// tests and benchmarks; it overrides `ROCWS_SIMD`.
///
/// Returns [`UnsupportedLevel`] and changes nothing if this CPU or build
/// target cannot run `level`. All levels produce identical results, so
/// forcing while other threads are masking is safe; they pick up the new
/// kernel on their next call.
pub fn force_level(level: SimdLevel) -> Result<(), UnsupportedLevel> {
    if !is_supported(level) {
        return Err(UnsupportedLevel { level });
    }
    ACTIVE.store(level.to_u8(), Ordering::Relaxed);
    mask::install(level);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for level in SimdLevel::ALL {
            assert_eq!(level.name().parse::<SimdLevel>(), Ok(level));
            assert_eq!(level.to_string(), level.name());
            assert_eq!(SimdLevel::from_u8(level.to_u8()), Some(level));
        }
        assert_eq!(" AVX2\n".parse::<SimdLevel>(), Ok(SimdLevel::Avx2));
        assert_eq!("Neon".parse::<SimdLevel>(), Ok(SimdLevel::Neon));
        assert!("avx512".parse::<SimdLevel>().is_err());
        assert!("".parse::<SimdLevel>().is_err());
        let msg = "x".parse::<SimdLevel>().unwrap_err().to_string();
        assert!(msg.contains("scalar"));
    }

    #[test]
    fn detection_is_consistent() {
        let d = detected_level();
        assert!(is_supported(d));
        assert_eq!(detected_level(), d);
        assert!(is_supported(SimdLevel::Scalar));
        #[cfg(target_arch = "x86_64")]
        {
            assert!(is_supported(SimdLevel::Sse2));
            assert!(!is_supported(SimdLevel::Neon));
            let want = if std::is_x86_feature_detected!("avx2") {
                SimdLevel::Avx2
            } else {
                SimdLevel::Sse2
            };
            assert_eq!(d, want);
        }
        #[cfg(target_arch = "aarch64")]
        {
            assert_eq!(d, SimdLevel::Neon);
            assert!(!is_supported(SimdLevel::Sse2));
            assert!(!is_supported(SimdLevel::Avx2));
        }
    }

    #[test]
    fn env_value_parsing() {
        let d = detected_level();
        assert_eq!(level_from_env_value(None), d);
        assert_eq!(level_from_env_value(Some("bogus")), d);
        assert_eq!(level_from_env_value(Some("")), d);
        assert_eq!(level_from_env_value(Some("scalar")), SimdLevel::Scalar);
        assert_eq!(level_from_env_value(Some(" SCALAR ")), SimdLevel::Scalar);
        for level in SimdLevel::ALL {
            let want = if is_supported(level) { level } else { d };
            assert_eq!(level_from_env_value(Some(level.name())), want);
        }
    }

    #[test]
    fn unsupported_level_error() {
        for level in SimdLevel::ALL {
            if !is_supported(level) {
                let err = force_level(level).unwrap_err();
                assert_eq!(err.level(), level);
                assert!(err.to_string().contains(level.name()));
            }
        }
    }
}
