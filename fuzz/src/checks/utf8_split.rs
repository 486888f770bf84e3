//! The incremental UTF-8 validator against `std::str::from_utf8`: the input
//! cut at every single split point, and into many pieces at fuzzed places.
//! Valid input passes; invalid input fails in exactly the piece holding the
//! first byte that no valid UTF-8 can continue (fail-fast, never earlier,
//! never later); `is_incomplete` and `finish` agree with std on every prefix.

use rocwebsocket::simd::utf8::{self, Utf8Validator};

use super::input::{Input, Rng};

/// Index of the first byte after which `bytes[..=i]` is no prefix of valid
/// UTF-8, or `None` if every prefix is one.
fn first_bad_byte(bytes: &[u8]) -> Option<usize> {
    let e = std::str::from_utf8(bytes).err()?;
    let start = e.valid_up_to();
    (start..bytes.len()).find(|&j| {
        std::str::from_utf8(&bytes[start..=j])
            .err()
            .is_some_and(|e| e.error_len().is_some())
    })
}

/// Feeds `bytes` cut at `cuts` (increasing) and checks every answer.
fn run(bytes: &[u8], cuts: &[usize], bad: Option<usize>) {
    let mut v = Utf8Validator::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let end = end.max(start);
        let r = v.feed(&bytes[start..end]);
        match bad {
            Some(j) if j < end => {
                assert!(
                    r.is_err(),
                    "byte {j} is invalid: piece {start}..{end} must fail"
                );
                assert!(v.feed(b"a").is_err(), "a failed validator stays failed");
                assert!(v.finish().is_err());
                return;
            }
            _ => assert!(
                r.is_ok(),
                "piece {start}..{end} failed early (bad: {bad:?})"
            ),
        }
        let prefix = std::str::from_utf8(&bytes[..end]);
        assert_eq!(
            v.is_incomplete(),
            prefix.is_err(),
            "is_incomplete after {end} bytes"
        );
        start = end;
    }
    let want = std::str::from_utf8(bytes);
    let got = v.finish();
    assert_eq!(got.is_ok(), want.is_ok(), "finish");
    if let Err(e) = got {
        assert!(
            e.is_incomplete(),
            "finish on a valid prefix reports incomplete"
        );
    }
    // Reset after finish: the next message starts clean.
    assert!(v.feed("é".as_bytes()).is_ok());
    assert!(v.finish().is_ok());
}

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let seed = input.u64();
    let bytes = input.rest();
    let bad = first_bad_byte(bytes);
    assert_eq!(
        utf8::validate(bytes).is_ok(),
        std::str::from_utf8(bytes).is_ok()
    );
    run(bytes, &[], bad);
    if bytes.len() <= 512 {
        for cut in 0..=bytes.len() {
            run(bytes, &[cut], bad);
        }
    }
    let mut rng = Rng::new(seed);
    for _ in 0..4 {
        let mut cuts = Vec::new();
        let mut at = 0;
        let max = 1 + (rng.next() % 16) as usize;
        while at < bytes.len() {
            at += rng.chunk(max) - 1; // empty pieces too
            cuts.push(at.min(bytes.len()));
            at += 1;
        }
        run(bytes, &cuts, bad);
    }
}
