//! A TLS session over a plain socket, through rustls's unbuffered API, so
//! that a connection holds only its session state (keys, handshake state)
//! and no buffer of its own once its bytes are through.
//!
//! Reads take up to 64 KiB of ciphertext per system call into a per-thread
//! scratch buffer; rustls decrypts the records in place there and the
//! plaintext is copied once into the connection's (pooled) read buffer. A
//! record cut by the read is kept by the connection until the rest arrives.
//! Writes encrypt every queued slice into a per-thread buffer (rustls writes
//! the records there; one copy, the cipher's) and send them with one write;
//! only what a full socket refused stays with the connection.

use std::cell::RefCell;
use std::io::{self, IoSlice};

use crate::proto::conn::ReadSpace;
use rustls::client::UnbufferedClientConnection;
use rustls::server::UnbufferedServerConnection;
use rustls::unbuffered::{
    ConnectionState, EncodeError, EncryptError, InsufficientSizeError, UnbufferedStatus,
};

use super::Stream;
use crate::net::tls::tls_io_error;

/// Ciphertext bytes asked of one read(2).
const CHUNK: usize = 64 * 1024;

/// Plaintext bytes encrypted per write call: what a full socket can leave
/// with the connection is bounded by this (as rustls's own buffer was).
const WRITE_MAX: usize = 64 * 1024;

/// Room asked for one handshake message or alert before rustls says more.
const ENCODE_HINT: usize = 4096;

/// Record overhead: header, AEAD tag, content type (TLS 1.3) and slack.
const RECORD_OVERHEAD: usize = 64;

/// Largest TLS plaintext in one record.
const RECORD_MAX: usize = 16 * 1024;

thread_local! {
    /// Ciphertext between the socket and rustls; holds nothing between calls.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Records being written; holds nothing between calls.
    static OUT: RefCell<OutBuf> = const { RefCell::new(OutBuf::new()) };
}

/// Bytes to send: `buf[start..used]`, the rest of `buf` is zeroed room
/// rustls can write into.
#[derive(Debug, Default)]
struct OutBuf {
    buf: Vec<u8>,
    start: usize,
    used: usize,
}

impl OutBuf {
    const fn new() -> Self {
        OutBuf {
            buf: Vec::new(),
            start: 0,
            used: 0,
        }
    }

    fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.used]
    }

    fn is_empty(&self) -> bool {
        self.start == self.used
    }

    /// Lets `f` write at the end, with `hint` bytes of room first and as
    /// much as it then says it needs (`Err(Some(n))`).
    fn fill(
        &mut self,
        hint: usize,
        mut f: impl FnMut(&mut [u8]) -> Result<usize, Option<usize>>,
    ) -> Result<(), rustls::Error> {
        let mut want = hint;
        loop {
            if self.buf.len() < self.used + want {
                self.buf.resize(self.used + want, 0);
            }
            match f(&mut self.buf[self.used..]) {
                Ok(n) => {
                    self.used += n;
                    return Ok(());
                }
                Err(Some(need)) if need > self.buf.len() - self.used => want = need,
                Err(_) => return Err(rustls::Error::General("TLS output failed".into())),
            }
        }
    }

    fn append(&mut self, bytes: &[u8]) {
        self.buf.truncate(self.used);
        self.buf.extend_from_slice(bytes);
        self.used = self.buf.len();
    }

    fn reset(&mut self) {
        self.start = 0;
        self.used = 0;
    }
}

/// Either side of a session.
enum Session {
    Server(UnbufferedServerConnection),
    Client(UnbufferedClientConnection),
}

/// Runs `$e` with `$c` bound to the session, whichever side it is.
macro_rules! with_session {
    ($session:expr, $c:ident => $e:expr) => {
        match $session {
            Session::Server($c) => $e,
            Session::Client($c) => $e,
        }
    };
}

/// What one pass over rustls's states has to work with and reports back.
struct Cx<'a, 'b> {
    /// Where plaintext goes (reads).
    plain: Option<&'a mut ReadSpace<'b>>,
    /// Plaintext bytes received.
    got: usize,
    /// Where records go.
    out: &'a mut OutBuf,
    /// Plaintext to encrypt once the session allows it; emptied when done.
    app: &'a [IoSlice<'a>],
    /// Plaintext kept from before the handshake finished.
    early: &'a mut Vec<u8>,
    /// Queue our close_notify once the session allows it.
    close: bool,
    /// The peer sent its close_notify.
    peer_closed: bool,
}

