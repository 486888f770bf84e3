//! RFC 6455 §5.3 payload masking: `buf[i] ^= key[(offset + i) % 4]`.
//!
//! Masking and unmasking are the same operation. [`apply_mask`] dispatches to
//! the kernel of [`active_level`](crate::simd::active_level) through a cached
//! function pointer; [`apply_mask_at`] runs one chosen level;
//! [`apply_mask_reference`] is the obvious byte loop, for tests.
//!
//! `offset` is the number of payload bytes already processed before `buf`
//! (any `usize`; only `offset % 4` matters), so a payload that arrives in
//! pieces can be unmasked piece by piece.
//!
//! All kernels share one driver: the rotated key is applied to an unaligned
//! head and a short tail by the portable word-at-a-time code, and the SIMD
//! kernel only ever sees a middle part whose length is a multiple of its
//! block size, starting at key phase 0. Kernels never touch memory outside
//! `buf`.
// Kept compatible with Rust 1.63 (see `scripts/check-neon.sh`).
#![deny(unsafe_op_in_unsafe_fn)]

use std::sync::atomic::{AtomicPtr, Ordering};

use crate::simd::{is_supported, SimdLevel, UnsupportedLevel};

/// Buffers shorter than this skip dispatch and use the scalar code.
const DISPATCH_MIN_LEN: usize = 64;

/// A masking kernel. Unsafe to call because SIMD kernels require their
/// target feature; only kernels whose level is supported are ever called.
type MaskFn = unsafe fn(&mut [u8], [u8; 4], usize);

/// A kernel and the level it implements (`None` for the detecting stub).
///
/// The dispatch pointer points at one of these statics rather than holding
/// the function pointer itself: function pointers have no reliable identity
/// (one function may have several addresses; Miri gives each cast its own),
/// so "is the stub still installed?" and "which level is installed?" compare
/// the addresses of statics, which are unique.
struct Kernel {
    // Read by `installed_level`, which only tests use.
    #[cfg_attr(not(test), allow(dead_code))]
    level: Option<SimdLevel>,
    f: MaskFn,
}

static DETECT: Kernel = Kernel {
    level: None,
    f: detect_and_mask,
};
static SCALAR: Kernel = Kernel {
    level: Some(SimdLevel::Scalar),
    f: mask_scalar_entry,
};
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
static SSE2: Kernel = Kernel {
    level: Some(SimdLevel::Sse2),
    f: x86::mask_sse2,
};
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
static AVX2: Kernel = Kernel {
    level: Some(SimdLevel::Avx2),
    f: x86::mask_avx2,
};
#[cfg(target_arch = "aarch64")]
static NEON: Kernel = Kernel {
    level: Some(SimdLevel::Neon),
    f: neon::mask_neon,
};

/// The dispatch pointer: always points at one of the `Kernel` statics above
/// (never written through). Starts at `DETECT`, whose function installs the
/// real kernel on first use.
static KERNEL: AtomicPtr<Kernel> = AtomicPtr::new(&DETECT as *const Kernel as *mut Kernel);

/// XORs `buf[i]` with `key[(offset + i) % 4]`, using the active SIMD level.
///
/// `offset` is how many payload bytes were processed before `buf`; any value
/// is fine (it is taken mod 4). Never panics and never touches memory outside
/// `buf`. The first call picks the level (see
/// [`active_level`](crate::simd::active_level)); later calls cost one atomic
/// load and an indirect call. Buffers under 64 bytes use the scalar code.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    if buf.len() < DISPATCH_MIN_LEN {
        mask_scalar(buf, key, offset);
        return;
    }
    let f = load_kernel();
    // SAFETY: `KERNEL` only ever holds `detect_and_mask` (safe to call) or the
    // kernel of a level for which `is_supported` returned true when it was
    // installed, so the kernel's target features are available.
    unsafe { f(buf, key, offset) }
}

