//! Local servers that really receive what a service sends, for integration tests and benchmarks.
//!
//! [`SmtpSink`] is a plain ESMTP server (no TLS, no AUTH) that records every accepted mail.
//! [`HttpSink`] is an HTTP/1.1 server that records every request and answers with a configurable
//! status, optionally after a delay. Both listen on `127.0.0.1` with a port chosen by the system
//! and stop when dropped.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

const HOST: &str = "127.0.0.1";
const POLL_INTERVAL: Duration = Duration::from_millis(20);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Polls `count` until it reaches `n`, then returns `snapshot()`; fails after `secs` seconds.
async fn wait_until<T>(
    n: usize,
    secs: u64,
    what: &str,
    count: impl Fn() -> usize,
    snapshot: impl Fn() -> Vec<T>,
) -> anyhow::Result<Vec<T>> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if count() >= n {
            return Ok(snapshot());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {secs}s waiting for {n} {what}, got {}", count());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

// ---------------------------------------------------------------------------------------------
// SMTP
// ---------------------------------------------------------------------------------------------

/// One mail accepted by the [`SmtpSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedMail {
    /// The reverse path given in `MAIL FROM`, without angle brackets.
    pub from: String,
    /// The forward paths given in `RCPT TO`, without angle brackets, in order.
    pub to: Vec<String>,
    /// The raw message as sent after `DATA`, with dot-stuffing removed and line endings kept.
    pub data: String,
}

impl ReceivedMail {
    /// The value of the first header called `name` (case-insensitive), with folded lines joined
    /// and surrounding whitespace trimmed. Only the header section (before the first empty line)
    /// is searched.
    pub fn header(&self, name: &str) -> Option<String> {
        let mut found: Option<String> = None;
        for line in self.data.lines() {
            if line.is_empty() {
                break;
            }
            let continuation = line.starts_with([' ', '\t']);
            match (&mut found, continuation) {
                (Some(value), true) => value.push_str(line),
                (Some(_), false) => break,
                (None, false) => {
                    if let Some((key, value)) = line.split_once(':')
                        && key.trim().eq_ignore_ascii_case(name)
                    {
                        found = Some(value.to_owned());
                    }
                }
                (None, true) => {}
            }
        }
        found.map(|v| v.trim().to_owned())
    }
}

#[derive(Default)]
struct SmtpState {
    mails: Mutex<Vec<ReceivedMail>>,
    failing: AtomicBool,
}

/// A local SMTP server that accepts every mail and records it.
///
/// It understands `EHLO`, `HELO`, `MAIL FROM`, `RCPT TO`, `DATA`, `RSET`, `NOOP` and `QUIT`,
/// takes several mails per connection and serves many connections at once. It advertises
/// `8BITMIME` and `SMTPUTF8` but neither `STARTTLS` nor `AUTH`, so clients must connect in plain
/// text. Dropping the sink closes the listener and every open connection.
pub struct SmtpSink {
    port: u16,
    state: Arc<SmtpState>,
    task: JoinHandle<()>,
}

impl SmtpSink {
    /// Binds `127.0.0.1` on a free port and starts accepting connections.
    pub async fn start() -> anyhow::Result<SmtpSink> {
        Self::start_on(0).await
    }

    /// Binds `127.0.0.1:port` (0: a free port) and starts accepting connections.
    pub async fn start_on(port: u16) -> anyhow::Result<SmtpSink> {
        // A deep backlog, so that a burst of clients connecting at once is not dropped.
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind((std::net::Ipv4Addr::LOCALHOST, port).into())?;
        let listener = socket.listen(4096)?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(SmtpState::default());
        let task = tokio::spawn(accept_smtp(listener, state.clone()));
        Ok(SmtpSink { port, state, task })
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address the sink listens on, always `127.0.0.1`.
    pub fn host(&self) -> &str {
        HOST
    }

    /// Every mail accepted so far, in the order the `DATA` phases completed.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        lock(&self.state.mails).clone()
    }

    /// How many mails were accepted so far.
    pub fn count(&self) -> usize {
        lock(&self.state.mails).len()
    }

    /// While failing, `MAIL FROM` is answered with `451 4.3.0 temporarily unavailable`, so no
    /// mail is accepted. The other commands behave as usual.
    pub fn set_failing(&self, failing: bool) {
        self.state.failing.store(failing, Ordering::SeqCst);
    }

    /// Waits until at least `n` mails were accepted and returns all of them; fails after `secs`
    /// seconds.
    pub async fn wait_for(&self, n: usize, secs: u64) -> anyhow::Result<Vec<ReceivedMail>> {
        wait_until(n, secs, "mails", || self.count(), || self.mails()).await
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for SmtpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSink")
            .field("port", &self.port)
            .field("count", &self.count())
            .finish()
    }
}

