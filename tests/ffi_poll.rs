//! Polling a batched engine through the C ABI from two threads at once: the
//! second poll is refused at once instead of recycling the batch the first
//! is handing out.

use std::time::{Duration, Instant};

use rocwebsocket::ffi::*;

struct Engine(*mut rws_engine);
// SAFETY: the C ABI allows a `const rws_engine *` on any thread.
unsafe impl Send for Engine {}
// SAFETY: as above; the functions used here take `const rws_engine *`.
unsafe impl Sync for Engine {}

#[test]
fn a_second_concurrent_poller_is_refused() {
    // SAFETY: a zeroed config takes every default (a client-only engine).
    let engine = unsafe {
        let mut config = std::mem::zeroed::<rws_engine_config>();
        config.threads = 1;
        Engine(rws_engine_start_batched(&config))
    };
    assert!(!engine.0.is_null());
    let engine = std::sync::Arc::new(engine);
    let blocking = engine.clone();
    let first = std::thread::spawn(move || {
        let mut batch = std::mem::MaybeUninit::<rws_event_batch>::uninit();
        let started = Instant::now();
        // SAFETY: a live engine and a writable batch.
        let r = unsafe { rws_engine_poll_batch(blocking.0, 16, 1500, batch.as_mut_ptr()) };
        (r, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut events = [rws_event::default(); 4];
    let mut count = 0;
    // SAFETY: a live engine, room for 4 events, a writable count.
    let r = unsafe { rws_engine_poll_events(engine.0, events.as_mut_ptr(), 4, 0, &mut count) };
    assert_eq!(r, rws_result::RWS_ERR_INVALID_ARGUMENT);
    assert_eq!(count, 0);
    let (r, waited) = first.join().unwrap();
    assert_eq!(r, rws_result::RWS_OK, "the first poll was not disturbed");
    assert!(waited >= Duration::from_millis(1000), "{waited:?}");
    // One after another is fine, from any thread.
    // SAFETY: as above.
    let r = unsafe { rws_engine_poll_events(engine.0, events.as_mut_ptr(), 4, 0, &mut count) };
    assert_eq!(r, rws_result::RWS_OK);
    // SAFETY: freed once, no poll running.
    unsafe { rws_engine_free(engine.0) };
}
