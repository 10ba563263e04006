//! A Socket.IO v5 client over an Engine.IO v4 websocket: just what the scenarios need,
//! written so that the load generator spends as little as possible per packet.
//!
//! It connects straight to the websocket transport (no polling, no upgrade), joins the
//! main namespace, sends events from caller-built text, and answers Engine.IO pings
//! while it reads. It can offer permessage-deflate (as a browser does) and inflate what
//! the server compresses; it counts the bytes it reads off the wire either way.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Interest};
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
    /// The server broke the websocket framing.
    #[error("websocket: {0}")]
    Frame(String),
    /// The server spoke something this client does not expect.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server closed the connection.
    #[error("closed by the server")]
    Closed,
}

/// The offer a browser (and Node's `ws`) makes.
const DEFLATE_OFFER: &str = "permessage-deflate; client_max_window_bits";
/// What ends every compressed message, left off on the wire (RFC 7692 §7.2.1).
const DEFLATE_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// A packet for the caller: pings are answered inside [`Client::recv`].
#[derive(Debug)]
pub enum Incoming {
    /// An EVENT packet; the whole Socket.IO text, starting with `42`.
    Event(BytesMut),
    /// An ACK packet: its id and the whole Socket.IO text.
    Ack(u64, BytesMut),
}

/// One connected Socket.IO client on namespace `/`.
///
/// Frames are read and written here rather than through a websocket library, for two
/// reasons that matter to a load generator: the read buffer is cleared of readiness
/// after a short read (no second `recv` per message just to hear "would block"), and
/// each frame is one `send`.
pub struct Client {
    stream: TcpStream,
    /// Bytes read and not yet decoded.
    buf: BytesMut,
    /// A frame being written: header, then the masked payload.
    out: Vec<u8>,
    /// Answers to pings that the socket did not take at once; written before the next
    /// frame sent. Reading never waits to write, so [`Client::recv`] is cancel-safe.
    replies: Vec<u8>,
    /// Inflates compressed frames, when the server agreed to permessage-deflate.
    inflater: Option<flate2::Decompress>,
    /// Bytes read off the wire since the websocket opened.
    wire_bytes: u64,
}

/// Read buffer growth step.
const READ_CHUNK: usize = 8192;
/// Largest frame accepted from a server.
const MAX_FRAME: usize = 64 << 20;
/// The masking key of every frame this client sends (RFC 6455 §5.3 asks browsers for
/// unpredictable keys, against proxy cache poisoning; a load generator on loopback
/// only needs masked frames).
const MASK: [u8; 4] = [0x5a, 0xa5, 0x3c, 0xc3];