fn size_error(need: InsufficientSizeError) -> Option<usize> {
    Some(need.required_size)
}

fn encrypt_into(
    w: &mut rustls::unbuffered::WriteTraffic<'_, impl Sized>,
    out: &mut OutBuf,
    data: &[u8],
) -> Result<(), rustls::Error> {
    let hint = data.len() + (data.len() / RECORD_MAX + 1) * RECORD_OVERHEAD;
    out.fill(hint, |b| match w.encrypt(data, b) {
        Ok(n) => Ok(n),
        Err(EncryptError::InsufficientSize(s)) => Err(size_error(s)),
        Err(_) => Err(None),
    })
}

/// Handles one state rustls reached; returns the input bytes to discard (also
/// after an error) and whether rustls may go on without more input.
fn step<D>(
    status: UnbufferedStatus<'_, '_, D>,
    cx: &mut Cx<'_, '_>,
) -> (usize, Result<bool, rustls::Error>) {
    let mut discard = status.discard;
    let r = handle(status.state, cx, &mut discard);
    (discard, r)
}

fn handle<D>(
    state: Result<ConnectionState<'_, '_, D>, rustls::Error>,
    cx: &mut Cx<'_, '_>,
    discard: &mut usize,
) -> Result<bool, rustls::Error> {
    let more = match state? {
        ConnectionState::ReadTraffic(mut r) => {
            while let Some(record) = r.next_record() {
                let record = record?;
                *discard += record.discard;
                match cx.plain.as_deref_mut() {
                    Some(plain) => plain.extend_from_slice(record.payload),
                    None => {
                        return Err(rustls::Error::General("unexpected application data".into()))
                    }
                }
                cx.got += record.payload.len();
            }
            true
        }
        ConnectionState::EncodeTlsData(mut e) => {
            cx.out.fill(ENCODE_HINT, |b| match e.encode(b) {
                Ok(n) => Ok(n),
                Err(EncodeError::InsufficientSize(s)) => Err(size_error(s)),
                Err(_) => Err(None),
            })?;
            true
        }
        ConnectionState::TransmitTlsData(t) => {
            // Everything encoded goes out in order from `out`.
            t.done();
            true
        }
        ConnectionState::PeerClosed => {
            cx.peer_closed = true;
            true
        }
        ConnectionState::Closed => {
            cx.peer_closed = true;
            false
        }
        ConnectionState::BlockedHandshake => false,
        ConnectionState::WriteTraffic(mut w) => {
            if !cx.early.is_empty() {
                encrypt_into(&mut w, cx.out, cx.early)?;
                *cx.early = Vec::new();
            }
            for slice in std::mem::take(&mut cx.app) {
                for record in slice.chunks(WRITE_MAX) {
                    encrypt_into(&mut w, cx.out, record)?;
                }
            }
            if std::mem::take(&mut cx.close) {
                cx.out
                    .fill(RECORD_OVERHEAD, |b| match w.queue_close_notify(b) {
                        Ok(n) => Ok(n),
                        Err(EncryptError::InsufficientSize(s)) => Err(size_error(s)),
                        Err(_) => Err(None),
                    })?;
            }
            false
        }
        _ => return Err(rustls::Error::General("unexpected TLS state".into())),
    };
    Ok(more)
}

/// A TLS session and its socket (never itself TLS).
pub struct TlsStream {
    pub(super) sock: Stream,
    session: Session,
    /// Records not yet sent (a full socket refused them); empty when idle.
    out: OutBuf,
    /// The start of a record whose rest has not arrived.
    partial: Vec<u8>,
    /// Plaintext written before the handshake finished (a client's upgrade
    /// request), encrypted once it has.
    early: Vec<u8>,
    /// The socket reported end of stream.
    eof: bool,
    /// The peer sent its close_notify.
    peer_closed: bool,
    /// We queued our close_notify.
    closing: bool,
}

impl std::fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsStream")
            .field("sock", &self.sock)
            .field("handshaking", &self.is_handshaking())
            .finish()
    }
}

