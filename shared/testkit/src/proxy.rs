//! A TCP proxy a test controls, to cut one service's connection to a shared server (its
//! Postgres, its Redis) without touching the server or other tests. While cut, open
//! connections are dropped and new ones are accepted and closed at once, as a server that went
//! away looks to a client.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

struct Shared {
    target: SocketAddr,
    cut: AtomicBool,
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
                let link = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(target).await {
                        let mut inbound = inbound;
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
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

    /// Forwards new connections again.
    pub fn restore(&self) {
        self.shared.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.acceptor.abort();
    }
}