/// Masks `buf` like [`apply_mask`], but with exactly the given level's kernel
/// (for tests and benchmarks).
///
/// Returns [`UnsupportedLevel`] without touching `buf` if this CPU or build
/// target cannot run `level`; it never falls back silently.
pub fn apply_mask_at(
    level: SimdLevel,
    buf: &mut [u8],
    key: [u8; 4],
    offset: usize,
) -> Result<(), UnsupportedLevel> {
    if !is_supported(level) {
        return Err(UnsupportedLevel { level });
    }
    match kernel_for(level) {
        Some(Kernel { f, .. }) => {
            // SAFETY: `is_supported(level)` was just checked, so the target
            // features the kernel of `level` needs are available.
            unsafe { f(buf, key, offset) };
            Ok(())
        }
        None => Err(UnsupportedLevel { level }),
    }
}

/// Byte-by-byte reference implementation of [`apply_mask`], for tests.
pub fn apply_mask_reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        // 2^64 (and 2^32) is a multiple of 4, so wrapping keeps `% 4` exact.
        *b ^= key[offset.wrapping_add(i) % 4];
    }
}

/// The level whose kernel [`apply_mask`] currently dispatches to, or `None`
/// before the first dispatched call (for tests).
#[cfg(test)]
pub(crate) fn installed_level() -> Option<SimdLevel> {
    // SAFETY: `KERNEL` only ever points at one of the `Kernel` statics.
    unsafe { (*KERNEL.load(Ordering::Relaxed)).level }
}

/// Installs the kernel of `level` (which must be supported) as the dispatch
/// target. Called by `force_level`.
pub(crate) fn install(level: SimdLevel) {
    if let Some(k) = kernel_for(level).filter(|_| is_supported(level)) {
        KERNEL.store(k as *const Kernel as *mut Kernel, Ordering::Relaxed);
    }
}

#[inline(always)]
fn load_kernel() -> MaskFn {
    // SAFETY: `KERNEL` only ever points at one of the `Kernel` statics
    // (initialiser, `install`, `detect_and_mask`), which live forever.
    unsafe { (*KERNEL.load(Ordering::Relaxed)).f }
}

/// Initial dispatch target: chooses the level, installs its kernel (unless
/// `force_level` already installed one) and runs it.
unsafe fn detect_and_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let level = crate::simd::active_level();
    let k = kernel_for(level)
        .filter(|_| is_supported(level))
        .unwrap_or(&SCALAR);
    // If `force_level` installed a kernel meanwhile, keep that one.
    let _ = KERNEL.compare_exchange(
        &DETECT as *const Kernel as *mut Kernel,
        k as *const Kernel as *mut Kernel,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    // SAFETY: `k` is the scalar kernel or the kernel of a supported level.
    unsafe { (k.f)(buf, key, offset) }
}