/// Accepts connections and serves each on its own task. The tasks live in a `JoinSet`, so
/// aborting this task also aborts every connection.
async fn accept_smtp(listener: TcpListener, state: Arc<SmtpState>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_smtp(stream, state.clone()));
                }
                // Usually running out of file descriptors: back off instead of spinning.
                Err(_) => tokio::time::sleep(POLL_INTERVAL).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// The reverse path and forward paths of the mail being received.
struct Envelope {
    from: String,
    to: Vec<String>,
}

/// The address inside `<...>`, or the first word when there are no angle brackets.
fn smtp_path(arg: &str) -> String {
    let arg = arg.trim();
    if let Some(start) = arg.find('<')
        && let Some(len) = arg[start + 1..].find('>')
    {
        return arg[start + 1..start + 1 + len].to_owned();
    }
    arg.split_whitespace().next().unwrap_or_default().to_owned()
}

/// The argument after `prefix` (matched case-insensitively), if the command starts with it.
fn strip_command<'a>(command: &'a str, prefix: &str) -> Option<&'a str> {
    let head = command.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &command[prefix.len()..])
}

async fn serve_smtp(stream: TcpStream, state: Arc<SmtpState>) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    write.write_all(b"220 localhost ESMTP testkit sink\r\n").await?;

    let mut envelope: Option<Envelope> = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&line);
        let command = text.trim_end_matches(['\r', '\n']);
        let verb = command
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();

        let reply: &[u8] = match verb.as_str() {
            "EHLO" => {
                envelope = None;
                b"250-localhost\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 SMTPUTF8\r\n"
            }
            "HELO" => {
                envelope = None;
                b"250 localhost\r\n"
            }
            "MAIL" => match strip_command(command, "MAIL FROM:") {
                None => b"501 5.5.4 Syntax: MAIL FROM:<address>\r\n",
                Some(_) if state.failing.load(Ordering::SeqCst) => b"451 4.3.0 temporarily unavailable\r\n",
                Some(_) if envelope.is_some() => b"503 5.5.1 Error: nested MAIL command\r\n",
                Some(arg) => {
                    envelope = Some(Envelope {
                        from: smtp_path(arg),
                        to: Vec::new(),
                    });
                    b"250 2.1.0 Ok\r\n"
                }
            },
            "RCPT" => match (strip_command(command, "RCPT TO:"), envelope.as_mut()) {
                (None, _) => b"501 5.5.4 Syntax: RCPT TO:<address>\r\n",
                (Some(_), None) => b"503 5.5.1 Error: need MAIL command\r\n",
                (Some(arg), Some(env)) => {
                    env.to.push(smtp_path(arg));
                    b"250 2.1.5 Ok\r\n"
                }
            },
            "DATA" => match envelope.take() {
                None => b"503 5.5.1 Error: need MAIL command\r\n",
                Some(env) if env.to.is_empty() => {
                    envelope = Some(env);
                    b"503 5.5.1 Error: need RCPT command\r\n"
                }
                Some(env) => {
                    write.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await?;
                    let Some(data) = read_data(&mut reader).await? else {
                        return Ok(());
                    };
                    lock(&state.mails).push(ReceivedMail {
                        from: env.from,
                        to: env.to,
                        data,
                    });
                    b"250 2.0.0 Ok: queued\r\n"
                }
            },
            "RSET" => {
                envelope = None;
                b"250 2.0.0 Ok\r\n"
            }
            "NOOP" => b"250 2.0.0 Ok\r\n",
            "QUIT" => {
                write.write_all(b"221 2.0.0 Bye\r\n").await?;
                let _ = write.shutdown().await;
                return Ok(());
            }
            _ => b"502 5.5.2 Error: command not recognized\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// Reads the message after `DATA` up to the line holding a single `.`, removing dot-stuffing.
/// Returns `None` if the connection closes first.
async fn read_data<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> std::io::Result<Option<String>> {
    let mut data = Vec::new();
    let mut line = Vec::new();
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).await? == 0 {
            return Ok(None);
        }
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content == b"." {
            return Ok(Some(String::from_utf8_lossy(&data).into_owned()));
        }
        let unstuffed = line.strip_prefix(b".").unwrap_or(&line);
        data.extend_from_slice(unstuffed);
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// One request received by the [`HttpSink`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// The method, such as `POST`.
    pub method: String,
    /// The path with the query string, if any, such as `/hooks/a?x=1`.
    pub path: String,
    /// The headers by lowercase name; repeated headers are joined with `, `.
    pub headers: BTreeMap<String, String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl ReceivedRequest {
    /// The body parsed as JSON, or `Value::Null` if it is not valid JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }

    /// The value of the header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(&name.to_ascii_lowercase()).cloned()
    }
}

