//! The `lean` transport: one virtual user's own keep-alive HTTP/1.1 connection to the target.
//!
//! The request is written and the response read inline, in the user's own task: no connection
//! task, no dispatch channel, no pool lookup, and buffers that start at 2 KiB and only grow for
//! a big response (a hyper connection holds about 33 KB per user; this one about 3 KB). The
//! response is framed as RFC 9112 §6.3 says (no body for HEAD, 1xx, 204, 304; chunked;
//! Content-Length; else until close), and its body is kept up to a cap without ever buffering
//! more than that. A request on a reused connection that the server had already closed
//! (EOF or reset before any byte of the response) is sent once more on a new connection, as
//! browsers and hyper do.
//!
//! Nothing here ever carries request content into an error: errors name the failure only.

use std::fmt;
use std::io::{self, Write as _};

use bytes::{Buf, BytesMut};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer's spare room per read.
const READ_CHUNK: usize = 2048;
/// A buffer grown past this by a big response is given back once the response is read.
const KEEP_CAPACITY: usize = 16 << 10;
/// Longest response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 << 10;
/// Most response headers accepted (hyper's default is 100 too).
const MAX_HEADERS: usize = 100;
/// Headers parsed on the first try.
const FEW_HEADERS: usize = 16;
/// Longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;

/// Where a user's connection goes: the target's host and port, and its `Host` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    host: String,
    port: u16,
    host_header: String,
}

impl Origin {
    /// The origin of an `http://` URL; `None` for any other scheme.
    pub fn of(url: &url::Url) -> Option<Origin> {
        if url.scheme() != "http" {
            return None;
        }
        let port = url.port_or_known_default()?;
        let (host, shown) = match url.host()? {
            url::Host::Domain(d) => (d.to_string(), d.to_string()),
            url::Host::Ipv4(a) => (a.to_string(), a.to_string()),
            url::Host::Ipv6(a) => (a.to_string(), format!("[{a}]")),
        };
        let host_header = match url.port() {
            Some(p) => format!("{shown}:{p}"),
            None => shown,
        };
        Some(Origin {
            host,
            port,
            host_header,
        })
    }

    /// Whether `url` is on this origin (a step may only ever go there). Compares without
    /// allocating: it runs for every request.
    pub fn holds(&self, url: &url::Url) -> bool {
        url.scheme() == "http"
            && url.port_or_known_default() == Some(self.port)
            && url.host_str().is_some_and(|h| {
                // `host_str` keeps an IPv6 address's brackets; `host` does not.
                h.strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .unwrap_or(h)
                    == self.host
            })
    }
}

/// One request: its method, its target (path and query) and what it carries.
pub struct Request<'a> {
    pub method: &'a str,
    pub target: &'a str,
    pub headers: &'a HeaderMap,
    pub body: Option<&'a [u8]>,
}

/// A response: status, headers and the body up to the cap.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A transport failure. Its text names what failed, never what was sent.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    #[error("connection error: {0}")]
    Io(io::Error),
    #[error("connection closed before the response was complete")]
    Closed,
    #[error("invalid HTTP response: {0}")]
    Invalid(&'static str),
}

impl Error {
    /// The failure class recorded for it (`timeout` is the caller's, who sets the deadline).
    pub fn class(&self) -> &'static str {
        match self {
            Error::Connect(_) => "connect",
            _ => "other",
        }
    }
}

/// A failed exchange, and whether it may be retried on a new connection (the server closed
/// a reused connection before answering anything).
struct Failed {
    error: Error,
    stale: bool,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Failed {
        Failed {
            error,
            stale: false,
        }
    }
}

/// One user's connection: opened on first use, kept alive while the server allows it.
#[derive(Default)]
pub struct Conn {
    stream: Option<TcpStream>,
    buf: BytesMut,
    out: Vec<u8>,
    /// An exchange started and did not finish (its future was dropped by a timeout or an
    /// interrupt): the stream is mid-response and must not be reused.
    busy: bool,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("open", &self.stream.is_some())
            .finish()
    }
}

/// A copy of a session gets a connection of its own, opened when it first sends.
impl Clone for Conn {
    fn clone(&self) -> Conn {
        Conn::default()
    }
}

/// A parsed response head: what reading the rest of the response needs.
struct Head {
    status: u16,
    headers: HeaderMap,
    framing: Framing,
    keep_alive: bool,
}

