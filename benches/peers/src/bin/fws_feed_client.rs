//! fastwebsockets feed client: `--conns N` connections on a current-thread
//! runtime, upgraded with `fastwebsockets::handshake::client` (hyper) as its
//! client example does, each reading through a `FragmentCollector` and
//! counting text and binary messages. Prints the RESULT line of `rocws bench --mode feed`.

use std::future::Future;

use fastwebsockets::{FragmentCollector, OpCode};
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper::header::{CONNECTION, UPGRADE};
use hyper::Request;
use tokio::net::TcpStream;

struct SpawnExecutor;

impl<F> hyper::rt::Executor<F> for SpawnExecutor
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn execute(&self, fut: F) {
        tokio::spawn(fut);
    }
}

async fn connect(
    url: &str,
) -> FragmentCollector<hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>> {
    let rest = url.strip_prefix("ws://").expect("a ws:// URL");
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let stream = TcpStream::connect(authority).await.expect("connect");
    stream.set_nodelay(true).expect("TCP_NODELAY");
    let request = Request::builder()
        .method("GET")
        .uri(format!("/{path}"))
        .header("Host", authority)
        .header(UPGRADE, "websocket")
        .header(CONNECTION, "upgrade")
        .header(
            "Sec-WebSocket-Key",
            fastwebsockets::handshake::generate_key(),
        )
        .header("Sec-WebSocket-Version", "13")
        .body(Empty::<Bytes>::new())
        .expect("request");
    let (ws, _) = fastwebsockets::handshake::client(&SpawnExecutor, request, stream)
        .await
        .expect("upgrade");
    FragmentCollector::new(ws)
}

fn main() {
    let args = rocws_peers::feed_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for _ in 0..args.conns {
            let mut ws = connect(&args.url).await;
            tokio::spawn(tokio::task::unconstrained(async move {
                while let Ok(frame) = ws.read_frame().await {
                    match frame.opcode {
                        OpCode::Text | OpCode::Binary => rocws_peers::count(frame.payload.len()),
                        OpCode::Close => break,
                        _ => {}
                    }
                }
            }));
        }
        rocws_peers::measure_feed(&args, args.conns).await;
    });
}
