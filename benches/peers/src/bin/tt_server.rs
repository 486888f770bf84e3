//! tokio-tungstenite echo / relay server on a current-thread tokio runtime.
//!
//! Echo is the shape of tokio-tungstenite's own echo example: split, keep
//! text and binary, `forward` the stream into the sink. `forward` feeds each
//! message and flushes only when no further message is ready, so a pipelined
//! burst goes out in one write: the fair variant (a `next()` then `send()`
//! loop would flush, i.e. write(2), once per message).
//!
//! `--broadcast` is the shape of its chat example: an unbounded channel per
//! connection forwarded into its sink, and the reader sends every message
//! to every connection's channel (the sender too). TCP_NODELAY is set, as
//! rocws sets it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_channel::mpsc::{unbounded, UnboundedSender};
use futures_util::future::{self, Either};
use futures_util::{StreamExt, TryStreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::{Error, Message};

type Clients = Arc<Mutex<HashMap<u64, UnboundedSender<Message>>>>;

async fn echo(stream: TcpStream) -> Result<(), Error> {
    let ws = tokio_tungstenite::accept_async(stream).await?;
    let (write, read) = ws.split();
    read.try_filter(|m| future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await
}

async fn relay(stream: TcpStream, clients: Clients, id: u64) -> Result<(), Error> {
    let ws = tokio_tungstenite::accept_async(stream).await?;
    let (write, read) = ws.split();
    let (tx, rx) = unbounded();
    clients.lock().unwrap().insert(id, tx);
    let incoming = read.try_for_each(|m| {
        if m.is_text() || m.is_binary() {
            for client in clients.lock().unwrap().values() {
                let _ = client.unbounded_send(m.clone());
            }
        }
        future::ready(Ok(()))
    });
    let outgoing = rx.map(Ok).forward(write);
    let result = match future::select(Box::pin(incoming), outgoing).await {
        Either::Left((r, _)) | Either::Right((r, _)) => r,
    };
    clients.lock().unwrap().remove(&id);
    result
}

fn main() -> std::io::Result<()> {
    let (addr, broadcast) = rocws_peers::server_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    let clients: Clients = Arc::default();
    let next_id = AtomicU64::new(0);
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!("tokio-tungstenite server listening on {addr} (broadcast: {broadcast})");
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let clients = clients.clone();
            let id = next_id.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let r = if broadcast {
                    relay(stream, clients, id).await
                } else {
                    echo(stream).await
                };
                match r {
                    Ok(()) | Err(Error::ConnectionClosed | Error::AlreadyClosed) => {}
                    Err(e) => eprintln!("connection: {e}"),
                }
            });
        }
    })
}
