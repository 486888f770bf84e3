//! Unmasking at every SIMD level this CPU supports, forced both per call
//! (`apply_mask_at`) and process-wide (`force_level` + `apply_mask`), against
//! the byte-by-byte reference: any length, key, key offset and alignment, with
//! guard bytes around the buffer that no kernel may touch, and a payload
//! unmasked in two pieces equal to one pass.

use rocwebsocket::simd::{self, mask, SimdLevel};

use super::input::{Input, Rng};

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    let key = input.u32().to_be_bytes();
    let offset = input.u64() as usize;
    let align = usize::from(input.u8() % 64);
    let len = usize::from(input.u16()) % 2048;
    let split = usize::from(input.u16()) % (len + 1);
    let level_pick = input.u8();
    let mut rng = Rng::new(input.u64());
    let mut content: Vec<u8> = input.rest().to_vec();
    while content.len() < len {
        content.push(rng.next() as u8);
    }
    content.truncate(len);

    let mut want = content.clone();
    reference(&mut want, key, offset);

    const GUARD: usize = 64;
    let mut storage = vec![0u8; GUARD + align + len + GUARD];
    for (i, b) in storage.iter_mut().enumerate() {
        *b = (i as u8) ^ 0xA5;
    }
    let pristine = storage.clone();
    let body = GUARD + align..GUARD + align + len;

    let levels: Vec<SimdLevel> = SimdLevel::ALL
        .into_iter()
        .filter(|l| simd::is_supported(*l))
        .collect();
    for &level in &levels {
        storage.copy_from_slice(&pristine);
        storage[body.clone()].copy_from_slice(&content);
        mask::apply_mask_at(level, &mut storage[body.clone()], key, offset).unwrap();
        assert_eq!(&storage[body.clone()], &want[..], "level {level}");
        assert_guards(&storage, &pristine, body.clone(), level);

        // Two pieces, the second continuing at the first one's key phase.
        storage[body.clone()].copy_from_slice(&content);
        let (a, b) = storage[body.clone()].split_at_mut(split);
        mask::apply_mask_at(level, a, key, offset).unwrap();
        mask::apply_mask_at(level, b, key, offset.wrapping_add(split)).unwrap();
        assert_eq!(
            &storage[body.clone()],
            &want[..],
            "level {level}, split {split}"
        );
        assert_guards(&storage, &pristine, body.clone(), level);
    }
    // Unsupported levels refuse and leave the buffer alone.
    for level in SimdLevel::ALL {
        if !simd::is_supported(level) {
            let mut copy = content.clone();
            assert!(mask::apply_mask_at(level, &mut copy, key, offset).is_err());
            assert_eq!(copy, content);
        }
    }
    // The dispatched path at a forced level.
    let level = levels[usize::from(level_pick) % levels.len()];
    simd::force_level(level).unwrap();
    storage.copy_from_slice(&pristine);
    storage[body.clone()].copy_from_slice(&content);
    mask::apply_mask(&mut storage[body.clone()], key, offset);
    assert_eq!(
        &storage[body.clone()],
        &want[..],
        "apply_mask at forced {level}"
    );
    assert_guards(&storage, &pristine, body, level);
    // Masking twice restores the content.
    mask::apply_mask(&mut want, key, offset);
    assert_eq!(want, content);
}

fn reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset % 4 + i) % 4];
    }
}

fn assert_guards(storage: &[u8], pristine: &[u8], body: std::ops::Range<usize>, level: SimdLevel) {
    assert_eq!(
        &storage[..body.start],
        &pristine[..body.start],
        "level {level} wrote before the buffer"
    );
    assert_eq!(
        &storage[body.end..],
        &pristine[body.end..],
        "level {level} wrote after the buffer"
    );
}