impl Client {
    /// Opens a websocket to `path` (like `/socket.io/`), from `source` when given, reads
    /// the Engine.IO open packet and connects to namespace `/`. With `deflate` it offers
    /// permessage-deflate, and fails unless the server agrees.
    pub async fn connect(
        addr: SocketAddr,
        source: Option<IpAddr>,
        path: &str,
        deflate: bool,
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
        let mut stream = BufReader::with_capacity(1024, tcp);
        let mut request = String::with_capacity(256);
        let _ = write!(
            request,
            "GET {path}?EIO=4&transport=websocket HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n"
        );
        if deflate {
            let _ = write!(request, "Sec-WebSocket-Extensions: {DEFLATE_OFFER}\r\n");
        }
        request.push_str("\r\n");
        stream.get_mut().write_all(request.as_bytes()).await?;
        let agreed = read_upgrade_response(&mut stream).await?;
        if deflate && !agreed {
            return Err(ClientError::Handshake(
                "permessage-deflate offered and not agreed".into(),
            ));
        }
        let buf = BytesMut::from(stream.buffer());
        let mut client = Client {
            stream: stream.into_inner(),
            wire_bytes: buf.len() as u64,
            buf,
            out: Vec::with_capacity(256),
            replies: Vec::new(),
            inflater: agreed.then(|| flate2::Decompress::new(false)),
        };
        let open = client.read_text().await?;
        if open.first() != Some(&b'0') {
            return Err(ClientError::Protocol(format!(
                "expected the Engine.IO open packet, got {:?}",
                String::from_utf8_lossy(&open)
            )));
        }
        client.send(b"40").await?;
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

    /// Bytes read off the wire since the websocket opened (compressed ones as they came).
    pub fn wire_bytes(&self) -> u64 {
        self.wire_bytes
    }

    /// Sends a Socket.IO packet as one masked text frame.
    pub async fn send(&mut self, text: &[u8]) -> Result<(), ClientError> {
        self.write_frame(0x1, text).await
    }

    async fn write_frame(&mut self, opcode: u8, payload: &[u8]) -> Result<(), ClientError> {
        if !self.replies.is_empty() {
            self.stream.write_all(&self.replies).await?;
            self.replies.clear();
        }
        self.out.clear();
        encode_frame(opcode, payload, &mut self.out);
        self.stream.write_all(&self.out).await?;
        Ok(())
    }

    /// Answers a ping without waiting: what the socket does not take now waits in
    /// `replies` for the next [`Client::send`].
    fn reply(&mut self, opcode: u8, payload: &[u8]) -> Result<(), ClientError> {
        let start = self.replies.len();
        encode_frame(opcode, payload, &mut self.replies);
        if start > 0 {
            return Ok(());
        }
        match self.stream.try_write(&self.replies) {
            Ok(n) => {
                self.replies.drain(..n);
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// The next event or ack, answering pings on the way. Cancel-safe: dropping the
    /// future loses nothing (bytes read stay buffered, ping answers are queued).
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

    /// The next text frame that is not an Engine.IO ping (those are answered here).
    async fn read_text(&mut self) -> Result<BytesMut, ClientError> {
        loop {
            let (opcode, payload) = self.read_frame().await?;
            match opcode {
                0x1 => match payload.first() {
                    Some(b'2') => self.reply(0x1, b"3")?,
                    Some(b'1') => return Err(ClientError::Closed),
                    Some(_) => return Ok(payload),
                    None => continue,
                },
                0x8 => return Err(ClientError::Closed),
                0x9 => self.reply(0xA, &payload)?,
                _ => continue,
            }
        }
    }

    /// The next whole (unfragmented) frame: opcode and payload, inflated when it came
    /// compressed.
    async fn read_frame(&mut self) -> Result<(u8, BytesMut), ClientError> {
        loop {
            if let Some((first, header, len)) = frame_header(&self.buf, self.inflater.is_some())? {
                if self.buf.len() >= header + len {
                    let mut frame = self.buf.split_to(header + len);
                    frame.advance(header);
                    let opcode = first & 0x0F;
                    if first & 0x40 != 0 {
                        return Ok((opcode, self.inflate(&frame)?));
                    }
                    return Ok((opcode, frame));
                }
                self.buf.reserve(header + len - self.buf.len());
            }
            self.fill().await?;
        }
    }

    /// A compressed message's payload, inflated (the server keeps no context between
    /// messages, and neither does this client's inflater need to: it keeps it anyway,
    /// as RFC 7692 lets a server that agreed to context takeover rely on).
    fn inflate(&mut self, compressed: &[u8]) -> Result<BytesMut, ClientError> {
        let inflater = self
            .inflater
            .as_mut()
            .ok_or_else(|| ClientError::Frame("a compressed frame without permessage-deflate".into()))?;
        let mut out = Vec::with_capacity(compressed.len() * 4 + 64);
        for mut input in [compressed, &DEFLATE_TAIL[..]] {
            loop {
                if out.len() == out.capacity() {
                    out.reserve(out.capacity());
                }
                let before = inflater.total_in();
                inflater
                    .decompress_vec(input, &mut out, flate2::FlushDecompress::Sync)
                    .map_err(|e| ClientError::Frame(format!("inflate: {e}")))?;
                input = &input[(inflater.total_in() - before) as usize..];
                if input.is_empty() && out.len() < out.capacity() {
                    break;
                }
                if out.len() > MAX_FRAME {
                    return Err(ClientError::Frame("inflated past the frame limit".into()));
                }
            }
        }
        Ok(BytesMut::from(&out[..]))
    }

    /// Waits for bytes and reads them; a short read clears the socket's readiness (see
    /// the type's docs).
    async fn fill(&mut self) -> Result<(), ClientError> {
        loop {
            self.stream.readable().await?;
            if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
                self.buf.reserve(READ_CHUNK);
            }
            let room = self.buf.capacity() - self.buf.len();
            let (stream, buf) = (&self.stream, &mut self.buf);
            let mut read = None;
            let result = stream.try_io(Interest::READABLE, || {
                let n = stream.try_read_buf(buf)?;
                read = Some(n);
                if n > 0 && n < room {
                    Err(std::io::ErrorKind::WouldBlock.into())
                } else {
                    Ok(n)
                }
            });
            match (read, result) {
                (Some(0), _) => return Err(ClientError::Closed),
                (Some(n), _) => {
                    self.wire_bytes += n as u64;
                    return Ok(());
                }
                (None, Err(err)) if err.kind() == std::io::ErrorKind::WouldBlock => continue,
                (None, Err(err)) => return Err(err.into()),
                (None, Ok(_)) => continue,
            }
        }
    }
}

/// Appends a masked client frame (RFC 6455 §5.2) to `out`.
fn encode_frame(opcode: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(0x80 | opcode);
    match payload.len() {
        len @ 0..=125 => out.push(0x80 | len as u8),
        len @ 126..=65_535 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
}

/// A server frame's first byte (opcode and RSV1), header length and payload length,
/// once the header is in. RSV1 only with `deflate`.
fn frame_header(buf: &[u8], deflate: bool) -> Result<Option<(u8, usize, usize)>, ClientError> {
    let [b0, b1, rest @ ..] = buf else { return Ok(None) };
    if b0 & 0x80 == 0 {
        return Err(ClientError::Frame("fragmented frames are not supported".into()));
    }
    if b0 & 0x30 != 0 || (b0 & 0x40 != 0 && !deflate) {
        return Err(ClientError::Frame("reserved bits set".into()));
    }
    if b1 & 0x80 != 0 {
        return Err(ClientError::Frame("server frames must not be masked".into()));
    }
    let (len, header) = match b1 & 0x7F {
        126 => match rest {
            [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 4),
            _ => return Ok(None),
        },
        127 => match rest.first_chunk::<8>() {
            Some(bytes) => (u64::from_be_bytes(*bytes), 10),
            None => return Ok(None),
        },
        short => (u64::from(short), 2),
    };
    if len > MAX_FRAME as u64 {
        return Err(ClientError::Frame(format!("{len}-byte frame")));
    }
    Ok(Some((b0 & 0x4F, header, len as usize)))
}

/// Reads the HTTP response up to its blank line (anything after it stays buffered for
/// the websocket); whether it agreed to permessage-deflate.
async fn read_upgrade_response(stream: &mut BufReader<TcpStream>) -> Result<bool, ClientError> {
    let mut line = String::new();
    stream.read_line(&mut line).await?;
    if !line.starts_with("HTTP/1.1 101") {
        return Err(ClientError::Handshake(line.trim_end().to_owned()));
    }
    let mut deflate = false;
    loop {
        line.clear();
        if stream.read_line(&mut line).await? == 0 {
            return Err(ClientError::Closed);
        }
        if line == "\r\n" {
            return Ok(deflate);
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("sec-websocket-extensions:") && lower.contains("permessage-deflate") {
            deflate = true;
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

/// Finds the unsigned integer value of the first `"key":` in a JSON text by scanning,
/// without a parse: the load generator reads every delivery of a fan-out. The search is
/// memchr's vectorised `memmem`, its searcher built once: a byte-by-byte window
/// compare cost more than half of the generator's core in the fan-out (servers put the
/// padding first, as their JSON maps sort keys), and building the searcher per call
/// a fifth.
#[derive(Debug, Clone)]
pub struct IntField(memchr::memmem::Finder<'static>);

impl IntField {
    /// A finder for `key`, quotes and colon included (`"s":`).
    pub fn new(key: &'static [u8]) -> IntField {
        IntField(memchr::memmem::Finder::new(key))
    }

    /// The value after the first occurrence of the key, if it is an unsigned integer.
    pub fn get(&self, json: &[u8]) -> Option<u64> {
        let at = self.0.find(json)?;
        leading_int(&json[at + self.0.needle().len()..])
    }
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
    fn server_frame_headers_of_every_length_form() {
        assert_eq!(
            frame_header(&[0x81, 5, b'h'], false).expect("a well-formed header"),
            Some((1, 2, 5))
        );
        assert_eq!(
            frame_header(&[0x81, 126, 1, 0], false).expect("a well-formed header"),
            Some((1, 4, 256))
        );
        assert_eq!(
            frame_header(&[0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0], false).expect("a well-formed header"),
            Some((2, 10, 65_536))
        );
        assert_eq!(frame_header(&[0x81], false).expect("a well-formed header"), None);
        assert_eq!(
            frame_header(&[0x81, 126, 1], false).expect("a well-formed header"),
            None
        );
        assert!(frame_header(&[0x01, 1], false).is_err(), "fragment");
        assert!(frame_header(&[0x81, 0x81], false).is_err(), "masked");
        assert!(frame_header(&[0xC1, 1], false).is_err(), "RSV1 without deflate");
        assert_eq!(
            frame_header(&[0xC1, 5], true).expect("RSV1 with deflate"),
            Some((0x41, 2, 5))
        );
    }

    #[test]
    fn client_frames_are_masked_in_every_length_form() {
        for (len, header) in [(5usize, 2usize), (300, 4), (70_000, 10)] {
            let payload = vec![b'a'; len];
            let mut out = Vec::new();
            encode_frame(0x1, &payload, &mut out);
            assert_eq!(out.len(), header + 4 + len, "len {len}");
            assert_eq!(out[0], 0x81);
            assert_ne!(out[1] & 0x80, 0, "the mask bit is set");
            let key = &out[header..header + 4];
            let unmasked: Vec<u8> = out[header + 4..]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ key[i % 4])
                .collect();
            assert_eq!(unmasked, payload, "len {len}");
        }
    }

    #[test]
    fn int_field_finds_the_first_key() {
        let text = br#"42["msg",{"s":3,"t":123456789,"p":"xx"}]"#;
        assert_eq!(IntField::new(br#""s":"#).get(text), Some(3));
        assert_eq!(IntField::new(br#""t":"#).get(text), Some(123_456_789));
        assert_eq!(IntField::new(br#""q":"#).get(text), None);
        assert_eq!(IntField::new(br#""p":"#).get(text), None, "not a number");
    }
}
