//! Starting and stopping an engine: listeners bound, one event loop per thread.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use mio::{Poll, Waker};
use socket2::{Domain, Protocol, Socket, Type};

use super::config::{Config, Endpoint};
use super::handle::{Handle, Shared, WorkerRemote};
use super::handler::Handler;
use super::worker::{Listener, Worker, WAKER};

/// A running engine: event-loop threads serving the configured listeners and
/// any client connections opened through its [`Handle`].
#[derive(Debug)]
pub struct Engine {
    handle: Handle,
    threads: Vec<JoinHandle<()>>,
    local: Vec<Endpoint>,
    /// Where the TLS listeners start in `local`.
    tls_from: usize,
}

fn bind_tcp(addr: SocketAddr, reuse_port: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(4096)?;
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

fn bind_unix(path: &std::path::Path) -> io::Result<std::os::unix::net::UnixListener> {
    match std::os::unix::net::UnixListener::bind(path) {
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            // A socket file nobody listens on is left over from a dead process.
            if std::os::unix::net::UnixStream::connect(path).is_err() {
                std::fs::remove_file(path)?;
                std::os::unix::net::UnixListener::bind(path)
            } else {
                Err(e)
            }
        }
        other => other,
    }
}

impl Engine {
    /// Binds every listener and starts the threads. `handler` is called once
    /// per thread (with the thread index and the engine's handle) to make
    /// that thread's handler.
    ///
    /// TCP listeners use `SO_REUSEPORT`, one socket per thread, so the kernel
    /// spreads new connections; a Unix socket is shared by all threads.
    pub fn start<H, F>(config: Config, mut handler: F) -> io::Result<Engine>
    where
        H: Handler,
        F: FnMut(usize, &Handle) -> H,
    {
        let threads = config.thread_count();
        if threads > super::handler::MAX_THREADS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("at most {} threads", super::handler::MAX_THREADS),
            ));
        }
        let reuse_port = threads > 1;
        // Per thread, its listeners; the first binding fixes the port (port 0 resolves once).
        let mut per_thread: Vec<Vec<Listener>> = (0..threads).map(|_| Vec::new()).collect();
        let mut local = Vec::new();
        let plain = config.listen.iter().map(|e| (e, None));
        let tls = config
            .listen_tls
            .iter()
            .map(|l| (&l.endpoint, Some(&l.acceptor)));
        for (endpoint, acceptor) in plain.chain(tls) {
            // Wraps one thread's listener for TLS when the endpoint has it.
            let wrap = |l: Listener| match acceptor {
                Some(a) => Listener::Tls(Box::new(l), a.clone()),
                None => l,
            };
            match endpoint {
                Endpoint::Tcp(addr) => {
                    let first = bind_tcp(*addr, reuse_port)?;
                    let bound = first.local_addr()?;
                    local.push(Endpoint::Tcp(bound));
                    per_thread[0].push(wrap(Listener::Tcp(mio::net::TcpListener::from_std(first))));
                    for listeners in per_thread.iter_mut().skip(1) {
                        let l = bind_tcp(bound, true)?;
                        listeners.push(wrap(Listener::Tcp(mio::net::TcpListener::from_std(l))));
                    }
                }
                Endpoint::Unix(path) => {
                    let l = bind_unix(path)?;
                    l.set_nonblocking(true)?;
                    local.push(endpoint.clone());
                    for listeners in per_thread.iter_mut() {
                        let dup = l.try_clone()?;
                        listeners.push(wrap(Listener::Unix(mio::net::UnixListener::from_std(dup))));
                    }
                }
            }
        }

        let mut polls = Vec::new();
        let mut remotes = Vec::new();
        let mut receivers = Vec::new();
        for _ in 0..threads {
            let poll = Poll::new()?;
            let waker = Waker::new(poll.registry(), WAKER)?;
            let (tx, rx) = mpsc::channel();
            remotes.push(WorkerRemote {
                commands: tx,
                waker,
                woken: AtomicBool::new(false),
                buffered: Default::default(),
                stats: Default::default(),
            });
            polls.push(poll);
            receivers.push(rx);
        }
        let (broker, unstarted) = match &config.broker {
            Some(b) => {
                let (link, unstarted) = super::broker::BrokerLink::new(b)?;
                (Some(link), Some(unstarted))
            }
            None => (None, None),
        };
        let handle = Handle {
            shared: Arc::new(Shared {
                workers: remotes,
                connections: AtomicUsize::new(0),
                next_client_worker: AtomicUsize::new(0),
                stopped: AtomicBool::new(false),
                broker,
            }),
        };
        let config = Arc::new(config);
        let mut joins = Vec::new();
        for (index, ((poll, rx), listeners)) in
            polls.into_iter().zip(receivers).zip(per_thread).enumerate()
        {
            let h = handler(index, &handle);
            let worker = Worker::new(
                index,
                poll,
                listeners,
                h,
                handle.clone(),
                rx,
                config.clone(),
            )?;
            let join = std::thread::Builder::new()
                .name(format!("rocws-loop-{index}"))
                .spawn(move || worker.run())?;
            joins.push(join);
        }
        if let Some(unstarted) = unstarted {
            match unstarted.spawn(&handle) {
                Ok(threads) => joins.extend(threads),
                Err(e) => {
                    handle.stop(Duration::ZERO);
                    return Err(e);
                }
            }
        }
        Ok(Engine {
            handle,
            threads: joins,
            tls_from: config.listen.len(),
            local,
        })
    }

    /// The handle for sending, connecting and stopping from any thread.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The addresses actually bound (a port 0 resolved to the real port):
    /// those of `Config::listen`, then those of `Config::listen_tls`.
    pub fn local_endpoints(&self) -> &[Endpoint] {
        &self.local
    }

    /// The first bound TCP address, if any.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.local.iter().find_map(|e| match e {
            Endpoint::Tcp(a) => Some(*a),
            Endpoint::Unix(_) => None,
        })
    }

    /// The first bound TCP address of a TLS listener, if any.
    pub fn local_tls_addr(&self) -> Option<SocketAddr> {
        self.local[self.tls_from..].iter().find_map(|e| match e {
            Endpoint::Tcp(a) => Some(*a),
            Endpoint::Unix(_) => None,
        })
    }

    /// Waits until every thread has finished (after [`Handle::stop`]).
    pub fn join(self) {
        for t in self.threads {
            let _ = t.join();
        }
    }

    /// Stops gracefully (see [`Handle::stop`]) and waits for the threads.
    pub fn stop(self, grace: Duration) {
        self.handle.stop(grace);
        self.join();
    }
}