struct HttpState {
    requests: Mutex<Vec<ReceivedRequest>>,
    status: AtomicU16,
    delay_micros: AtomicU64,
}

/// A local HTTP/1.1 server that records every request, whatever its method and path.
///
/// It answers every request with the configured status (200 unless changed) and an empty body,
/// after the configured delay if any. Connections are kept alive, and one worker thread handles
/// many thousands of requests per second. Dropping the sink stops the server.
pub struct HttpSink {
    port: u16,
    state: Arc<HttpState>,
    handle: ServerHandle,
}

impl HttpSink {
    /// Binds `127.0.0.1` on a free port and starts serving on a Tokio task.
    pub async fn start() -> anyhow::Result<HttpSink> {
        Self::start_on(0).await
    }

    /// Binds `127.0.0.1:port` (0: a free port) and starts serving on a Tokio task.
    pub async fn start_on(port: u16) -> anyhow::Result<HttpSink> {
        let listener = std::net::TcpListener::bind((HOST, port))?;
        let port = listener.local_addr()?.port();
        let state = Arc::new(HttpState {
            requests: Mutex::new(Vec::new()),
            status: AtomicU16::new(200),
            delay_micros: AtomicU64::new(0),
        });
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .app_data(web::PayloadConfig::new(64 * 1024 * 1024))
                .default_service(web::to(record_request))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(HttpSink { port, state, handle })
    }

    /// The port the sink listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The base URL, such as `http://127.0.0.1:40123`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{HOST}:{}", self.port)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        lock(&self.state.requests).clone()
    }

    /// How many requests were received so far.
    pub fn count(&self) -> usize {
        lock(&self.state.requests).len()
    }

    /// The status for the following responses. Codes outside 100..=999 give 500.
    pub fn set_status(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// How long to wait before each following response; the request is recorded on arrival.
    /// `Duration::ZERO` answers at once.
    pub fn set_delay(&self, delay: Duration) {
        let micros = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.state.delay_micros.store(micros, Ordering::SeqCst);
    }

    /// Waits until at least `n` requests were received and returns all of them; fails after
    /// `secs` seconds.
    pub async fn wait_for(&self, n: usize, secs: u64) -> anyhow::Result<Vec<ReceivedRequest>> {
        wait_until(n, secs, "requests", || self.count(), || self.requests()).await
    }

    /// Stops the server without waiting for requests in flight, and waits until it has stopped.
    pub async fn stop(&self) {
        self.handle.stop(false).await;
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the server task carries it out.
        drop(self.handle.stop(false));
    }
}

impl std::fmt::Debug for HttpSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSink")
            .field("port", &self.port)
            .field("count", &self.count())
            .finish()
    }
}

