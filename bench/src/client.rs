//! A Socket.IO v5 client over an Engine.IO v4 websocket: just what the scenarios need,
//! written so that the load generator spends as little as possible per packet.
//!
//! It connects straight to the websocket transport (no polling, no upgrade), joins the
//! main namespace, sends events from caller-built text, and answers Engine.IO pings
//! while it reads.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket, WebSocketError};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};

/// Why a client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The TCP connection failed.
    #[error("connection failed: {0}")]
    Io(#[from] std::io::Error),
    /// The server did not switch to websocket.
    #[error("websocket handshake refused: {0}")]
    Handshake(String),
    /// A websocket-level error.
    #[error("websocket: {0}")]
    WebSocket(#[from] WebSocketError),
    /// The server spoke something this client does not expect.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server closed the connection.
    #[error("closed by the server")]
    Closed,
}

/// A packet for the caller: pings are answered inside [`Client::recv`].
#[derive(Debug)]
pub enum Incoming {
    /// An EVENT packet; the whole Socket.IO text, starting with `42`.
    Event(Payload<'static>),
    /// An ACK packet: its id and the whole Socket.IO text.
    Ack(u64, Payload<'static>),
}

/// One connected Socket.IO client on namespace `/`.
pub struct Client {
    ws: WebSocket<BufReader<TcpStream>>,
}

/// Small, so that after the handshake reads mostly bypass it.
const HANDSHAKE_BUFFER: usize = 512;

impl Client {
    /// Opens a websocket to `path` (like `/socket.io/`), from `source` when given, reads
    /// the Engine.IO open packet and connects to namespace `/`.
    pub async fn connect(
        addr: SocketAddr,
        source: Option<IpAddr>,
        path: &str,
    ) -> Result<Client, ClientError> {
        let tcp = match source {
            Some(ip) => {
                let socket = if ip.is_ipv4() {
                    TcpSocket::new_v4()?
                } else {
                    TcpSocket::new_v6()?
                };
                socket.bind(SocketAddr::new(ip, 0))?;
                socket.connect(addr).await?
            }
            None => TcpStream::connect(addr).await?,
        };
        tcp.set_nodelay(true)?;
        let mut stream = BufReader::with_capacity(HANDSHAKE_BUFFER, tcp);
        let mut request = String::with_capacity(256);
        let _ = write!(
            request,
            "GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        stream.get_mut().write_all(request.as_bytes()).await?;
        read_upgrade_response(&mut stream).await?;

        let mut ws = WebSocket::after_handshake(stream, Role::Client);
        ws.set_auto_pong(true);
        ws.set_auto_close(true);
        let mut client = Client { ws };
        let open = client.read_text().await?;
        if open.first() != Some(&b'0') {
            return Err(ClientError::Protocol(format!(
                "expected the Engine.IO open packet, got {:?}",
                String::from_utf8_lossy(&open)
            )));
        }
        client.send(&mut b"40".to_vec()).await?;
        loop {
            let text = client.read_text().await?;
            match text.get(..2) {
                Some(b"40") => return Ok(client),
                Some(b"44") => {
                    return Err(ClientError::Protocol(format!(
                        "connect refused: {}",
                        String::from_utf8_lossy(&text[2..])
                    )));
                }
                _ => continue,
            }
        }
    }

    /// Sends a Socket.IO packet; `text` is masked in place, so it is garbage afterwards.
    pub async fn send(&mut self, text: &mut [u8]) -> Result<(), ClientError> {
        self.ws
            .write_frame(Frame::text(Payload::BorrowedMut(text)))
            .await?;
        Ok(())
    }

    /// The next event or ack, answering pings on the way.
    pub async fn recv(&mut self) -> Result<Incoming, ClientError> {
        loop {
            let text = self.read_text().await?;
            match text.get(..2) {
                Some(b"42") => return Ok(Incoming::Event(text)),
                Some(b"43") => {
                    let id = leading_int(&text[2..]).ok_or_else(|| {
                        ClientError::Protocol(format!("ack without id: {:?}", String::from_utf8_lossy(&text)))
                    })?;
                    return Ok(Incoming::Ack(id, text));
                }
                Some(b"41") | Some(b"44") => return Err(ClientError::Closed),
                _ => continue,
            }
        }
    }

    /// The next text frame that is not a ping (pings are answered here).
    async fn read_text(&mut self) -> Result<Payload<'static>, ClientError> {
        loop {
            let frame: Frame<'static> = self.ws.read_frame().await?;
            match frame.opcode {
                OpCode::Text if !frame.fin => {
                    return Err(ClientError::Protocol(
                        "fragmented frames are not supported".into(),
                    ));
                }
                OpCode::Text => match frame.payload.first() {
                    Some(b'2') => self.send(&mut b"3".to_vec()).await?,
                    Some(b'1') => return Err(ClientError::Closed),
                    Some(_) => return Ok(frame.payload),
                    None => continue,
                },
                OpCode::Close => return Err(ClientError::Closed),
                _ => continue,
            }
        }
    }
}

/// Reads the HTTP response up to its blank line; anything after it stays buffered for
/// the websocket.
async fn read_upgrade_response(stream: &mut BufReader<TcpStream>) -> Result<(), ClientError> {
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    if !line.starts_with("HTTP/1.1 101") {
        return Err(ClientError::Handshake(line.trim_end().to_owned()));
    }
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(ClientError::Closed);
        }
        if line == "\r\n" {
            return Ok(());
        }
    }
}

/// Source addresses to spread the `i`th connection to a loopback server over, so that
/// no source address runs short of ephemeral ports: with one source, `connect()` spends
/// ever longer finding a free port as connections pile up (the kernel scans the port
/// range), and an idle-connections run measures that scan instead of the server.
pub fn loopback_source(server: SocketAddr, i: usize) -> Option<IpAddr> {
    const SOURCES: usize = 64;
    match server.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => {
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1 + (i % SOURCES) as u8)))
        }
        _ => None,
    }
}

