//! Real listeners on loopback addresses behind the records, behaving as a test
//! asks when health-checked.

use std::net::{Ipv4Addr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::Estate;

/// How a target behaves when health-checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    /// Answers every request with HTTP 500.
    Http500,
    /// Accepts connections and never answers.
    Hang,
    /// Nothing listens.
    Closed,
}

async fn serve(listener: TcpListener, behaviour: Behaviour) {
    let mut hung = Vec::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        match behaviour {
            Behaviour::Hang => hung.push(stream),
            Behaviour::Healthy | Behaviour::Http500 => {
                tokio::spawn(answer(stream, behaviour == Behaviour::Healthy));
            }
            Behaviour::Closed => return,
        }
    }
}

/// Reads a request and answers it with HTTP 200 (`healthy`) or 500, then closes.
async fn answer(mut stream: TcpStream, healthy: bool) {
    let mut buf = [0u8; 2048];
    let _ = stream.read(&mut buf).await;
    let status = if healthy {
        "200 OK"
    } else {
        "500 Internal Server Error"
    };
    let reply = format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

impl Estate<'_> {
    /// A real listener at ip:port behaving as `behaviour` until the estate is dropped.
    pub async fn listen(&mut self, ip: Ipv4Addr, port: u16, behaviour: Behaviour) {
        if behaviour == Behaviour::Closed {
            return;
        }
        let listener = TcpListener::bind(SocketAddr::from((ip, port)))
            .await
            .unwrap_or_else(|e| panic!("bind {ip}:{port}: {e}"));
        self.listeners
            .push(tokio::spawn(serve(listener, behaviour)));
    }
}
