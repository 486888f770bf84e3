//! fastwebsockets echo / relay server on a current-thread tokio runtime,
//! shaped like fastwebsockets' own example servers: hyper for the upgrade,
//! `FragmentCollector`, one task per connection run `unconstrained`.
//!
//! `--broadcast` relays every message to every connection (the sender too):
//! the socket is split (`unstable-split`), a writer task per connection
//! drains an unbounded channel, the reader fans each message out to every
//! connection's channel. TCP_NODELAY is set, as rocws sets it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use fastwebsockets::upgrade::{self, UpgradeFut};
use fastwebsockets::{
    FragmentCollector, FragmentCollectorRead, Frame, OpCode, Payload, WebSocketError,
};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use tokio::net::TcpListener;
use tokio::sync::mpsc::{unbounded_channel, UnboundedSender};

type Outgoing = Arc<(OpCode, Vec<u8>)>;
type Clients = Arc<Mutex<HashMap<u64, UnboundedSender<Outgoing>>>>;

async fn echo(fut: UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
    Ok(())
}

async fn relay(fut: UpgradeFut, clients: Clients, id: u64) -> Result<(), WebSocketError> {
    let ws = fut.await?;
    let (read, mut write) = ws.split(tokio::io::split);
    let mut read = FragmentCollectorRead::new(read);
    let (out, mut queue) = unbounded_channel::<Outgoing>();
    clients.lock().unwrap().insert(id, out.clone());
    tokio::spawn(tokio::task::unconstrained(async move {
        while let Some(m) = queue.recv().await {
            let frame = Frame::new(true, m.0, None, Payload::Borrowed(&m.1));
            if write.write_frame(frame).await.is_err() {
                break;
            }
        }
    }));
    let result = loop {
        // Pongs and close answers go out through the writer, in order.
        let mut obligated = |f: Frame<'_>| {
            let _ = out.send(Arc::new((f.opcode, f.payload.to_vec())));
            std::future::ready(Ok::<(), WebSocketError>(()))
        };
        let frame = match read.read_frame(&mut obligated).await {
            Ok(f) => f,
            Err(e) => break Err(e),
        };
        match frame.opcode {
            OpCode::Close => break Ok(()),
            OpCode::Text | OpCode::Binary => {
                let m: Outgoing = Arc::new((frame.opcode, frame.payload.to_vec()));
                for client in clients.lock().unwrap().values() {
                    let _ = client.send(m.clone());
                }
            }
            _ => {}
        }
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
    let next_id = Arc::new(AtomicU64::new(0));
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        eprintln!("fastwebsockets server listening on {addr} (broadcast: {broadcast})");
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let (clients, next_id) = (clients.clone(), next_id.clone());
            tokio::spawn(async move {
                let service = service_fn(move |mut req: Request<Incoming>| {
                    let (clients, id) = (clients.clone(), next_id.fetch_add(1, Ordering::Relaxed));
                    async move {
                        let (response, fut) = upgrade::upgrade(&mut req)?;
                        tokio::spawn(tokio::task::unconstrained(async move {
                            let r = if broadcast {
                                relay(fut, clients, id).await
                            } else {
                                echo(fut).await
                            };
                            if let Err(e) = r {
                                eprintln!("connection: {e}");
                            }
                        }));
                        Ok::<Response<Empty<Bytes>>, WebSocketError>(response)
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let conn = http1::Builder::new()
                    .serve_connection(io, service)
                    .with_upgrades();
                if let Err(e) = conn.await {
                    eprintln!("http: {e}");
                }
            });
        }
    })
}
