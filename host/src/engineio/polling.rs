//! HTTP long-polling: a GET takes everything queued as one payload (waiting until
//! something is); a POST carries packets from the client.

use axum::body::Body;
use axum::response::Response;
use http::{HeaderValue, StatusCode, header};

use super::{Engine, EngineHandler, Entry, Session};
use crate::outbound::{Connection, Outbound};
use crate::protocol::engineio::{self as proto, Frame, RequestError, Transport};
use crate::reason::DisconnectReason;

/// Answers a GET: waits for queued frames (or a close or upgrade), then sends them all.
pub(super) async fn poll(session: &Session) -> Response {
    let Ok(mut rx) = session.receiver().try_lock_owned() else {
        // Two concurrent GETs: the spec says 400 and close the session.
        session.close(DisconnectReason::TransportError);
        return super::error_response(RequestError::BadRequest);
    };
    if session.transport() != Transport::Polling {
        return super::error_response(RequestError::BadRequest);
    }
    let first = loop {
        // Registered before the check, so a change right after it still wakes us.
        let interrupted = session.interrupt_poll().notified();
        tokio::pin!(interrupted);
        interrupted.as_mut().enable();
        if session.poll_must_yield() {
            // Upgrading: what is queued stays queued, for the WebSocket.
            return frames_response(&[Frame::noop()]);
        }
        tokio::select! {
            biased;
            () = session.closed().cancelled() => break None,
            item = rx.recv() => break item,
            () = &mut interrupted => {}
        }
    };
    let Some(first) = first else {
        // A client's own close gets a noop, as the reference server answers.
        let last = match session.close_reason() {
            Some(DisconnectReason::TransportClose) => Frame::noop(),
            _ => Frame::close(),
        };
        return frames_response(&[last]);
    };
    let mut frames = Vec::new();
    let mut messages = u64::from(first.is_message());
    let mut close = push(first, &mut frames);
    while close.is_none() {
        match rx.try_recv() {
            Some(item) => {
                messages += u64::from(item.is_message());
                close = push(item, &mut frames);
            }
            None => break,
        }
    }
    crate::metrics::MESSAGES_OUT.increment(messages);
    let bytes = frames.iter().map(proto::payload_len).sum::<usize>();
    crate::metrics::traffic::TRAFFIC.sent(messages, bytes);
    if let Some(reason) = close {
        frames.push(Frame::close());
        session.close(reason);
    }
    if frames.is_empty() {
        frames.push(Frame::noop());
    }
    frames_response(&frames)
}

/// Appends an item's frames; returns the reason if it asks to close.
fn push(item: Outbound, frames: &mut Vec<Frame>) -> Option<DisconnectReason> {
    match item {
        Outbound::Frame(frame) => frames.push(frame),
        Outbound::Frames(many) => frames.extend(many.iter().cloned()),
        // Long-polling has no permessage-deflate: the frame as it is.
        Outbound::Shared(shared) => frames.push(shared.frame().clone()),
        Outbound::WsControl(_) => {}
        Outbound::Close(reason) => return Some(reason),
    }
    None
}

/// Answers a POST: decodes the payload and hands each packet on, in order.
pub(super) async fn post<H: EngineHandler>(
    engine: &Engine<H>,
    entry: &Entry<H::Conn>,
    body: Body,
) -> Response {
    let session = &entry.session;
    // Shutdown waits for it (within its grace), so its replies are queued before the close.
    let _in_flight = engine.0.posts.token();
    if !session.begin_post() {
        session.close(DisconnectReason::TransportError);
        return super::error_response(RequestError::BadRequest);
    }
    let response = read_and_dispatch(engine, entry, body).await;
    session.end_post();
    response
}

async fn read_and_dispatch<H: EngineHandler>(
    engine: &Engine<H>,
    entry: &Entry<H::Conn>,
    body: Body,
) -> Response {
    let session = &entry.session;
    let max = engine.0.config.load().max_payload;
    let Ok(bytes) = crate::http::read_body(body, max).await else {
        tracing::debug!(
            sid = session.id(),
            max,
            "polling body over max payload (or unreadable)"
        );
        session.close(DisconnectReason::TransportError);
        engine.forget(session);
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
        return response;
    };
    let packets = match proto::decode_payload(&bytes) {
        Ok(packets) => packets,
        Err(err) => {
            tracing::debug!(sid = session.id(), %err, "undecodable polling payload");
            session.close(DisconnectReason::ParseError);
            engine.forget(session);
            return super::error_response(RequestError::BadRequest);
        }
    };
    for packet in packets {
        // Packets not taken before shutdown began are not handled, as on a WebSocket.
        if session.reading().is_cancelled() {
            break;
        }
        engine.dispatch(entry, packet).await;
    }
    let mut response = Response::new(Body::from("ok"));
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// A 200 response carrying `frames` as one payload.
fn frames_response(frames: &[Frame]) -> Response {
    let mut body = Vec::with_capacity(frames.iter().map(proto::payload_len).sum::<usize>() + frames.len());
    proto::encode_payload(frames, &mut body);
    payload_response(body)
}

/// A 200 response with a polling payload body.
pub(super) fn payload_response(body: Vec<u8>) -> Response {
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
