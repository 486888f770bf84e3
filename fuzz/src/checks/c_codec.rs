//! The C codec through its exported functions (`rws_frame_*`, `rws_conn_*`,
//! `rws_mask`, `rws_utf8_validate`), declared here as C would see them and
//! built with AddressSanitizer by `cargo fuzz`: frame headers against the
//! reference decoder; a C connection against a Rust `proto::Connection`
//! given the same bytes and calls (same events, same result codes, same
//! output for a server, same amounts for a client); every pointer the library
//! hands out read in full, so ASan sees any read past what it owns.

use std::ffi::c_void;

use rocwebsocket::proto::{CloseCode, ConnConfig, Connection, Role, SendError};

use super::input::Input;
use super::reference::{self, Ev, RefOutcome};

#[repr(C)]
#[derive(Clone, Copy)]
struct RwsEvent {
    type_: u32,
    close_code: u16,
    conn: u64,
    tag: u64,
    data: *const u8,
    len: usize,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct RwsFrameHeader {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask: [u8; 4],
    payload_len: u64,
    header_len: u32,
}

#[repr(C)]
struct RwsConnConfig {
    max_frame_size: u64,
    max_message_size: u64,
}

const ERROR_MARK: &[u8] = b"\xFFerror";

const OK: i32 = 0;
const ERR_NULL: i32 = 1;
const ERR_INVALID_ARGUMENT: i32 = 2;
const NEED_MORE: i32 = 4;
const NONE: i32 = 5;
const ERR_PROTOCOL: i32 = 6;
const ERR_UTF8: i32 = 7;
const ERR_CLOSING: i32 = 8;

// The crate's #[no_mangle] exports, resolved against the linked rlib.
extern "C" {
    fn rws_frame_parse_header(
        data: *const u8,
        len: usize,
        receiver: u32,
        allowed_rsv: u8,
        out: *mut RwsFrameHeader,
        close_code: *mut u16,
    ) -> i32;
    fn rws_frame_encode_header(
        out: *mut u8,
        fin: bool,
        opcode: u8,
        mask: *const u8,
        payload_len: u64,
        written: *mut usize,
    ) -> i32;
    fn rws_mask(buf: *mut u8, len: usize, key: *const u8, offset: usize) -> i32;
    fn rws_utf8_validate(data: *const u8, len: usize) -> i32;
    fn rws_conn_new(role: u32, config: *const RwsConnConfig) -> *mut c_void;
    fn rws_conn_free(c: *mut c_void);
    fn rws_conn_feed(c: *mut c_void, data: *const u8, len: usize) -> i32;
    fn rws_conn_next_event(c: *mut c_void, out: *mut RwsEvent) -> i32;
    fn rws_conn_send(c: *mut c_void, opcode: u8, data: *const u8, len: usize) -> i32;
    fn rws_conn_close(c: *mut c_void, code: u16, reason: *const u8, len: usize) -> i32;
    fn rws_conn_pending_output(c: *const c_void, data: *mut *const u8, len: *mut usize) -> i32;
    fn rws_conn_consume_output(c: *mut c_void, n: usize) -> i32;
    fn rws_conn_buffered_amount(c: *const c_void) -> usize;
    fn rws_conn_should_close(c: *const c_void) -> bool;
}

/// Copies what an event points at (reading every byte) into an `Ev`.
fn c_event(e: &RwsEvent) -> Ev {
    let bytes = if e.len == 0 {
        Vec::new()
    } else {
        assert!(!e.data.is_null());
        // SAFETY: the library promises `len` readable bytes at `data` until the
        // next call on this connection; ASan checks that promise.
        unsafe { std::slice::from_raw_parts(e.data, e.len) }.to_vec()
    };
    match e.type_ {
        1 => Ev::Text(bytes),
        2 => Ev::Binary(bytes),
        3 => Ev::Ping(bytes),
        4 => Ev::Pong(bytes),
        5 => Ev::Close(e.close_code, bytes),
        // An error's text is the library's; compare by close code only (the
        // marker is no UTF-8, so no real close reason can look like it).
        6 => Ev::Close(e.close_code, ERROR_MARK.to_vec()),
        t => panic!("codec event of type {t}"),
    }
}

fn rust_event(e: rocwebsocket::proto::Event) -> Ev {
    match Ev::from_event(e) {
        Ev::Error(err) => Ev::Close(err.close_code().0, ERROR_MARK.to_vec()),
        other => other,
    }
}

fn send_code(r: Result<(), SendError>) -> i32 {
    match r {
        Ok(()) => OK,
        Err(SendError::Closing) => ERR_CLOSING,
        Err(_) => ERR_INVALID_ARGUMENT,
    }
}

/// Frame header functions against the reference.
fn headers(input: &mut Input<'_>) {
    let receiver = u32::from(input.u8() % 3); // 2 is no role
    let rsv = input.u8() & 0x7;
    let len = usize::from(input.u8() % 16);
    let bytes = input.bytes(len).to_vec();
    let mut out = RwsFrameHeader::default();
    let mut code = 0u16;
    // SAFETY: `bytes` is readable for its length; `out` and `code` are writable.
    let r = unsafe {
        rws_frame_parse_header(
            bytes.as_ptr(),
            bytes.len(),
            receiver,
            rsv,
            &mut out,
            &mut code,
        )
    };
    let role = match receiver {
        0 => Role::Server,
        1 => Role::Client,
        _ => {
            assert_eq!(r, ERR_INVALID_ARGUMENT);
            return;
        }
    };
    match reference::parse_header(&bytes, role, rsv) {
        RefOutcome::NeedMore => assert_eq!(r, NEED_MORE),
        RefOutcome::Error(e) => {
            assert_eq!(r, ERR_PROTOCOL);
            assert_eq!(code, e.close_code().0);
        }
        RefOutcome::Header(h) => {
            assert_eq!(r, OK);
            assert_eq!(
                (
                    out.fin,
                    out.rsv,
                    out.opcode,
                    out.payload_len,
                    out.header_len as usize
                ),
                (h.fin, h.rsv, h.opcode, h.payload_len, h.header_len)
            );
            assert_eq!(out.masked, h.mask.is_some());
            assert_eq!(out.mask, h.mask.unwrap_or_default());
        }
    }
    // Encode, and read back.
    let fin = input.bool();
    let opcode = input.u8() & 0x0F;
    let key = input.u32().to_be_bytes();
    let masked = input.bool();
    let payload_len = match input.u8() % 3 {
        0 => u64::from(input.u8()),
        1 => u64::from(input.u16()),
        _ => input.u64(),
    };
    let mut buf = [0u8; 14];
    let mut written = 0usize;
    let key_ptr = if masked {
        key.as_ptr()
    } else {
        std::ptr::null()
    };
    // SAFETY: 14 writable bytes, a 4-byte key or NULL, a writable length.
    let r = unsafe {
        rws_frame_encode_header(
            buf.as_mut_ptr(),
            fin,
            opcode,
            key_ptr,
            payload_len,
            &mut written,
        )
    };
    let control = opcode & 0x8 != 0;
    if !reference::opcode_defined(opcode)
        || (control && (!fin || payload_len > 125))
        || payload_len >> 63 != 0
    {
        assert_eq!(r, ERR_INVALID_ARGUMENT);
        return;
    }
    assert_eq!(r, OK);
    let back_role = if masked { Role::Server } else { Role::Client };
    let RefOutcome::Header(h) = reference::parse_header(&buf[..written], back_role, 0) else {
        panic!("rws_frame_encode_header wrote an unreadable header");
    };
    assert_eq!(h.header_len, written);
    assert_eq!((h.fin, h.opcode, h.payload_len), (fin, opcode, payload_len));
    assert_eq!(h.mask, masked.then_some(key));
}

/// Runs the check on one input.
pub fn check(data: &[u8]) {
    let mut input = Input::new(data);
    headers(&mut input);

    // rws_mask and rws_utf8_validate on a heap copy of exactly the input's size.
    let len = usize::from(input.u8());
    let mut bytes = input.bytes(len).to_vec();
    let want_utf8 = std::str::from_utf8(&bytes).is_ok();
    // SAFETY: `bytes` is readable for its length.
    let r = unsafe { rws_utf8_validate(bytes.as_ptr(), bytes.len()) };
    assert_eq!(r, if want_utf8 { OK } else { ERR_UTF8 });
    let key = [0x12, 0x34, 0x56, 0x78];
    let offset = usize::from(input.u8());
    let mut want = bytes.clone();
    for (i, b) in want.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
    // SAFETY: `bytes` is writable for its length; `key` has 4 bytes.
    let r = unsafe { rws_mask(bytes.as_mut_ptr(), bytes.len(), key.as_ptr(), offset) };
    assert_eq!((r, &bytes), (OK, &want));
    // SAFETY: NULL with a length is refused, not read.
    assert_eq!(unsafe { rws_utf8_validate(std::ptr::null(), 3) }, ERR_NULL);

    // A C connection and a Rust one, in lockstep.
    let flags = input.u8();
    let role = if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let config = RwsConnConfig {
        max_frame_size: if flags & 2 != 0 {
            u64::from(input.u8()) + 1
        } else {
            0
        },
        max_message_size: if flags & 4 != 0 {
            u64::from(input.u16()) + 1
        } else {
            0
        },
    };
    let defaults = ConnConfig::default();
    let pick = |v: u64, d: usize| if v == 0 { d } else { v as usize };
    let mut rust = Connection::new(
        role,
        ConnConfig {
            max_frame_size: pick(config.max_frame_size, defaults.max_frame_size),
            max_message_size: pick(config.max_message_size, defaults.max_message_size),
            allowed_rsv: 0,
        },
    );
    // SAFETY: `config` is a readable config.
    let c = unsafe { rws_conn_new(u32::from(role == Role::Client), &config) };
    assert!(!c.is_null());
    let mut steps = 0;
    while !input.is_empty() && steps < 200 {
        steps += 1;
        match input.u8() % 6 {
            0 | 1 => {
                let len = usize::from(input.u8());
                let chunk = input.bytes(len).to_vec(); // exactly sized for ASan
                                                       // SAFETY: `chunk` is readable for its length.
                assert_eq!(unsafe { rws_conn_feed(c, chunk.as_ptr(), chunk.len()) }, OK);
                rust.feed(&chunk);
                loop {
                    let mut e = RwsEvent {
                        type_: 99,
                        close_code: 0,
                        conn: 0,
                        tag: 0,
                        data: std::ptr::null(),
                        len: 0,
                    };
                    // SAFETY: `c` is live, `e` writable.
                    let r = unsafe { rws_conn_next_event(c, &mut e) };
                    let want = rust.next_event().map(rust_event);
                    match want {
                        None => {
                            assert_eq!(r, NONE);
                            assert_eq!((e.type_, e.len), (0, 0));
                            break;
                        }
                        Some(want) => {
                            assert_eq!(r, OK);
                            assert_eq!(c_event(&e), want);
                        }
                    }
                }
            }
            2 => {
                let opcode = input.u8() % 12;
                let len = usize::from(input.u8());
                let payload = input.bytes(len).to_vec();
                // SAFETY: `payload` is readable for its length.
                let r = unsafe { rws_conn_send(c, opcode, payload.as_ptr(), payload.len()) };
                let want = match opcode {
                    1 => match std::str::from_utf8(&payload) {
                        Ok(t) => send_code(rust.send_text(t)),
                        Err(_) => ERR_UTF8,
                    },
                    2 => send_code(rust.send_binary(&payload)),
                    9 => send_code(rust.send_ping(&payload)),
                    10 => send_code(rust.send_pong(&payload)),
                    _ => ERR_INVALID_ARGUMENT,
                };
                assert_eq!(r, want, "rws_conn_send opcode {opcode}");
            }
            3 => {
                let code = input.u16();
                let len = usize::from(input.u8());
                let reason = input.bytes(len).to_vec();
                // SAFETY: `reason` is readable for its length.
                let r = unsafe { rws_conn_close(c, code, reason.as_ptr(), reason.len()) };
                let want = match std::str::from_utf8(&reason) {
                    Ok(text) => send_code(rust.close(CloseCode(code), text)),
                    Err(_) => ERR_UTF8,
                };
                assert_eq!(r, want, "rws_conn_close({code})");
            }
            4 => {
                // Write out up to n bytes, n possibly past what is queued.
                let n = usize::from(input.u16());
                let mut ptr: *const u8 = std::ptr::null();
                let mut len = 0usize;
                // SAFETY: `c` is live; `ptr` and `len` writable.
                assert_eq!(
                    unsafe { rws_conn_pending_output(c, &mut ptr, &mut len) },
                    OK
                );
                let chunk = if len == 0 {
                    Vec::new()
                } else {
                    // SAFETY: the library promises `len` readable bytes at `ptr`.
                    unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec()
                };
                let rust_chunk = rust.output_chunk();
                assert_eq!(chunk.len(), rust_chunk.len());
                if role == Role::Server {
                    assert_eq!(chunk, rust_chunk, "server output differs");
                }
                // SAFETY: `c` is live.
                assert_eq!(unsafe { rws_conn_consume_output(c, n) }, OK);
                rust.advance_output(n);
            }
            _ => {
                // SAFETY: NULL data with a length is refused, not read.
                assert_eq!(unsafe { rws_conn_feed(c, std::ptr::null(), 1) }, ERR_NULL);
                // SAFETY: NULL reason with a length is refused.
                assert_eq!(
                    unsafe { rws_conn_close(c, 1000, std::ptr::null(), 2) },
                    ERR_NULL
                );
            }
        }
        // SAFETY: `c` is live.
        unsafe {
            assert_eq!(rws_conn_buffered_amount(c), rust.buffered_amount());
            assert_eq!(rws_conn_should_close(c), rust.should_close_transport());
        }
    }
    // SAFETY: `c` came from rws_conn_new and is freed once.
    unsafe { rws_conn_free(c) };
}
