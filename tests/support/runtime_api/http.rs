//! Just enough HTTP/1.1 for the Runtime API: keep-alive requests with a
//! Content-Length or chunked body, and replies with a JSON body.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub(super) struct Request {
    pub method: String,
    pub path: String,
    headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(super) type Stream = BufReader<TcpStream>;

/// Reads one HTTP/1.1 request (Content-Length or chunked body); `None` at EOF.
pub(super) async fn read_request(reader: &mut Stream) -> Option<Request> {
    let mut request = read_head(reader).await?;
    let chunked = request
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked(reader).await?;
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len.parse().ok()?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).await.ok()?;
        request.body = body;
    }
    Some(request)
}

/// The request line and the headers, up to the empty line.
async fn read_head(reader: &mut Stream) -> Option<Request> {
    let mut line = String::new();
    // Skip stray empty lines between requests.
    loop {
        line.clear();
        if reader.read_line(&mut line).await.ok()? == 0 {
            return None;
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await.ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    Some(Request {
        method,
        path,
        headers,
        body: Vec::new(),
    })
}

/// A chunked body, its trailers skipped.
async fn read_chunked(reader: &mut Stream) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        if reader.read_line(&mut size).await.ok()? == 0 {
            return None;
        }
        let size = usize::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let mut t = String::new();
                if reader.read_line(&mut t).await.ok()? == 0 || t.trim().is_empty() {
                    break;
                }
            }
            return Some(body);
        }
        let mut chunk = vec![0u8; size + 2];
        reader.read_exact(&mut chunk).await.ok()?;
        chunk.truncate(size);
        body.extend(chunk);
    }
}

pub(super) async fn reply(
    stream: &mut Stream,
    status: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> bool {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let out = stream.get_mut();
    out.write_all(head.as_bytes()).await.is_ok()
        && out.write_all(body).await.is_ok()
        && out.flush().await.is_ok()
}
