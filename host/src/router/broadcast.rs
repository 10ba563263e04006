//! Who an emit goes to, and the event encoded once for all of them.

use std::sync::{Arc, OnceLock};

use super::socket::Framing;
use crate::outbound::Outbound;
use crate::protocol::engineio::Frame;
use crate::protocol::native;
use crate::protocol::socketio::{Event, Packet, PacketKind, Payload};

/// Who an emit goes to: the cluster wire's `{rooms, except}`, so what a node is asked
/// to do locally is what it publishes.
pub use crate::protocol::cluster::Targets;

/// An event on its way to many sockets, encoded at most once per framing.
#[derive(Debug)]
pub struct OutgoingEvent {
    nsp: String,
    name: String,
    payload: Payload,
    /// Its connection-state-recovery offset, appended to its Socket.IO arguments.
    offset: OnceLock<Arc<str>>,
    socketio: OnceLock<Outbound>,
    native: OnceLock<Outbound>,
}

impl OutgoingEvent {
    /// An event for namespace `nsp`.
    pub fn new(nsp: &str, name: &str, payload: Payload) -> OutgoingEvent {
        OutgoingEvent {
            nsp: nsp.to_owned(),
            name: name.to_owned(),
            payload,
            offset: OnceLock::new(),
            socketio: OnceLock::new(),
            native: OnceLock::new(),
        }
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its arguments.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// Gives it its recovery offset, which Socket.IO recipients get as its last
    /// argument (native ones never see it). Before it is first encoded: a later
    /// offset, or a second one, is ignored.
    pub fn stamp(&self, offset: Arc<str>) {
        if self.socketio.get().is_none() {
            let _ = self.offset.set(offset);
        }
    }

    /// Its recovery offset, once stamped.
    pub fn offset(&self) -> Option<&str> {
        self.offset.get().map(|o| &**o)
    }

    /// The queue item for a recipient using `framing`: a reference-count bump after
    /// the first recipient of that framing.
    pub fn item(&self, framing: Framing) -> Outbound {
        match framing {
            Framing::SocketIo => self.socketio.get_or_init(|| self.encode_socketio()).clone(),
            Framing::Native => self
                .native
                .get_or_init(|| shared_item(vec![Frame::Text(native::encode(&self.name, &self.payload))]))
                .clone(),
        }
    }

    fn encode_socketio(&self) -> Outbound {
        let mut payload = self.payload.clone();
        if let Some(offset) = self.offset.get() {
            payload.args.push(serde_json::Value::from(&**offset).into());
        }
        let packet = Packet::new(
            self.nsp.clone(),
            PacketKind::Event(Event {
                name: self.name.clone(),
                payload,
                id: None,
            }),
        );
        shared_item(packet.encode())
    }
}

/// A broadcast's queue item: one frame shared with its compressed form, or all of
/// them together (a packet with binary attachments).
fn shared_item(mut frames: Vec<Frame>) -> Outbound {
    if frames.len() == 1
        && let Some(frame) = frames.pop()
    {
        return Outbound::Shared(Arc::new(crate::outbound::SharedFrame::new(frame)));
    }
    Outbound::Frames(Arc::from(frames))
}

/// One queue item for a packet's frames: a single frame, or all of them together.
pub fn frames_item(mut frames: Vec<Frame>) -> Outbound {
    if frames.len() == 1
        && let Some(frame) = frames.pop()
    {
        return Outbound::Frame(frame);
    }
    Outbound::Frames(Arc::from(frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use serde_json::json;

    /// The one text frame of an item.
    fn text(item: &Outbound) -> Vec<u8> {
        match item.frames().as_slice() {
            [Frame::Text(text)] => text.to_vec(),
            other => panic!("not one text frame: {other:?}"),
        }
    }

    #[test]
    fn encodes_once_per_framing_and_shares_the_buffer() {
        let event = OutgoingEvent::new("/chat", "news", Payload::json(vec![json!({"a": 1})]));
        let (Outbound::Shared(a), Outbound::Shared(b)) =
            (event.item(Framing::SocketIo), event.item(Framing::SocketIo))
        else {
            panic!("a shared frame");
        };
        assert!(
            Arc::ptr_eq(&a, &b),
            "recipients share one frame, and its compressed form"
        );
        assert_eq!(text(&Outbound::Shared(a)), br#"42/chat,["news",{"a":1}]"#);
        assert_eq!(
            text(&event.item(Framing::Native)),
            br#"{"event":"news","data":{"a":1}}"#
        );
    }

    #[test]
    fn a_recovery_offset_is_the_last_socketio_argument_and_never_native() {
        let event = OutgoingEvent::new("/", "news", Payload::json(vec![json!(1)]));
        event.stamp("e-7".into());
        event.stamp("e-8".into());
        assert_eq!(text(&event.item(Framing::SocketIo)), br#"42["news",1,"e-7"]"#);
        assert_eq!(
            text(&event.item(Framing::Native)),
            br#"{"event":"news","data":1}"#
        );
        event.stamp("e-9".into());
        assert_eq!(event.offset(), Some("e-7"));
    }

    #[test]
    fn binary_events_travel_as_one_item() {
        let payload = Payload {
            args: vec![crate::protocol::socketio::placeholder(0).into()],
            attachments: vec![Bytes::from_static(b"\x01")],
        };
        let event = OutgoingEvent::new("/", "file", payload);
        let Outbound::Frames(frames) = event.item(Framing::SocketIo) else {
            panic!("frames")
        };
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[1], Frame::Binary(Bytes::from_static(b"\x01")));
    }
}
