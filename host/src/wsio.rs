//! WebSocket IO shared by the Engine.IO transport and the native endpoint.
//!
//! Reading uses fastwebsockets on the read half, with a size cap on reassembled
//! messages. Writing bypasses it: one writer per connection drains every queued item
//! into a single buffer of pre-encoded frames and hands the kernel one write.

use std::convert::Infallible;

use bytes::Bytes;
use fastwebsockets::{OpCode as WireOp, Role, WebSocketError, WebSocketRead};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::outbound::{Outbound, Receiver};
use crate::protocol::engineio::Frame;
use crate::protocol::wsframe::{self, OpCode};
use crate::reason::DisconnectReason;

/// An upgraded WebSocket connection.
pub type WsStream = TokioIo<Upgraded>;

/// Stop appending to a batch past this many bytes, so one write stays bounded.
const BATCH_BYTES: usize = 256 * 1024;
/// How long a closing writer tries to deliver its close frame.
const CLOSE_GRACE: std::time::Duration = std::time::Duration::from_secs(1);
/// Control frames (pongs, close echoes) waiting for the writer; more are dropped.
const CONTROL_QUEUE: usize = 16;

/// A message read from a client.
#[derive(Debug)]
pub enum Incoming {
    /// A complete text message.
    Text(String),
    /// A complete binary message.
    Binary(Bytes),
    /// A pong control frame.
    Pong,
    /// The client sent a close frame.
    Close,
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
    /// The peer broke the WebSocket protocol or the connection failed.
    #[error("websocket: {0}")]
    Protocol(#[from] WebSocketError),
}

impl ReadError {
    /// The disconnect reason this error means for the connection.
    pub fn reason(&self) -> DisconnectReason {
        match self {
            ReadError::Protocol(WebSocketError::UnexpectedEOF | WebSocketError::ConnectionClosed) => {
                DisconnectReason::TransportClose
            }
            _ => DisconnectReason::TransportError,
        }
    }
}

/// Splits an upgraded stream into a message reader and a raw write half.
pub fn split(stream: WsStream, max_payload: usize) -> (WsReader, WriteHalf<WsStream>, ControlRx) {
    let (read, write) = tokio::io::split(stream);
    let (mut ws, _unused_writer) =
        fastwebsockets::after_handshake_split(read, tokio::io::sink(), Role::Server);
    // fastwebsockets refuses frames whose length is >= the limit.
    ws.set_max_message_size(max_payload.saturating_add(1));
    let (control_tx, control_rx) = mpsc::channel(CONTROL_QUEUE);
    let reader = WsReader {
        ws,
        control: control_tx,
        max_payload,
        partial: None,
    };
    (reader, write, control_rx)
}

/// Control frames the reader owes the peer, for the writer to send.
pub type ControlRx = mpsc::Receiver<Bytes>;

/// Reads whole messages, answering pings and closes through the writer.
pub struct WsReader {
    ws: WebSocketRead<ReadHalf<WsStream>>,
    control: mpsc::Sender<Bytes>,
    max_payload: usize,
    /// A fragmented message being reassembled: its opcode and bytes so far.
    partial: Option<(WireOp, Vec<u8>)>,
}

impl WsReader {
    /// Reads the next complete message or control event.
    pub async fn next(&mut self) -> Result<Incoming, ReadError> {
        let control = self.control.clone();
        let mut owe = move |mut frame: fastwebsockets::Frame<'_>| {
            let mut buf = Vec::new();
            let len = frame.write(&mut buf).len();
            buf.truncate(len);
            // A client flooding pings loses some pongs rather than growing memory.
            let _ = control.try_send(Bytes::from(buf));
            std::future::ready(Ok::<(), Infallible>(()))
        };
        loop {
            let frame = self.ws.read_frame(&mut owe).await?;
            let payload = &frame.payload[..];
            match (frame.opcode, self.partial.as_mut()) {
                (WireOp::Close, _) => return Ok(Incoming::Close),
                (WireOp::Pong, _) => return Ok(Incoming::Pong),
                (WireOp::Ping, _) => continue,
                (WireOp::Text | WireOp::Binary, Some(_)) => {
                    return Err(WebSocketError::InvalidFragment.into());
                }
                (WireOp::Continuation, None) => {
                    return Err(WebSocketError::InvalidContinuationFrame.into());
                }
                (WireOp::Continuation, Some((_, buf))) => {
                    if buf.len() + payload.len() > self.max_payload {
                        return Err(ReadError::TooLarge(self.max_payload));
                    }
                    buf.extend_from_slice(payload);
                    if !frame.fin {
                        continue;
                    }
                    let (op, buf) = self.partial.take().unwrap_or((WireOp::Binary, Vec::new()));
                    return message(op, buf);
                }
                (op @ (WireOp::Text | WireOp::Binary), None) => {
                    if frame.fin {
                        return message(op, payload.to_vec());
                    }
                    self.partial = Some((op, payload.to_vec()));
                }
            }
        }
    }
}

fn message(op: WireOp, bytes: Vec<u8>) -> Result<Incoming, ReadError> {
    if op == WireOp::Text {
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

/// Appends a queue item to a write batch; returns the close reason if it is a close.
pub fn append(item: &Outbound, buf: &mut Vec<u8>) -> Option<DisconnectReason> {
    let frame = |frame: &Frame, buf: &mut Vec<u8>| match frame {
        Frame::Text(bytes) => wsframe::encode(OpCode::Text, bytes, buf),
        Frame::Binary(bytes) => wsframe::encode(OpCode::Binary, bytes, buf),
    };
    match item {
        Outbound::Frame(f) => frame(f, buf),
        Outbound::Frames(frames) => frames.iter().for_each(|f| frame(f, buf)),
        Outbound::WsControl(bytes) => buf.extend_from_slice(bytes),
        Outbound::Close(reason) => return Some(*reason),
    }
    None
}

/// Drains `rx` and `control` into batched writes until the connection closes.
///
/// Returns the reason the writer stopped: a queued [`Outbound::Close`], cancellation
/// (the reason is then the caller's), or a failed write.
pub async fn write_loop(
    mut write: WriteHalf<WsStream>,
    rx: &mut Receiver,
    control: &mut ControlRx,
    closed: &CancellationToken,
    cancelled_reason: impl Fn() -> DisconnectReason,
) -> DisconnectReason {
    let mut buf = Vec::with_capacity(4096);
    let reason = loop {
        buf.clear();
        let mut close = None;
        tokio::select! {
            biased;
            () = closed.cancelled() => break cancelled_reason(),
            Some(bytes) = control.recv() => buf.extend_from_slice(&bytes),
            item = rx.recv() => match item {
                Some(item) => close = append(&item, &mut buf),
                None => break DisconnectReason::ForcedClose,
            },
        }
        while close.is_none() && buf.len() < BATCH_BYTES {
            if let Ok(bytes) = control.try_recv() {
                buf.extend_from_slice(&bytes);
            } else if let Ok(item) = rx.try_recv() {
                close = append(&item, &mut buf);
            } else {
                break;
            }
        }
        tokio::select! {
            written = write.write_all(&buf) => if written.is_err() {
                break DisconnectReason::TransportClose;
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