impl TlsStream {
    fn new(sock: Stream, session: Session) -> io::Result<TlsStream> {
        let mut t = TlsStream {
            sock,
            session,
            out: OutBuf::default(),
            partial: Vec::new(),
            early: Vec::new(),
            eof: false,
            peer_closed: false,
            closing: false,
        };
        // A client's hello is ready at once (sent when the socket is writable).
        let mut out = std::mem::take(&mut t.out);
        t.drive_kept(&mut out, &[], false)?;
        t.out = out;
        Ok(t)
    }

    pub(super) fn server(sock: Stream, session: UnbufferedServerConnection) -> io::Result<Self> {
        TlsStream::new(sock, Session::Server(session))
    }

    pub(super) fn client(sock: Stream, session: UnbufferedClientConnection) -> io::Result<Self> {
        TlsStream::new(sock, Session::Client(session))
    }

    /// Feeds `input` to rustls until it needs more: plaintext into `plain`,
    /// records into `out`, `app` encrypted once the session allows it
    /// (else kept as early data). Returns the input bytes used up and the
    /// plaintext bytes received. A TLS error sends its alert if it can.
    fn drive(
        &mut self,
        input: &mut [u8],
        plain: Option<&mut ReadSpace<'_>>,
        out: &mut OutBuf,
        app: &[IoSlice<'_>],
        close: bool,
    ) -> io::Result<(usize, usize)> {
        let mut cx = Cx {
            plain,
            got: 0,
            out,
            app,
            early: &mut self.early,
            close,
            peer_closed: false,
        };
        let mut start = 0;
        let failed = loop {
            let rest = &mut input[start..];
            let (discard, r) =
                with_session!(&mut self.session, c => step(c.process_tls_records(rest), &mut cx));
            start += discard;
            match r {
                Ok(true) => {}
                Ok(false) => break None,
                Err(e) => break Some(e),
            }
        };
        self.peer_closed |= cx.peer_closed;
        let got = cx.got;
        // Not yet allowed to encrypt: keep the plaintext for then.
        for slice in cx.app {
            cx.early.extend_from_slice(slice);
        }
        if let Some(e) = failed {
            // The alert rustls queued, then out (best effort).
            let mut cx = Cx {
                plain: None,
                got: 0,
                out: cx.out,
                app: &[],
                early: &mut Vec::new(),
                close: false,
                peer_closed: false,
            };
            // Only while it has records queued: another pass would read the
            // failed input again.
            while with_session!(&self.session, c => c.wants_write()) {
                let rest = &mut input[start..];
                let (discard, r) = with_session!(&mut self.session, c => step(c.process_tls_records(rest), &mut cx));
                start += discard;
                if r.is_err() {
                    break;
                }
            }
            let _ = send(&mut self.sock, cx.out);
            return Err(tls_io_error(io::ErrorKind::InvalidData, e));
        }
        Ok((start, got))
    }

    /// [`TlsStream::drive`] without new input: rustls is shown the start of
    /// a record it kept (its handshake reassembly points into it), which it
    /// may not be shown without.
    fn drive_kept(&mut self, out: &mut OutBuf, app: &[IoSlice<'_>], close: bool) -> io::Result<()> {
        let mut kept = std::mem::take(&mut self.partial);
        let r = self.drive(&mut kept, None, out, app, close);
        if let Ok((used, _)) = r {
            kept.drain(..used);
        }
        if !kept.is_empty() {
            self.partial = kept;
        }
        r.map(drop)
    }

    /// Reads ciphertext until the socket would block (or `max` plaintext
    /// bytes arrived), answering the handshake on the way. `Ok(0)`: the peer
    /// closed cleanly (close_notify). End of stream without close_notify,
    /// mid-record or mid-handshake, is a TLS error.
    pub(super) fn read_into(&mut self, buf: &mut ReadSpace<'_>, max: usize) -> io::Result<usize> {
        // Room for what this read may bring at once, as the plain path
        // reserves its read: one growth, not one per record (capped by `max`,
        // which is small while a handshake head arrives).
        let room = max.min(CHUNK);
        if buf.capacity() - buf.len() < room {
            buf.reserve(room);
        }
        let mut total = 0;
        let mut out = std::mem::take(&mut self.out);
        while total < max && !self.eof && !self.peer_closed {
            let got = SCRATCH.with_borrow_mut(|scratch| -> io::Result<usize> {
                let carried = self.partial.len();
                if scratch.len() < carried + CHUNK {
                    scratch.resize(carried + CHUNK, 0);
                }
                let n = self.sock.read(&mut scratch[carried..carried + CHUNK])?;
                if n == 0 {
                    self.eof = true;
                    return Ok(0);
                }
                scratch[..carried].copy_from_slice(&self.partial);
                let end = carried + n;
                let (used, got) =
                    self.drive(&mut scratch[..end], Some(buf), &mut out, &[], false)?;
                total += got;
                // What rustls left is the start of a record: keep it (and
                // nothing once there is none).
                if used == end {
                    self.partial = Vec::new();
                } else {
                    self.partial.clear();
                    self.partial.extend_from_slice(&scratch[used..end]);
                }
                Ok(n)
            });
            match got {
                Ok(n) if n < CHUNK && total > 0 => break, // the socket is drained
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.out = out;
                    return Err(e);
                }
            }
        }
        self.out = out;
        // Handshake answers, alerts, key updates: out now (a blocked socket
        // keeps them for `flush_pending` when it turns writable).
        match self.flush_pending() {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
        if total > 0 {
            return Ok(total);
        }
        if self.peer_closed {
            return Ok(0);
        }
        if self.eof {
            let what = if self.is_handshaking() {
                "the peer closed the connection during the handshake"
            } else {
                "the peer closed the connection without a close_notify (truncated, possibly mid-record)"
            };
            return Err(tls_io_error(io::ErrorKind::UnexpectedEof, what));
        }
        Err(io::ErrorKind::WouldBlock.into())
    }

    /// Encrypts the slices (up to 64 KiB of plaintext; records of up to
    /// 16 KiB) into a per-thread buffer and sends the records in one write.
    /// Returns the plaintext bytes taken; those are the session's to send
    /// from now. Before the handshake finishes they are kept until it does.
    pub(super) fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        // Records still waiting go first; if they cannot, take nothing more.
        self.flush_pending()?;
        let mut taken = 0;
        let mut parts = [IoSlice::new(&[]); 64];
        let mut n = 0;
        for b in bufs {
            if taken == WRITE_MAX || n == parts.len() {
                break;
            }
            let part = &b[..b.len().min(WRITE_MAX - taken)];
            parts[n] = IoSlice::new(part);
            n += 1;
            taken += part.len();
        }
        OUT.with_borrow_mut(|out| -> io::Result<()> {
            out.reset();
            self.drive_kept(out, &parts[..n], false)?;
            let r = send(&mut self.sock, out);
            // What the socket refused stays with this connection.
            if !out.is_empty() {
                self.out.append(out.pending());
            }
            out.reset();
            match r {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
                Err(e) => Err(e),
            }
        })?;
        Ok(taken)
    }

    /// Whether records (handshake, alerts, data, close_notify) wait to be sent.
    pub(super) fn wants_write(&self) -> bool {
        !self.out.is_empty()
    }

    /// Sends pending records: `Ok(())` when none is left, `WouldBlock` when
    /// the socket is full.
    pub(super) fn flush_pending(&mut self) -> io::Result<()> {
        if self.out.is_empty() {
            return Ok(());
        }
        send(&mut self.sock, &mut self.out)?;
        // Sent: the connection keeps no buffer.
        self.out = OutBuf::default();
        Ok(())
    }

    /// Queues our close_notify and tries to send it (and anything before it).
    pub(super) fn send_close_notify(&mut self) {
        if !self.closing {
            self.closing = true;
            let mut out = std::mem::take(&mut self.out);
            let _ = self.drive_kept(&mut out, &[], true);
            self.out = out;
        }
        let _ = self.flush_pending();
    }

    /// Whether the TLS handshake is still going on.
    pub(super) fn is_handshaking(&self) -> bool {
        with_session!(&self.session, c => c.is_handshaking())
    }
}

/// Writes `out`'s pending bytes to `sock` until done (`Ok`) or the socket
/// would block (`WouldBlock`, the rest still pending).
fn send(sock: &mut Stream, out: &mut OutBuf) -> io::Result<()> {
    while !out.is_empty() {
        match sock.write_vectored(&[IoSlice::new(out.pending())]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => out.start += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    out.reset();
    Ok(())
}