/// The unsigned integer at the start of `bytes`.
pub fn leading_int(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 {
        return None;
    }
    bytes[..digits]
        .iter()
        .try_fold(0u64, |n, &d| n.checked_mul(10)?.checked_add(u64::from(d - b'0')))
}

/// The unsigned integer value of the first `"key":` in a JSON text, found by scanning
/// (no parse: the load generator reads every delivery of a fan-out).
pub fn int_field(json: &[u8], key: &[u8]) -> Option<u64> {
    let at = json.windows(key.len()).position(|w| w == key)?;
    leading_int(&json[at + key.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_int_reads_digits_only() {
        assert_eq!(leading_int(b"123[\"x\"]"), Some(123));
        assert_eq!(leading_int(b"0"), Some(0));
        assert_eq!(leading_int(b"[1]"), None);
        assert_eq!(leading_int(b""), None);
        assert_eq!(leading_int(b"99999999999999999999"), None);
    }

    #[test]
    fn loopback_servers_get_spread_sources() {
        let local = SocketAddr::from(([127, 0, 0, 1], 3000));
        assert_eq!(
            loopback_source(local, 0),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 1)))
        );
        assert_eq!(
            loopback_source(local, 65),
            Some(IpAddr::V4(Ipv4Addr::new(127, 0, 1, 2)))
        );
        assert_eq!(loopback_source(SocketAddr::from(([10, 0, 0, 1], 3000)), 0), None);
    }

    #[test]
    fn int_field_finds_the_first_key() {
        let text = br#"42["msg",{"s":3,"t":123456789,"p":"xx"}]"#;
        assert_eq!(int_field(text, br#""s":"#), Some(3));
        assert_eq!(int_field(text, br#""t":"#), Some(123_456_789));
        assert_eq!(int_field(text, br#""q":"#), None);
    }
}
