//! tokio-tungstenite feed client: `--conns N` connections on a current-thread
//! runtime, each the usual `while let Some(m) = ws.next().await` loop,
//! counting text and binary messages. Prints the RESULT line of `rocws bench --mode feed`.

use futures_util::StreamExt;
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let args = rocws_peers::feed_args();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        for _ in 0..args.conns {
            let (mut ws, _) = tokio_tungstenite::connect_async(args.url.as_str())
                .await
                .expect("connect");
            tokio::spawn(async move {
                while let Some(m) = ws.next().await {
                    match m {
                        Ok(Message::Text(t)) => rocws_peers::count(t.len()),
                        Ok(Message::Binary(b)) => rocws_peers::count(b.len()),
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
        }
        rocws_peers::measure_feed(&args, args.conns).await;
    });
}