/// How the response's body is delimited.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl Conn {
    /// Whether a connection is open.
    #[cfg(test)]
    pub fn is_open(&self) -> bool {
        self.stream.is_some()
    }

    /// Sends `req` to `origin` and reads the response, its body kept up to `limit` bytes.
    /// Cancel-safe: a dropped call leaves the connection to be replaced on the next one.
    pub async fn send(
        &mut self,
        origin: &Origin,
        req: &Request<'_>,
        limit: usize,
    ) -> Result<Response, Error> {
        if self.busy {
            self.close();
        }
        self.busy = true;
        let reused = self.stream.is_some();
        let mut result = self.exchange(origin, req, limit).await;
        if let Err(Failed { stale: true, .. }) = &result {
            if reused {
                self.close();
                result = self.exchange(origin, req, limit).await;
            }
        }
        self.busy = false;
        result.map_err(|f| {
            self.close();
            f.error
        })
    }

    fn close(&mut self) {
        self.stream = None;
        self.buf = BytesMut::new();
    }

    async fn exchange(
        &mut self,
        origin: &Origin,
        req: &Request<'_>,
        limit: usize,
    ) -> Result<Response, Failed> {
        if self.stream.is_none() {
            let s = TcpStream::connect((origin.host.as_str(), origin.port))
                .await
                .map_err(Error::Connect)?;
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
        }
        self.write_head(origin, req);
        let body = req.body.unwrap_or_default();
        let inline = body.len() <= READ_CHUNK;
        if inline {
            self.out.extend_from_slice(body);
        }
        let stream = self.stream.as_mut().expect("connected above");
        let written = match stream.write_all(&self.out).await {
            Ok(()) if !inline => stream.write_all(body).await,
            other => other,
        };
        if self.out.capacity() > KEEP_CAPACITY {
            self.out = Vec::new();
        }
        written.map_err(|e| Failed {
            stale: is_stale(&e),
            error: Error::Io(e),
        })?;
        let head_only = req.method.eq_ignore_ascii_case("HEAD");
        self.read_response(head_only, limit).await
    }

    /// The request head into `out`: request line, Host, the default User-Agent and Accept
    /// (unless the step sets them), the step's headers, and Content-Length.
    fn write_head(&mut self, origin: &Origin, req: &Request<'_>) {
        use reqwest::header::{ACCEPT, CONTENT_LENGTH, HOST, USER_AGENT};
        let out = &mut self.out;
        out.clear();
        out.extend_from_slice(req.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(req.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        if !req.headers.contains_key(HOST) {
            out.extend_from_slice(b"host: ");
            out.extend_from_slice(origin.host_header.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if !req.headers.contains_key(USER_AGENT) {
            out.extend_from_slice(
                concat!("user-agent: loadtest/", env!("CARGO_PKG_VERSION"), "\r\n").as_bytes(),
            );
        }
        if !req.headers.contains_key(ACCEPT) {
            out.extend_from_slice(b"accept: */*\r\n");
        }
        for (name, value) in req.headers {
            out.extend_from_slice(name.as_str().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let sends_length = matches!(req.method, "POST" | "PUT" | "PATCH") || req.body.is_some();
        if sends_length && !req.headers.contains_key(CONTENT_LENGTH) {
            let len = req.body.map_or(0, <[u8]>::len);
            let _ = write!(out, "content-length: {len}\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Reads more into the buffer; `Ok(false)` at the end of the stream.
    async fn read_more(&mut self) -> Result<bool, Error> {
        let stream = self.stream.as_mut().ok_or(Error::Closed)?;
        self.buf.reserve(READ_CHUNK);
        match stream.read_buf(&mut self.buf).await {
            Ok(0) => Ok(false),
            Ok(_) => Ok(true),
            Err(e) => Err(Error::Io(e)),
        }
    }

    async fn read_response(&mut self, head_only: bool, limit: usize) -> Result<Response, Failed> {
        let mut first = true;
        let head = loop {
            match parse_head(&self.buf, head_only)? {
                Some((used, head)) => {
                    self.buf.advance(used);
                    // Interim responses (100 Continue, 103 Early Hints) come before the real one.
                    if (100..200).contains(&head.status) {
                        if head.status == 101 {
                            return Err(Error::Invalid("101 Switching Protocols").into());
                        }
                        first = false;
                        continue;
                    }
                    break head;
                }
                None if self.buf.len() > MAX_HEAD => {
                    return Err(Error::Invalid("response head over 64 KiB").into());
                }
                None => {}
            }
            let before = first && self.buf.is_empty();
            match self.read_more().await {
                Ok(true) => {}
                Ok(false) => {
                    return Err(Failed {
                        error: Error::Closed,
                        stale: before,
                    })
                }
                Err(Error::Io(e)) => {
                    return Err(Failed {
                        stale: before && is_stale(&e),
                        error: Error::Io(e),
                    })
                }
                Err(e) => return Err(e.into()),
            }
        };
        let mut body = Vec::new();
        let complete = match head.framing {
            Framing::None => true,
            Framing::Length(n) => self.copy_body(n, &mut body, limit).await?,
            Framing::Chunked => self.read_chunked(&mut body, limit).await?,
            Framing::UntilClose => {
                self.read_to_close(&mut body, limit).await?;
                false
            }
        };
        if !complete || !head.keep_alive {
            self.close();
        } else if self.buf.is_empty() && self.buf.capacity() > KEEP_CAPACITY {
            self.buf = BytesMut::new();
        }
        Ok(Response {
            status: head.status,
            headers: head.headers,
            body,
        })
    }

    /// Copies `n` body bytes, keeping at most `limit` in `body`. `Ok(false)` when it stopped at
    /// the cap (the rest is left unread and the connection must close).
    async fn copy_body(
        &mut self,
        mut n: u64,
        body: &mut Vec<u8>,
        limit: usize,
    ) -> Result<bool, Error> {
        while n > 0 {
            if self.buf.is_empty() && !self.read_more().await? {
                return Err(Error::Closed);
            }
            let take = (self.buf.len() as u64).min(n) as usize;
            let room = limit.saturating_sub(body.len());
            body.extend_from_slice(&self.buf[..take.min(room)]);
            self.buf.advance(take);
            n -= take as u64;
            if take > room || (body.len() >= limit && n > 0) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// A line (chunk size or trailer) without its CRLF.
    async fn read_line(&mut self) -> Result<String, Error> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let line = self.buf.split_to(end + 1);
                let line = line.strip_suffix(b"\n").unwrap_or(&line);
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                return Ok(String::from_utf8_lossy(line).into_owned());
            }
            if self.buf.len() > MAX_LINE {
                return Err(Error::Invalid("chunk line over 4 KiB"));
            }
            if !self.read_more().await? {
                return Err(Error::Closed);
            }
        }
    }

    async fn read_chunked(&mut self, body: &mut Vec<u8>, limit: usize) -> Result<bool, Error> {
        loop {
            let line = self.read_line().await?;
            let size = line.split(';').next().unwrap_or_default().trim();
            let size =
                u64::from_str_radix(size, 16).map_err(|_| Error::Invalid("bad chunk size"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.read_line().await?.is_empty() {}
                return Ok(true);
            }
            if !self.copy_body(size, body, limit).await? {
                return Ok(false);
            }
            if !self.read_line().await?.is_empty() {
                return Err(Error::Invalid("chunk not followed by CRLF"));
            }
        }
    }

    async fn read_to_close(&mut self, body: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        loop {
            let room = limit.saturating_sub(body.len());
            let take = self.buf.len().min(room);
            body.extend_from_slice(&self.buf[..take]);
            self.buf.clear();
            if body.len() >= limit || !self.read_more().await? {
                return Ok(());
            }
        }
    }
}

/// The response head at the start of `buf`, if complete, and the bytes it used.
fn parse_head(buf: &[u8], head_only: bool) -> Result<Option<(usize, Head)>, Error> {
    if buf.is_empty() {
        return Ok(None);
    }
    // Most responses fit the small array (cheap to clear for every response); a response
    // with more headers is parsed again with room for the most we accept.
    let mut few = [httparse::EMPTY_HEADER; FEW_HEADERS];
    let mut many;
    let mut resp = httparse::Response::new(&mut few);
    let mut parsed = resp.parse(buf);
    if let Err(httparse::Error::TooManyHeaders) = parsed {
        many = [httparse::EMPTY_HEADER; MAX_HEADERS];
        resp = httparse::Response::new(&mut many);
        parsed = resp.parse(buf);
    }
    let used = match parsed {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(Error::Invalid("more than 100 headers"))
        }
        Err(_) => return Err(Error::Invalid("malformed status line or header")),
    };
    let status = resp.code.unwrap_or(0);
    let http10 = resp.version == Some(0);
    let mut headers = HeaderMap::with_capacity(resp.headers.len());
    let mut length: Option<u64> = None;
    let mut chunked = false;
    let mut encoded = false;
    let mut keep_alive = !http10;
    for h in resp.headers.iter() {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| Error::Invalid("header name"))?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| Error::Invalid("header value"))?;
        if name == reqwest::header::CONTENT_LENGTH {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .ok_or(Error::Invalid("bad Content-Length"))?;
            if length.is_some_and(|l| l != n) {
                return Err(Error::Invalid("conflicting Content-Length"));
            }
            length = Some(n);
        } else if name == reqwest::header::TRANSFER_ENCODING {
            encoded = true;
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|last| last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name == reqwest::header::CONNECTION {
            for token in h.value.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                if token.eq_ignore_ascii_case(b"close") {
                    keep_alive = false;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    keep_alive = true;
                }
            }
        }
        headers.append(name, value);
    }
    let framing = if head_only || (100..200).contains(&status) || status == 204 || status == 304 {
        Framing::None
    } else if encoded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    if matches!(framing, Framing::UntilClose) {
        keep_alive = false;
    }
    Ok(Some((
        used,
        Head {
            status,
            headers,
            framing,
            keep_alive,
        },
    )))
}

/// A reused connection the server closed while idle.
fn is_stale(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

#[cfg(test)]
mod tests;
