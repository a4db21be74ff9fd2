//! A TCP proxy a test controls, to cut one service's connection to a shared server (its
//! Postgres, its Redis, its broker) without touching the server or other tests. While cut,
//! open connections are dropped and new ones are accepted and closed at once, as a server that
//! went away looks to a client. While frozen, connections stay open but no byte passes either
//! way, as a server that hangs (or a network that black-holes) looks.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

struct Shared {
    target: SocketAddr,
    cut: AtomicBool,
    frozen: tokio::sync::watch::Sender<bool>,
    links: Mutex<Vec<AbortHandle>>,
}

/// Forwards 127.0.0.1:<port> to a target until dropped.
pub struct TcpProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: AbortHandle,
}

impl TcpProxy {
    /// Starts forwarding a free local port to `target` (`host:port`).
    pub async fn start(target: &str) -> anyhow::Result<Self> {
        let target = tokio::net::lookup_host(target)
            .await?
            .next()
            .ok_or_else(|| anyhow::anyhow!("{target} does not resolve"))?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            target,
            cut: AtomicBool::new(false),
            frozen: tokio::sync::watch::channel(false).0,
            links: Mutex::new(Vec::new()),
        });
        let s = shared.clone();
        let acceptor = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if s.cut.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let target = s.target;
                let frozen = s.frozen.subscribe();
                let link = tokio::spawn(async move {
                    if let Ok(outbound) = TcpStream::connect(target).await {
                        let (in_read, in_write) = inbound.into_split();
                        let (out_read, out_write) = outbound.into_split();
                        tokio::select! {
                            _ = pump(in_read, out_write, frozen.clone()) => {}
                            _ = pump(out_read, in_write, frozen) => {}
                        }
                    }
                });
                if let Ok(mut links) = s.links.lock() {
                    links.retain(|l| !l.is_finished());
                    links.push(link.abort_handle());
                }
            }
        })
        .abort_handle();
        Ok(Self { addr, shared, acceptor })
    }

    /// The proxy's own address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `url` with its `host:port` replaced by the proxy's (`postgres://u@127.0.0.1:5432/db`
    /// becomes `postgres://u@127.0.0.1:<proxy>/db`).
    pub fn url_through(&self, url: &str, target_host_port: &str) -> String {
        url.replacen(target_host_port, &self.addr.to_string(), 1)
    }

    /// Drops every open connection and refuses new ones until [`restore`](Self::restore).
    pub fn cut(&self) {
        self.shared.cut.store(true, Ordering::SeqCst);
        if let Ok(mut links) = self.shared.links.lock() {
            for link in links.drain(..) {
                link.abort();
            }
        }
    }

    /// Forwards new connections again (and lets bytes through again after a freeze).
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
        self.shared.frozen.send_replace(false);
    }

    /// Keeps every connection open but lets no byte through until [`restore`](Self::restore).
    pub fn freeze(&self) {
        self.shared.frozen.send_replace(true);
    }
}

/// Copies `from` to `to`, holding what it read while frozen.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut frozen: tokio::sync::watch::Receiver<bool>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if frozen.wait_for(|f| !*f).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}