async fn record_request(req: HttpRequest, body: web::Bytes, state: web::Data<HttpState>) -> HttpResponse {
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in req.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        headers
            .entry(name.as_str().to_owned())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_owned(), |pq| pq.as_str().to_owned());
    lock(&state.requests).push(ReceivedRequest {
        method: req.method().as_str().to_owned(),
        path,
        headers,
        body: body.to_vec(),
    });

    let delay = state.delay_micros.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_micros(delay)).await;
    }
    let status = StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    HttpResponse::build(status).finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one complete (possibly multi-line) SMTP reply and returns its last line.
    async fn reply<R: tokio::io::AsyncBufRead + Unpin>(reader: &mut R) -> String {
        loop {
            let mut line = String::new();
            let n = reader.read_line(&mut line).await.expect("read reply");
            assert!(n > 0, "connection closed while waiting for a reply");
            if line.as_bytes().get(3) != Some(&b'-') {
                return line.trim_end().to_owned();
            }
        }
    }

    async fn send<W: tokio::io::AsyncWrite + Unpin>(writer: &mut W, line: &str) {
        writer.write_all(line.as_bytes()).await.expect("write command");
    }

    #[tokio::test]
    async fn smtp_records_a_raw_dialogue() {
        let sink = SmtpSink::start().await.expect("start sink");
        let stream = TcpStream::connect((sink.host(), sink.port())).await.expect("connect");
        let (read, mut w) = stream.into_split();
        let mut r = BufReader::new(read);

        assert!(reply(&mut r).await.starts_with("220"));
        send(&mut w, "EHLO client.test\r\n").await;
        assert_eq!(reply(&mut r).await, "250 SMTPUTF8");
        send(&mut w, "MAIL FROM:<sender@example.com> BODY=8BITMIME\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "RCPT TO:<a@example.com>\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "rcpt to: <b@example.com>\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "DATA\r\n").await;
        assert!(reply(&mut r).await.starts_with("354"));
        send(
            &mut w,
            "Subject: Hello\r\n  there\r\nFrom: sender@example.com\r\n\r\nfirst line\r\n..dotted line\r\n.\r\n",
        )
        .await;
        assert!(reply(&mut r).await.starts_with("250"));

        // A second mail on the same connection.
        send(&mut w, "MAIL FROM:<>\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "RCPT TO:<c@example.com>\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "DATA\r\n").await;
        assert!(reply(&mut r).await.starts_with("354"));
        send(&mut w, "Subject: second\r\n\r\nbody\r\n.\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "NOOP\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "QUIT\r\n").await;
        assert!(reply(&mut r).await.starts_with("221"));

        let mails = sink.wait_for(2, 5).await.expect("two mails");
        assert_eq!(sink.count(), 2);
        let mail = &mails[0];
        assert_eq!(mail.from, "sender@example.com");
        assert_eq!(mail.to, vec!["a@example.com".to_owned(), "b@example.com".to_owned()]);
        assert_eq!(
            mail.data,
            "Subject: Hello\r\n  there\r\nFrom: sender@example.com\r\n\r\nfirst line\r\n.dotted line\r\n"
        );
        assert_eq!(mail.header("subject").as_deref(), Some("Hello  there"));
        assert_eq!(mail.header("FROM").as_deref(), Some("sender@example.com"));
        assert_eq!(mail.header("to"), None);
        assert_eq!(mails[1].from, "");
        assert_eq!(mails[1].to, vec!["c@example.com".to_owned()]);
    }

    #[tokio::test]
    async fn smtp_rejects_mail_while_failing() {
        let sink = SmtpSink::start().await.expect("start sink");
        sink.set_failing(true);
        let stream = TcpStream::connect((sink.host(), sink.port())).await.expect("connect");
        let (read, mut w) = stream.into_split();
        let mut r = BufReader::new(read);

        assert!(reply(&mut r).await.starts_with("220"));
        send(&mut w, "HELO client.test\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "MAIL FROM:<sender@example.com>\r\n").await;
        assert_eq!(reply(&mut r).await, "451 4.3.0 temporarily unavailable");
        send(&mut w, "RCPT TO:<a@example.com>\r\n").await;
        assert!(reply(&mut r).await.starts_with("503"));

        sink.set_failing(false);
        send(&mut w, "MAIL FROM:<sender@example.com>\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "RSET\r\n").await;
        assert!(reply(&mut r).await.starts_with("250"));
        send(&mut w, "QUIT\r\n").await;
        assert!(reply(&mut r).await.starts_with("221"));
        assert_eq!(sink.count(), 0);
        assert!(sink.wait_for(1, 0).await.is_err());
    }

    #[tokio::test]
    async fn smtp_accepts_mail_from_lettre() {
        use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

        let sink = SmtpSink::start().await.expect("start sink");
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(sink.host())
            .port(sink.port())
            .build();
        for i in 0..3 {
            let message = Message::builder()
                .from("Sender <sender@example.com>".parse().expect("from"))
                .to(format!("user{i}@example.com").parse().expect("to"))
                .subject(format!("Grüße {i}"))
                .body(format!(".leading dot\nZeile {i} mit Umlauten: äöü\n"))
                .expect("message");
            transport.send(message).await.expect("send");
        }
        let mails = sink.wait_for(3, 5).await.expect("three mails");
        assert_eq!(mails[2].from, "sender@example.com");
        assert_eq!(mails[2].to, vec!["user2@example.com".to_owned()]);
        assert!(mails[0].header("subject").is_some());
        assert!(mails[0].data.contains(".leading dot"), "{}", mails[0].data);
    }

    #[tokio::test]
    async fn http_records_requests_and_answers_with_the_configured_status() {
        let sink = HttpSink::start().await.expect("start sink");
        sink.set_status(202);
        let client = reqwest::Client::new();
        let response = client
            .post(format!("{}/hooks/a?x=1", sink.url()))
            .header("X-Signature", "sha256=abc")
            .json(&serde_json::json!({"event": "sent", "n": 1}))
            .send()
            .await
            .expect("post");
        assert_eq!(response.status().as_u16(), 202);

        let requests = sink.wait_for(1, 5).await.expect("one request");
        let req = &requests[0];
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/hooks/a?x=1");
        assert_eq!(req.header("x-signature").as_deref(), Some("sha256=abc"));
        assert_eq!(req.header("Content-Type").as_deref(), Some("application/json"));
        assert_eq!(req.json(), serde_json::json!({"event": "sent", "n": 1}));

        sink.set_status(503);
        sink.set_delay(Duration::from_millis(200));
        let started = Instant::now();
        let response = client.get(format!("{}/health", sink.url())).send().await.expect("get");
        assert_eq!(response.status().as_u16(), 503);
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(sink.count(), 2);
        assert_eq!(sink.requests()[1].body, Vec::<u8>::new());

        sink.stop().await;
        assert!(client.get(sink.url()).send().await.is_err());
    }
}
