//! A WebSocket client that writes exactly the frames a test wants (fragments, bad
//! frames, nothing at all) and reads the server's frames as they come.

use std::net::SocketAddr;

use portico::protocol::wsframe::{self, OpCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::SOON;

/// A frame the server sent.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// A text frame.
    Text(String),
    /// A binary frame.
    Binary(Vec<u8>),
    /// A close frame: code and reason.
    Close(u16, String),
    /// Any control frame but close.
    Control(u8),
}

/// A WebSocket client that writes frames by hand.
pub struct RawWs {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Opens `path_and_query` on `addr`; panics unless the server answers 101.
    pub async fn connect(addr: SocketAddr, path_and_query: &str) -> RawWs {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let request = format!(
            "GET {path_and_query} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("write handshake");
        let mut buf = Vec::new();
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(SOON, stream.read(&mut chunk))
                .await
                .expect("handshake answered in time")
                .expect("read");
            assert!(n > 0, "connection closed during the handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "upgrade refused: {head}");
        RawWs {
            stream,
            buf: buf[end..].to_vec(),
        }
    }

    /// Sends one masked frame.
    pub async fn frame(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        let mut out = Vec::new();
        wsframe::encode(opcode, payload, &mut out);
        // The server encoder writes FIN and no mask: patch both in.
        let header_len = match out[1] & 0x7F {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        if !fin {
            out[0] &= 0x7F;
        }
        out[1] |= 0x80;
        let mask = [0x37, 0xfa, 0x21, 0x3d];
        let mut body = out.split_off(header_len);
        wsframe::unmask(&mut body, mask);
        out.extend_from_slice(&mask);
        out.extend_from_slice(&body);
        self.stream.write_all(&out).await.expect("write frame");
    }

    /// Sends a complete text message.
    pub async fn text(&mut self, text: &str) {
        self.frame(OpCode::Text, true, text.as_bytes()).await;
    }

    /// The next frame from the server, or `None` if the connection ended first.
    pub async fn recv(&mut self) -> Option<Received> {
        tokio::time::timeout(SOON, self.next())
            .await
            .expect("a frame within 5 s")
    }

    /// The next text frame, skipping nothing: panics on anything else.
    pub async fn recv_text(&mut self) -> String {
        match self.recv().await {
            Some(Received::Text(text)) => text,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }

    async fn next(&mut self) -> Option<Received> {
        loop {
            if let Some((received, used)) = parse_server_frame(&self.buf) {
                self.buf.drain(..used);
                return Some(received);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// One unmasked server frame at the start of `buf`, and its length.
fn parse_server_frame(buf: &[u8]) -> Option<(Received, usize)> {
    let [b0, b1, rest @ ..] = buf else { return None };
    let (len, ext) = match b1 & 0x7F {
        126 => (
            usize::from(u16::from_be_bytes([*rest.first()?, *rest.get(1)?])),
            2,
        ),
        127 => (u64::from_be_bytes(*rest.first_chunk::<8>()?) as usize, 8),
        n => (usize::from(n), 0),
    };
    let start = 2 + ext;
    let payload = buf.get(start..start + len)?;
    assert!(b0 & 0x80 != 0, "the server does not fragment");
    let received = match b0 & 0x0F {
        1 => Received::Text(String::from_utf8(payload.to_vec()).expect("UTF-8 text")),
        2 => Received::Binary(payload.to_vec()),
        8 => {
            let code = payload
                .first_chunk::<2>()
                .map_or(1005, |c| u16::from_be_bytes(*c));
            Received::Close(
                code,
                String::from_utf8_lossy(payload.get(2..).unwrap_or(&[])).into_owned(),
            )
        }
        op => Received::Control(op),
    };
    Some((received, start + len))
}
