//! The lean transport against scripted servers on real loopback TCP: each accepted connection
//! answers its requests with the given bytes, then closes (or holds the connection open).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

/// What one accepted connection does: answers each request with the next reply, then closes,
/// or (`hold`) waits for the client to close.
struct Script {
    replies: Vec<&'static [u8]>,
    hold: bool,
}

fn answer(replies: &[&'static [u8]]) -> Script {
    Script {
        replies: replies.to_vec(),
        hold: true,
    }
}

fn answer_then_close(replies: &[&'static [u8]]) -> Script {
    Script {
        replies: replies.to_vec(),
        hold: false,
    }
}

/// The server's view: every request it read, by connection.
type Seen = Arc<Mutex<Vec<Vec<String>>>>;

async fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1024];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < end + 4 + len {
                let n = s.read(&mut b).await.ok()?;
                if n == 0 {
                    return None;
                }
                buf.extend_from_slice(&b[..n]);
            }
            return Some(String::from_utf8_lossy(&buf).into_owned());
        }
        let n = s.read(&mut b).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
}

async fn serve(scripts: Vec<Script>) -> (Origin, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    let seen: Seen = Arc::default();
    let s2 = seen.clone();
    tokio::spawn(async move {
        for script in scripts {
            let (mut s, _) = listener.accept().await.unwrap();
            s2.lock().unwrap().push(Vec::new());
            let seen = s2.clone();
            tokio::spawn(async move {
                for reply in script.replies {
                    let Some(req) = read_request(&mut s).await else {
                        return;
                    };
                    seen.lock().unwrap().last_mut().unwrap().push(req);
                    s.write_all(reply).await.unwrap();
                }
                if script.hold {
                    let mut sink = [0u8; 64];
                    while matches!(s.read(&mut sink).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    (Origin::of(&url).unwrap(), seen)
}

async fn send(
    conn: &mut Conn,
    origin: &Origin,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    limit: usize,
) -> Result<Response, Error> {
    let headers = HeaderMap::new();
    let req = Request {
        method,
        target,
        headers: &headers,
        body,
    };
    conn.send(origin, &req, limit).await
}

/// `send` that must succeed.
async fn fetch(
    conn: &mut Conn,
    origin: &Origin,
    method: &str,
    target: &str,
    body: Option<&[u8]>,
    limit: usize,
) -> Response {
    send(conn, origin, method, target, body, limit)
        .await
        .unwrap_or_else(|e| panic!("{method} {target}: {e}"))
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-cache: hit\r\n\r\nok";

#[tokio::test]
async fn keeps_one_connection_alive_across_requests() {
    let (origin, seen) = serve(vec![answer(&[OK, OK, OK])]).await;
    let mut conn = Conn::default();
    for _ in 0..3 {
        let r = fetch(&mut conn, &origin, "GET", "/health", None, 1024).await;
        assert_eq!((r.status, r.body.as_slice()), (200, b"ok".as_slice()));
        assert_eq!(r.headers["x-cache"], "hit");
    }
    assert!(conn.is_open());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "one connection");
    assert_eq!(seen[0].len(), 3);
}

#[tokio::test]
async fn writes_a_well_formed_request_head() {
    let (origin, seen) = serve(vec![answer(&[OK, OK])]).await;
    let mut conn = Conn::default();
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("authorization", HeaderValue::from_static("Bearer abc"));
    let req = Request {
        method: "POST",
        target: "/api/v1/auth/login?x=1",
        headers: &headers,
        body: Some(br#"{"a":1}"#),
    };
    conn.send(&origin, &req, 1024).await.unwrap();
    fetch(&mut conn, &origin, "POST", "/empty", None, 1024).await;
    let seen = seen.lock().unwrap();
    let first = &seen[0][0];
    assert!(
        first.starts_with("POST /api/v1/auth/login?x=1 HTTP/1.1\r\n"),
        "{first}"
    );
    let port = origin.port;
    assert!(
        first.contains(&format!("\r\nhost: 127.0.0.1:{port}\r\n")),
        "{first}"
    );
    assert!(
        first.contains("\r\ncontent-type: application/json\r\n"),
        "{first}"
    );
    assert!(
        first.contains("\r\nauthorization: Bearer abc\r\n"),
        "{first}"
    );
    assert!(first.contains("\r\ncontent-length: 7\r\n"), "{first}");
    assert!(first.ends_with("\r\n\r\n{\"a\":1}"), "{first}");
    assert!(
        seen[0][1].contains("\r\ncontent-length: 0\r\n"),
        "{}",
        seen[0][1]
    );
}

#[tokio::test]
async fn a_body_bigger_than_a_read_is_sent_whole() {
    let (origin, seen) = serve(vec![answer(&[OK])]).await;
    let body = vec![b'x'; 100_000];
    let mut conn = Conn::default();
    fetch(&mut conn, &origin, "PUT", "/big", Some(&body), 1024).await;
    let seen = seen.lock().unwrap();
    assert!(seen[0][0].ends_with(&"x".repeat(100_000)));
}

#[tokio::test]
async fn decodes_chunked_bodies_with_extensions_and_trailers() {
    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nWiki\r\n5\r\npedia\r\n0\r\nx-trailer: t\r\n\r\n";
    let (origin, seen) = serve(vec![answer(&[CHUNKED, OK])]).await;
    let mut conn = Conn::default();
    let r = fetch(&mut conn, &origin, "GET", "/c", None, 1024).await;
    assert_eq!(r.body, b"Wikipedia");
    // The connection stays usable: the trailer was consumed.
    let r = fetch(&mut conn, &origin, "GET", "/c", None, 1024).await;
    assert_eq!(r.body, b"ok");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn caps_the_body_and_closes_the_connection() {
    const BIG: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n";
    static BIG_WITH_SOME: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let reply = BIG_WITH_SOME.get_or_init(|| [BIG, &[b'y'; 5000][..]].concat());
    let (origin, seen) = serve(vec![answer(&[reply.as_slice()]), answer(&[OK])]).await;
    let mut conn = Conn::default();
    let r = fetch(&mut conn, &origin, "GET", "/big", None, 100).await;
    assert_eq!(r.body, vec![b'y'; 100]);
    assert!(
        !conn.is_open(),
        "the rest was left unread: the connection cannot be reused"
    );
    let r = fetch(&mut conn, &origin, "GET", "/next", None, 100).await;
    assert_eq!(r.body, b"ok");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn reads_until_close_without_a_length() {
    const HTTP10: &[u8] = b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    let (origin, _) = serve(vec![answer_then_close(&[HTTP10])]).await;
    let mut conn = Conn::default();
    let r = fetch(&mut conn, &origin, "GET", "/", None, 1024).await;
    assert_eq!(r.body, b"until the end");
    assert!(!conn.is_open());
}

#[tokio::test]
async fn connection_close_is_honoured() {
    const CLOSE: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 2\r\n\r\nok";
    let (origin, seen) = serve(vec![answer(&[CLOSE]), answer(&[OK])]).await;
    let mut conn = Conn::default();
    fetch(&mut conn, &origin, "GET", "/", None, 1024).await;
    assert!(!conn.is_open());
    fetch(&mut conn, &origin, "GET", "/", None, 1024).await;
    assert_eq!(seen.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_keep_alive_connection_closed_by_the_server_is_replaced_once() {
    // The first connection answers once and closes without saying so.
    let (origin, seen) = serve(vec![answer_then_close(&[OK]), answer(&[OK])]).await;
    let mut conn = Conn::default();
    fetch(&mut conn, &origin, "GET", "/1", None, 1024).await;
    let r = fetch(&mut conn, &origin, "POST", "/2", Some(b"{}"), 1024).await;
    assert_eq!(r.status, 200);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[1][0].starts_with("POST /2 "),
        "resent on the new connection"
    );
}

#[tokio::test]
async fn a_fresh_connection_closed_before_answering_is_an_error() {
    let (origin, _) = serve(vec![answer_then_close(&[])]).await;
    let mut conn = Conn::default();
    let e = send(&mut conn, &origin, "GET", "/", None, 1024)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Closed | Error::Io(_)), "{e:?}");
    assert_eq!(e.class(), "other");
}

#[tokio::test]
async fn skips_interim_responses() {
    const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
    let (origin, _) = serve(vec![answer(&[CONTINUE])]).await;
    let mut conn = Conn::default();
    let r = fetch(&mut conn, &origin, "POST", "/", Some(b"x"), 1024).await;
    assert_eq!(r.status, 201);
    assert!(
        r.headers.get("link").is_none(),
        "the interim headers are not the response's"
    );
}

#[tokio::test]
async fn many_headers_are_read_and_too_many_refused() {
    static REPLIES: std::sync::OnceLock<(Vec<u8>, Vec<u8>)> = std::sync::OnceLock::new();
    let (many, too_many) = REPLIES.get_or_init(|| {
        let with = |n: usize| {
            let headers: String = (0..n).map(|i| format!("x-h{i}: {i}\r\n")).collect();
            format!("HTTP/1.1 200 OK\r\n{headers}content-length: 2\r\n\r\nok").into_bytes()
        };
        (with(60), with(120))
    });
    let (origin, _) = serve(vec![answer(&[many.as_slice(), too_many.as_slice()])]).await;
    let mut conn = Conn::default();
    let r = fetch(&mut conn, &origin, "GET", "/", None, 64).await;
    assert_eq!(r.headers.len(), 61);
    assert_eq!(r.headers["x-h59"], "59");
    let e = send(&mut conn, &origin, "GET", "/", None, 64)
        .await
        .unwrap_err();
    assert!(
        matches!(e, Error::Invalid("more than 100 headers")),
        "{e:?}"
    );
}

#[tokio::test]
async fn head_and_204_and_304_have_no_body() {
    const HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n";
    const NO_CONTENT: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\n";
    const NOT_MODIFIED: &[u8] = b"HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n";
    let (origin, seen) = serve(vec![answer(&[HEAD, NO_CONTENT, NOT_MODIFIED, OK])]).await;
    let mut conn = Conn::default();
    assert!(fetch(&mut conn, &origin, "HEAD", "/", None, 64)
        .await
        .body
        .is_empty());
    assert_eq!(
        fetch(&mut conn, &origin, "DELETE", "/", None, 64)
            .await
            .status,
        204
    );
    assert_eq!(
        fetch(&mut conn, &origin, "GET", "/", None, 64).await.status,
        304
    );
    assert_eq!(
        fetch(&mut conn, &origin, "GET", "/", None, 64).await.body,
        b"ok"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn hostile_responses_are_errors_not_panics() {
    const CASES: &[&[u8]] = &[
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nffffffffffffffffffff\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    ];
    for case in CASES {
        let (origin, _) = serve(vec![answer(&[case])]).await;
        let mut conn = Conn::default();
        let e = send(&mut conn, &origin, "GET", "/", None, 64)
            .await
            .unwrap_err();
        assert!(
            matches!(e, Error::Invalid(_)),
            "{e:?} for {}",
            String::from_utf8_lossy(case)
        );
        assert!(!conn.is_open());
    }
}

#[tokio::test]
async fn a_huge_chunk_is_capped_not_buffered() {
    // A chunk announcing 1 TiB: the body stops at the cap and memory stays small.
    static REPLY: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let reply = REPLY.get_or_init(|| {
        [
            &b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n10000000000\r\n"[..],
            &[b'z'; 4096],
        ]
        .concat()
    });
    let (origin, _) = serve(vec![answer(&[reply.as_slice()])]).await;
    let mut conn = Conn::default();
    let r = fetch(&mut conn, &origin, "GET", "/", None, 1000).await;
    assert_eq!(r.body.len(), 1000);
    assert!(!conn.is_open());
}

#[tokio::test]
async fn a_cancelled_exchange_never_leaves_its_response_for_the_next() {
    // The first connection reads the request and never answers; the send is dropped.
    let (origin, seen) = serve(vec![answer(&[]), answer(&[OK])]).await;
    let mut conn = Conn::default();
    let cancelled = tokio::time::timeout(
        Duration::from_millis(50),
        send(&mut conn, &origin, "GET", "/slow", None, 64),
    )
    .await;
    assert!(cancelled.is_err(), "the first connection never answers");
    let r = fetch(&mut conn, &origin, "GET", "/next", None, 64).await;
    assert_eq!(r.body, b"ok");
    assert_eq!(seen.lock().unwrap().len(), 2, "a new connection");
}

#[tokio::test]
async fn refused_connections_are_the_connect_class() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = url::Url::parse(&format!("http://{}", listener.local_addr().unwrap())).unwrap();
    drop(listener);
    let mut conn = Conn::default();
    let e = send(&mut conn, &Origin::of(&url).unwrap(), "GET", "/", None, 64)
        .await
        .unwrap_err();
    assert_eq!(e.class(), "connect");
}

#[test]
fn origins_and_host_headers() {
    let o = |u: &str| Origin::of(&url::Url::parse(u).unwrap());
    assert_eq!(
        o("http://127.0.0.1:8080/x").unwrap().host_header,
        "127.0.0.1:8080"
    );
    assert_eq!(o("http://[::1]:9/").unwrap().host_header, "[::1]:9");
    assert_eq!(o("http://[::1]:9/").unwrap().host, "::1");
    assert_eq!(o("http://localhost/").unwrap().host_header, "localhost");
    assert_eq!(o("http://localhost/").unwrap().port, 80);
    assert!(o("https://localhost/").is_none());
    let origin = o("http://127.0.0.1:8080").unwrap();
    assert!(origin.holds(&url::Url::parse("http://127.0.0.1:8080/a?b").unwrap()));
    assert!(!origin.holds(&url::Url::parse("http://127.0.0.1:8081/a").unwrap()));
    assert!(!origin.holds(&url::Url::parse("http://evil.example/a").unwrap()));
    assert!(!origin.holds(&url::Url::parse("http://127.0.0.2:8080/a").unwrap()));
    let v6 = o("http://[::1]:9").unwrap();
    assert!(v6.holds(&url::Url::parse("http://[::1]:9/x").unwrap()));
    assert!(!v6.holds(&url::Url::parse("http://[::2]:9/x").unwrap()));
    let named = o("http://localhost").unwrap();
    assert!(named.holds(&url::Url::parse("http://LOCALHOST:80/x").unwrap()));
    assert!(!named.holds(&url::Url::parse("http://localhost:81/x").unwrap()));
}
