//! WebSocket IO shared by the Engine.IO transport and the native endpoint.
//!
//! Both halves work on the connection's own `TcpStream`, taken back from hyper after
//! the upgrade. Reading decodes frames with [`wsframe::decode_header`] from a buffer
//! that exists only while bytes are waiting: an idle connection holds no read buffer.
//! Writing bypasses any framing layer: one writer per connection drains every queued
//! item into a single buffer of pre-encoded frames and hands the kernel one write.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio_util::sync::CancellationToken;

use crate::compression::Deflate;
use crate::outbound::{Outbound, Receiver, SharedFrame};
use crate::protocol::engineio::Frame;
use crate::protocol::wsframe::deflate::{InflateError, Inflater};
use crate::protocol::wsframe::{self, DecodeError, OpCode};
use crate::reason::DisconnectReason;

/// The write half of an upgraded WebSocket connection.
pub type WsWrite = OwnedWriteHalf;

/// Stop appending to a batch past this many bytes, so one write stays bounded.
const BATCH_BYTES: usize = 256 * 1024;
/// A write buffer grown past this is given back after its batch.
const KEEP_WRITE_BUFFER: usize = 64 * 1024;
/// A batch deque grown past this many items is given back once empty.
const KEEP_BATCH_ITEMS: usize = 256;
/// Bytes asked of the kernel per read.
const READ_CHUNK: usize = 4096;
/// How long a closing writer tries to deliver its close frame.
pub const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// A message read from a client.
#[derive(Debug)]
pub enum Incoming {
    /// A complete text message.
    Text(String),
    /// A complete binary message.
    Binary(Bytes),
    /// A ping control frame, with its payload: answer with [`pong`].
    Ping(BytesMut),
    /// A pong control frame.
    Pong,
    /// The client sent a close frame (the writer's close frame answers it).
    Close,
}

/// The pong frame that answers a ping with `payload`, for the connection's queue
/// ([`Outbound::WsControl`]).
pub fn pong(payload: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(2 + payload.len());
    wsframe::encode(OpCode::Pong, payload, &mut frame);
    Bytes::from(frame)
}