/// The kernel for `level`, if compiled for this target. The caller must
/// still check `is_supported(level)` before calling it.
fn kernel_for(level: SimdLevel) -> Option<&'static Kernel> {
    match level {
        SimdLevel::Scalar => Some(&SCALAR),
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        SimdLevel::Sse2 => Some(&SSE2),
        #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
        SimdLevel::Avx2 => Some(&AVX2),
        #[cfg(target_arch = "aarch64")]
        SimdLevel::Neon => Some(&NEON),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// `key` rotated so that index 0 is the key byte for phase `phase % 4`.
#[inline(always)]
fn rotate_key(key: [u8; 4], phase: usize) -> [u8; 4] {
    // Little-endian view: byte 0 is the low byte, so rotating the value right
    // by 8 bits moves every byte one index down (`[k1, k2, k3, k0]`).
    let bits = (phase % 4) as u32 * 8;
    u32::from_le_bytes(key).rotate_right(bits).to_le_bytes()
}

/// Masks `buf` byte by byte with `key` at phase 0.
#[inline(always)]
fn mask_bytes(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// Portable word-at-a-time kernel with `key` at phase 0: byte loop up to
/// 8-byte alignment, then `u64` words, then the byte tail.
#[inline(always)]
fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    // SAFETY: every bit pattern is a valid `u8` and a valid `u64`, so viewing
    // the aligned middle of the byte slice as `u64`s is sound; the three
    // parts exactly cover `buf`.
    let (head, mid, tail) = unsafe { buf.align_to_mut::<u64>() };
    mask_bytes(head, key);
    let k = rotate_key(key, head.len());
    let w = u64::from_ne_bytes([k[0], k[1], k[2], k[3], k[0], k[1], k[2], k[3]]);
    for x in mid.iter_mut() {
        *x ^= w;
    }
    // `mid` covers a multiple of 8 bytes, so the tail starts at phase `k`.
    mask_bytes(tail, k);
}

/// Portable word-at-a-time masking (the `Scalar` level).
#[inline]
fn mask_scalar(buf: &mut [u8], key: [u8; 4], offset: usize) {
    mask_words(buf, rotate_key(key, offset));
}

/// `mask_scalar` with the `MaskFn` signature.
///
/// # Safety
///
/// None needed: it is `unsafe` only to fit the dispatch pointer type.
unsafe fn mask_scalar_entry(buf: &mut [u8], key: [u8; 4], offset: usize) {
    mask_scalar(buf, key, offset)
}

/// A SIMD bulk routine: masks `mid`, whose length is a multiple of the
/// kernel's block size, with `key` at phase 0.
type BulkFn = unsafe fn(&mut [u8], [u8; 4]);

/// The shared driver. Rotates the key for `offset`, masks an unaligned head
/// (so the bulk's stores are `align`-byte aligned, for buffers of at least
/// `align_min` bytes) and the sub-block tail with the word code, and hands the
/// block-multiple middle to `bulk`.
///
/// # Safety
///
/// `bulk` must be safe to call on this CPU (its target features available).
#[inline(always)]
unsafe fn drive(
    buf: &mut [u8],
    key: [u8; 4],
    offset: usize,
    align: usize,
    align_min: usize,
    block: usize,
    bulk: BulkFn,
) {
    let key = rotate_key(key, offset);
    let len = buf.len();
    let mut head_len = 0;
    if len >= align_min {
        let a = buf.as_ptr().align_offset(align);
        // `align_offset` may return usize::MAX (no alignment possible).
        if a < align {
            head_len = a;
        }
    }
    if len - head_len < block {
        mask_words(buf, key);
        return;
    }
    let (head, rest) = buf.split_at_mut(head_len);
    let key = if head_len == 0 {
        key
    } else {
        mask_words(head, key);
        rotate_key(key, head_len)
    };
    let bulk_len = rest.len() - rest.len() % block;
    let (mid, tail) = rest.split_at_mut(bulk_len);
    // SAFETY: the caller guarantees `bulk` may be called; `mid.len()` is a
    // multiple of `block`, as `bulk` requires.
    unsafe { bulk(mid, key) };
    // `block` is a multiple of 4, so the tail starts at the same phase.
    if !tail.is_empty() {
        mask_words(tail, key);
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
mod x86 {
    #[cfg(target_arch = "x86")]
    use std::arch::x86::*;
    #[cfg(target_arch = "x86_64")]
    use std::arch::x86_64::*;

    use super::drive;

    /// SSE2 kernel.
    ///
    /// # Safety
    ///
    /// The CPU must support SSE2.
    #[target_feature(enable = "sse2")]
    pub(super) unsafe fn mask_sse2(buf: &mut [u8], key: [u8; 4], offset: usize) {
        // SAFETY: SSE2 is available (caller contract), which is all
        // `bulk_sse2` needs.
        unsafe { drive(buf, key, offset, 16, 256, 16, bulk_sse2) }
    }

    /// AVX2 kernel.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mask_avx2(buf: &mut [u8], key: [u8; 4], offset: usize) {
        // SAFETY: AVX2 is available (caller contract), which is all
        // `bulk_avx2` needs.
        unsafe { drive(buf, key, offset, 32, 256, 32, bulk_avx2) }
    }

    /// Masks `mid` (length a multiple of 16) with `key` at phase 0.
    ///
    /// # Safety
    ///
    /// The CPU must support SSE2.
    #[target_feature(enable = "sse2")]
    #[inline]
    unsafe fn bulk_sse2(mid: &mut [u8], key: [u8; 4]) {
        let len = mid.len();
        let p = mid.as_mut_ptr();
        let k = _mm_set1_epi32(i32::from_ne_bytes(key));
        let mut i = 0;
        while len - i >= 64 {
            // SAFETY: `i + 64 <= len`, so the four 16-byte loads and stores
            // at `p + i .. p + i + 64` stay inside `mid`; `loadu`/`storeu`
            // accept any alignment; SSE2 is available.
            unsafe {
                let q = p.add(i);
                let a = _mm_loadu_si128(q as *const __m128i);
                let b = _mm_loadu_si128(q.add(16) as *const __m128i);
                let c = _mm_loadu_si128(q.add(32) as *const __m128i);
                let d = _mm_loadu_si128(q.add(48) as *const __m128i);
                _mm_storeu_si128(q as *mut __m128i, _mm_xor_si128(a, k));
                _mm_storeu_si128(q.add(16) as *mut __m128i, _mm_xor_si128(b, k));
                _mm_storeu_si128(q.add(32) as *mut __m128i, _mm_xor_si128(c, k));
                _mm_storeu_si128(q.add(48) as *mut __m128i, _mm_xor_si128(d, k));
            }
            i += 64;
        }
        while len - i >= 16 {
            // SAFETY: `i + 16 <= len`: the access stays inside `mid`.
            unsafe {
                let q = p.add(i) as *mut __m128i;
                _mm_storeu_si128(q, _mm_xor_si128(_mm_loadu_si128(q), k));
            }
            i += 16;
        }
    }

    /// Masks `mid` (length a multiple of 32) with `key` at phase 0.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn bulk_avx2(mid: &mut [u8], key: [u8; 4]) {
        let len = mid.len();
        let p = mid.as_mut_ptr();
        let k = _mm256_set1_epi32(i32::from_ne_bytes(key));
        let mut i = 0;
        while len - i >= 128 {
            // SAFETY: `i + 128 <= len`, so the four 32-byte loads and stores
            // at `p + i .. p + i + 128` stay inside `mid`; `loadu`/`storeu`
            // accept any alignment; AVX2 is available.
            unsafe {
                let q = p.add(i);
                let a = _mm256_loadu_si256(q as *const __m256i);
                let b = _mm256_loadu_si256(q.add(32) as *const __m256i);
                let c = _mm256_loadu_si256(q.add(64) as *const __m256i);
                let d = _mm256_loadu_si256(q.add(96) as *const __m256i);
                _mm256_storeu_si256(q as *mut __m256i, _mm256_xor_si256(a, k));
                _mm256_storeu_si256(q.add(32) as *mut __m256i, _mm256_xor_si256(b, k));
                _mm256_storeu_si256(q.add(64) as *mut __m256i, _mm256_xor_si256(c, k));
                _mm256_storeu_si256(q.add(96) as *mut __m256i, _mm256_xor_si256(d, k));
            }
            i += 128;
        }
        while len - i >= 32 {
            // SAFETY: `i + 32 <= len`: the access stays inside `mid`.
            unsafe {
                let q = p.add(i) as *mut __m256i;
                _mm256_storeu_si256(q, _mm256_xor_si256(_mm256_loadu_si256(q), k));
            }
            i += 32;
        }
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    use std::arch::aarch64::*;

    use super::drive;

    /// NEON kernel.
    ///
    /// # Safety
    ///
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    pub(super) unsafe fn mask_neon(buf: &mut [u8], key: [u8; 4], offset: usize) {
        // SAFETY: NEON is available (caller contract), which is all
        // `bulk_neon` needs.
        unsafe { drive(buf, key, offset, 16, 256, 16, bulk_neon) }
    }

    /// Masks `mid` (length a multiple of 16) with `key` at phase 0.
    ///
    /// # Safety
    ///
    /// The CPU must support NEON.
    #[target_feature(enable = "neon")]
    #[inline]
    unsafe fn bulk_neon(mid: &mut [u8], key: [u8; 4]) {
        let len = mid.len();
        let p = mid.as_mut_ptr();
        // SAFETY: NEON is available; these only build a register.
        let k = unsafe { vreinterpretq_u8_u32(vdupq_n_u32(u32::from_ne_bytes(key))) };
        let mut i = 0;
        while len - i >= 64 {
            // SAFETY: `i + 64 <= len`, so the four 16-byte loads and stores
            // at `p + i .. p + i + 64` stay inside `mid`; `vld1q_u8` and
            // `vst1q_u8` need only byte alignment; NEON is available.
            unsafe {
                let q = p.add(i);
                let a = vld1q_u8(q);
                let b = vld1q_u8(q.add(16));
                let c = vld1q_u8(q.add(32));
                let d = vld1q_u8(q.add(48));
                vst1q_u8(q, veorq_u8(a, k));
                vst1q_u8(q.add(16), veorq_u8(b, k));
                vst1q_u8(q.add(32), veorq_u8(c, k));
                vst1q_u8(q.add(48), veorq_u8(d, k));
            }
            i += 64;
        }
        while len - i >= 16 {
            // SAFETY: `i + 16 <= len`: the access stays inside `mid`.
            unsafe {
                let q = p.add(i);
                vst1q_u8(q, veorq_u8(vld1q_u8(q), k));
            }
            i += 16;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::force_level;

    /// Small deterministic PRNG (xorshift64*), so tests need no crates.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn key(&mut self) -> [u8; 4] {
            (self.next() as u32).to_ne_bytes()
        }
        fn fill(&mut self, buf: &mut [u8]) {
            for chunk in buf.chunks_mut(8) {
                let v = self.next().to_ne_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
    }

    fn supported_levels() -> Vec<SimdLevel> {
        SimdLevel::ALL
            .iter()
            .copied()
            .filter(|&l| is_supported(l))
            .collect()
    }

    /// All the ways to mask: each supported level, plus the dispatcher.
    fn check_all(data: &[u8], start: usize, len: usize, key: [u8; 4], offset: usize) {
        let mut want = data.to_vec();
        apply_mask_reference(&mut want[start..start + len], key, offset);
        for level in supported_levels() {
            let mut got = data.to_vec();
            apply_mask_at(level, &mut got[start..start + len], key, offset).unwrap();
            assert!(
                got == want,
                "level {:?} len {} offset {} start {}",
                level,
                len,
                offset,
                start
            );
        }
        let mut got = data.to_vec();
        apply_mask(&mut got[start..start + len], key, offset);
        assert!(got == want, "apply_mask len {} offset {}", len, offset);
    }

    #[test]
    fn reference_matches_definition() {
        let key = [1, 2, 4, 8];
        let mut buf = [0u8; 10];
        apply_mask_reference(&mut buf, key, 3);
        assert_eq!(buf, [8, 1, 2, 4, 8, 1, 2, 4, 8, 1]);
        let mut buf = [0u8; 3];
        apply_mask_reference(&mut buf, key, usize::MAX);
        assert_eq!(buf, [8, 1, 2]);
    }

    #[test]
    fn all_lengths_offsets_alignments() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut data = vec![0u8; 512 + 64 + 64];
        rng.fill(&mut data);
        let offsets = [0, 1, 2, 3, 4, 5, usize::MAX - 1, usize::MAX];
        for len in 0..=512 {
            for &offset in &offsets {
                for start in 0..64 {
                    let key = rng.key();
                    check_all(&data, start, len, key, offset);
                }
            }
        }
    }

    /// The head / SIMD body / tail split at the alignments and lengths that
    /// matter, on buffers short enough for Miri (`scripts/miri.sh` skips the
    /// exhaustive test above, which takes hours there).
    #[test]
    fn miri_lengths_offsets_alignments() {
        let mut rng = Rng(0xC0FF_EE00);
        let mut data = vec![0u8; 160 + 32];
        rng.fill(&mut data);
        let lens = [
            0, 1, 3, 7, 8, 15, 16, 31, 32, 33, 63, 64, 65, 95, 96, 127, 128, 129, 160,
        ];
        for &len in &lens {
            for offset in 0..4 {
                for &start in &[0, 1, 2, 3, 5, 7, 8, 13, 16, 31] {
                    check_all(&data, start, len, rng.key(), offset);
                }
            }
        }
    }

    #[test]
    fn large_buffers() {
        let mut rng = Rng(42);
        for &(len, start) in &[(1 << 20, 0), ((3 << 20) + 37, 5), ((2 << 20) - 1, 63)] {
            let mut data = vec![0u8; len + 64];
            rng.fill(&mut data);
            for offset in 0..4 {
                check_all(&data, start, len, rng.key(), offset);
            }
        }
    }

    #[test]
    fn split_payload_matches_whole() {
        let mut rng = Rng(7);
        let mut data = vec![0u8; 700];
        rng.fill(&mut data);
        let key = rng.key();
        for &total in &[0usize, 1, 15, 16, 33, 100, 300, 700] {
            let mut want = data[..total].to_vec();
            apply_mask_reference(&mut want, key, 0);
            for level in supported_levels() {
                for split in 0..=total {
                    let mut got = data[..total].to_vec();
                    let (a, b) = got.split_at_mut(split);
                    apply_mask_at(level, a, key, 0).unwrap();
                    apply_mask_at(level, b, key, split).unwrap();
                    assert!(
                        got == want,
                        "level {:?} total {} split {}",
                        level,
                        total,
                        split
                    );
                }
            }
            for split in 0..=total {
                let mut got = data[..total].to_vec();
                let (a, b) = got.split_at_mut(split);
                apply_mask(a, key, 0);
                apply_mask(b, key, split);
                assert!(got == want, "apply_mask total {} split {}", total, split);
            }
        }
    }

    #[test]
    fn unsupported_level_is_an_error() {
        for level in SimdLevel::ALL {
            let mut buf = [7u8; 40];
            let r = apply_mask_at(level, &mut buf, [1, 2, 3, 4], 0);
            if is_supported(level) {
                assert!(r.is_ok());
                assert_ne!(buf, [7u8; 40]);
            } else {
                assert_eq!(r, Err(UnsupportedLevel { level }));
                assert_eq!(buf, [7u8; 40], "buffer touched on error");
            }
        }
    }

    /// The only test that forces levels (others do not depend on the active
    /// level, as every kernel gives the same result).
    #[test]
    fn force_level_switches_dispatch() {
        let mut rng = Rng(99);
        let mut data = vec![0u8; 1000];
        rng.fill(&mut data);
        let key = rng.key();
        let mut want = data.clone();
        apply_mask_reference(&mut want[3..], key, 1);
        for level in supported_levels() {
            force_level(level).unwrap();
            assert_eq!(crate::simd::active_level(), level);
            assert_eq!(installed_level(), Some(level));
            let mut got = data.clone();
            apply_mask(&mut got[3..], key, 1);
            assert!(got == want);
        }
        force_level(crate::simd::detected_level()).unwrap();
        assert_eq!(installed_level(), Some(crate::simd::detected_level()));
    }
}