/// Why reading failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A message exceeded the configured maximum payload.
    #[error("message larger than the {0}-byte limit")]
    TooLarge(usize),
    /// A text message was not UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// The peer broke the WebSocket framing.
    #[error("websocket: {0}")]
    Frame(#[from] DecodeError),
    /// A continuation without a message to continue, or a new message inside one.
    #[error("websocket: fragments out of order")]
    Fragments,
    /// A compressed message that does not inflate.
    #[error("permessage-deflate: {0}")]
    Inflate(InflateError),
    /// The connection ended or failed.
    #[error("connection: {0}")]
    Io(#[from] std::io::Error),
    /// The peer closed the connection without a close frame.
    #[error("connection closed")]
    Eof,
}

impl ReadError {
    /// The disconnect reason this error means for the connection.
    pub fn reason(&self) -> DisconnectReason {
        match self {
            ReadError::Io(_) | ReadError::Eof => DisconnectReason::TransportClose,
            _ => DisconnectReason::TransportError,
        }
    }
}

/// Why an upgraded connection cannot be served.
#[derive(Debug, thiserror::Error)]
#[error("upgraded connection is not a TCP stream")]
pub struct NotTcp;

/// Takes the TCP stream back from an upgraded connection and splits it into a message
/// reader and a raw write half. Bytes hyper read past the handshake stay first in line.
/// With `deflate` (agreed at the upgrade), compressed messages are inflated.
pub fn split(
    upgraded: TokioIo<Upgraded>,
    max_payload: usize,
    deflate: Option<Deflate>,
) -> Result<(WsReader, WsWrite), NotTcp> {
    let parts = upgraded
        .into_inner()
        .downcast::<TokioIo<TcpStream>>()
        .map_err(|_| NotTcp)?;
    let (read, write) = parts.io.into_inner().into_split();
    let reader = WsReader {
        read,
        buf: BytesMut::from(&parts.read_buf[..]),
        max_payload,
        partial: None,
        inflater: deflate.map(|d| Inflater::new(d.params.client_no_context_takeover)),
    };
    Ok((reader, write))
}

/// Reads whole messages and control frames.
pub struct WsReader {
    read: OwnedReadHalf,
    /// Bytes read and not yet decoded; empty (unallocated) while the connection is idle.
    buf: BytesMut,
    max_payload: usize,
    /// A fragmented message being reassembled: its opcode, whether it is compressed,
    /// and its bytes so far.
    partial: Option<(OpCode, bool, Vec<u8>)>,
    /// Inflates compressed messages, when permessage-deflate was agreed.
    inflater: Option<Inflater>,
}

impl WsReader {
    /// Reads the next complete message or control event.
    pub async fn next(&mut self) -> Result<Incoming, ReadError> {
        loop {
            let deflate = self.inflater.is_some();
            let header = wsframe::decode_header(&self.buf, self.max_payload, deflate).inspect_err(|err| {
                if matches!(err, DecodeError::TooLarge { .. }) {
                    crate::metrics::limit_refused("max_payload");
                }
            })?;
            if let Some(header) = header {
                let missing = header.frame_len().saturating_sub(self.buf.len());
                if missing > 0 {
                    // The header passed the size limit: room for the whole frame at once.
                    self.buf.reserve(missing);
                    self.fill().await?;
                    continue;
                }
                let mut payload = self.buf.split_to(header.frame_len());
                payload.advance(header.header_len);
                if self.buf.is_empty() {
                    // Give the allocation back once `payload` is dropped.
                    self.buf = BytesMut::new();
                }
                wsframe::unmask(&mut payload, header.mask);
                if let Some(incoming) = self.frame(&header, payload)? {
                    return Ok(incoming);
                }
                continue;
            }
            self.fill().await?;
        }
    }

    /// Handles one frame: a message, a control event, or a fragment kept for later.
    fn frame(&mut self, header: &wsframe::Header, payload: BytesMut) -> Result<Option<Incoming>, ReadError> {
        let (opcode, fin) = (header.opcode, header.fin);
        match (opcode, self.partial.as_mut()) {
            (OpCode::Close, _) => Ok(Some(Incoming::Close)),
            (OpCode::Ping, _) => Ok(Some(Incoming::Ping(payload))),
            (OpCode::Pong, _) => Ok(Some(Incoming::Pong)),
            (OpCode::Text | OpCode::Binary, Some(_)) | (OpCode::Continuation, None) => {
                Err(ReadError::Fragments)
            }
            (OpCode::Continuation, Some((_, _, buf))) => {
                if buf.len() + payload.len() > self.max_payload {
                    crate::metrics::limit_refused("max_payload");
                    return Err(ReadError::TooLarge(self.max_payload));
                }
                buf.extend_from_slice(&payload);
                match self.partial.take() {
                    Some((op, compressed, buf)) if fin => self.message(op, compressed, buf).map(Some),
                    partial => {
                        self.partial = partial;
                        Ok(None)
                    }
                }
            }
            (op, None) => {
                if fin {
                    return self.message(op, header.compressed, payload.to_vec()).map(Some);
                }
                self.partial = Some((op, header.compressed, payload.to_vec()));
                Ok(None)
            }
        }
    }

    /// A whole message, inflated when it came compressed: at most `max_payload` bytes
    /// either way, so a small compressed frame cannot grow past the limit.
    fn message(&mut self, op: OpCode, compressed: bool, bytes: Vec<u8>) -> Result<Incoming, ReadError> {
        let bytes = match (compressed, self.inflater.as_mut()) {
            (true, Some(inflater)) => {
                let mut out = Vec::new();
                match inflater.inflate(&bytes, self.max_payload, &mut out) {
                    Ok(()) => out,
                    Err(InflateError::TooLarge { limit }) => {
                        crate::metrics::limit_refused("max_payload");
                        return Err(ReadError::TooLarge(limit));
                    }
                    Err(err) => return Err(ReadError::Inflate(err)),
                }
            }
            _ => bytes,
        };
        message(op, bytes)
    }

    /// Waits for bytes, then reads what is there into the buffer (allocating it now).
    async fn fill(&mut self) -> Result<(), ReadError> {
        let WsReader { read, buf, .. } = self;
        let stream: &TcpStream = read.as_ref();
        loop {
            stream.readable().await?;
            if buf.capacity() - buf.len() < READ_CHUNK / 4 {
                buf.reserve(READ_CHUNK);
            }
            match read_drained(stream, buf) {
                Ok(0) => return Err(ReadError::Eof),
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                    // The readiness was stale: nothing to read after all. Don't wait
                    // holding an empty buffer.
                    if buf.is_empty() {
                        *buf = BytesMut::new();
                    }
                    continue;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}

/// Reads what `stream` has into `buf`. A read that leaves room in `buf` took everything
/// the kernel had, so the socket's readiness is cleared now: otherwise the next wait
/// returns at once and costs a `recv` that can only say "would block", one wasted
/// system call per message.
fn read_drained(stream: &TcpStream, buf: &mut BytesMut) -> std::io::Result<usize> {
    let room = buf.capacity() - buf.len();
    let mut read = None;
    let result = stream.try_io(Interest::READABLE, || {
        let n = stream.try_read_buf(buf)?;
        read = Some(n);
        if n > 0 && n < room {
            // Tells tokio the socket is drained; new bytes bring a new readiness event.
            Err(std::io::ErrorKind::WouldBlock.into())
        } else {
            Ok(n)
        }
    });
    match read {
        Some(n) => Ok(n),
        None => result,
    }
}

fn message(op: OpCode, bytes: Vec<u8>) -> Result<Incoming, ReadError> {
    if op == OpCode::Text {
        String::from_utf8(bytes)
            .map(Incoming::Text)
            .map_err(|_| ReadError::InvalidUtf8)
    } else {
        Ok(Incoming::Binary(Bytes::from(bytes)))
    }
}

/// The WebSocket close code sent for a disconnect reason.
pub fn close_code(reason: DisconnectReason) -> u16 {
    match reason {
        DisconnectReason::ParseError => 1003,
        DisconnectReason::SlowConsumer => 1008,
        DisconnectReason::TransportError => 1009,
        DisconnectReason::ServerShutdown => 1001,
        _ => 1000,
    }
}

/// Appends a queue item to a write batch, compressed as `deflate` says (a shared
/// broadcast frame with the form every full-window recipient shares); returns the
/// close reason if it is a close.
pub fn append(item: &Outbound, buf: &mut Vec<u8>, deflate: Option<&Deflate>) -> Option<DisconnectReason> {
    let frame = |frame: &Frame, shared: Option<&SharedFrame>, buf: &mut Vec<u8>| {
        let (opcode, bytes) = match frame {
            Frame::Text(bytes) => (OpCode::Text, bytes),
            Frame::Binary(bytes) => (OpCode::Binary, bytes),
        };
        match deflate.and_then(|d| d.compress(bytes, shared)) {
            Some(compressed) => wsframe::encode_compressed(opcode, &compressed, buf),
            None => wsframe::encode(opcode, bytes, buf),
        }
    };
    match item {
        Outbound::Frame(f) => frame(f, None, buf),
        Outbound::Frames(frames) => frames.iter().for_each(|f| frame(f, None, buf)),
        Outbound::Shared(shared) => frame(shared.frame(), Some(shared), buf),
        Outbound::WsControl(bytes) => buf.extend_from_slice(bytes),
        Outbound::Close(reason) => return Some(*reason),
    }
    None
}

/// Reads and drops what the client still sends, for at most `grace`, until it closes
/// too: once the server has written its last frames and its close, the socket must not
/// be dropped with unread input, which makes the kernel reset the connection and the
/// client lose those last frames (a `CONNECT_ERROR` before a limit's close, say).
pub async fn drain(reader: &mut WsReader, grace: std::time::Duration) {
    let _ = tokio::time::timeout(grace, async {
        while let Ok(incoming) = reader.next().await {
            if matches!(incoming, Incoming::Close) {
                break;
            }
        }
    })
    .await;
}

/// Drains `rx` into batched writes until the connection closes, compressing as
/// `deflate` (agreed at the upgrade) says.
///
/// Returns the reason the writer stopped: a queued [`Outbound::Close`], cancellation
/// (the reason is then the caller's), or a failed write.
pub async fn write_loop(
    mut write: WsWrite,
    rx: &mut Receiver,
    closed: &CancellationToken,
    deflate: Option<Deflate>,
    cancelled_reason: impl Fn() -> DisconnectReason,
) -> DisconnectReason {
    // Grown by the first batch, not before: an idle connection holds no write buffer.
    let mut buf = Vec::new();
    // Items taken from the queue and not written yet.
    let mut batch = VecDeque::new();
    let reason = loop {
        if buf.capacity() > KEEP_WRITE_BUFFER {
            buf = Vec::new();
        }
        if batch.is_empty() && batch.capacity() > KEEP_BATCH_ITEMS {
            batch = VecDeque::new();
        }
        buf.clear();
        if batch.is_empty() {
            tokio::select! {
                biased;
                () = closed.cancelled() => break cancelled_reason(),
                more = rx.recv_many(&mut batch) => if !more {
                    break DisconnectReason::ForcedClose;
                },
            }
        }
        let (mut close, mut messages) = (None, 0);
        while close.is_none() && buf.len() < BATCH_BYTES {
            let Some(item) = batch.pop_front() else { break };
            messages += u64::from(item.is_message());
            close = append(&item, &mut buf, deflate.as_ref());
        }
        rx.set_in_hand(batch.len());
        tokio::select! {
            written = write.write_all(&buf) => match written {
                Ok(()) => {
                    crate::metrics::MESSAGES_OUT.increment(messages);
                    crate::metrics::traffic::TRAFFIC.sent(messages, buf.len());
                }
                Err(_) => break DisconnectReason::TransportClose,
            },
            // A client that stopped reading blocks this write; once the connection is
            // closed (as a slow consumer, say) there is no point finishing it.
            () = closed.cancelled() => return cancelled_reason(),
        }
        if let Some(reason) = close {
            break reason;
        }
    };
    buf.clear();
    wsframe::encode_close(close_code(reason), reason.as_str(), &mut buf);
    let _ = tokio::time::timeout(CLOSE_GRACE, async {
        write.write_all(&buf).await?;
        write.shutdown().await
    })
    .await;
    reason
}
