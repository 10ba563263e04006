//! What a successful plugin call asked for (emits, joins, leaves, disconnects): all
//! checked first, then applied, so a call's effects apply entirely or not at all.
//! Output from a plugin is never trusted blindly.

use std::sync::Arc;

use super::payload::{self, PayloadError};
use super::state::{Effect, Target};
use crate::limits::Refusal;
use crate::protocol::socketio::{Payload, is_reserved_event};
use crate::router::{Namespace, Namespaces, Socket, Targets};

/// Who made a call, and what its effects may reach.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// Every namespace, for emits that name one.
    pub namespaces: &'a Namespaces,
    /// The namespace the call is about: emits that name none go there (to `/` when
    /// `None`, as for HTTP calls).
    pub namespace: Option<&'a Arc<Namespace>>,
    /// The socket of `namespace` whose event or connection the call handled; `None`
    /// for HTTP calls and server events.
    pub socket: Option<&'a Socket>,
    /// Largest emit payload accepted, in bytes.
    pub max_payload: usize,
}

/// Why a call's effects were refused (all of them).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EffectError {
    /// An emit without an event name, or with one Socket.IO reserves (`connect`, …).
    #[error("emit with an empty or reserved event name")]
    BadEvent,
    /// An emit payload that is not one JSON value within `max_payload` whose
    /// placeholders all have their attachment.
    #[error("emit {0}")]
    Payload(#[from] PayloadError),
    /// An emit to a namespace the gateway does not serve.
    #[error("emit to unknown namespace `{0}`")]
    UnknownNamespace(String),
    /// Joins that would put the calling socket past one of its limits (`rooms_per_socket`).
    #[error("{0}")]
    Limit(#[from] Refusal),
    /// A join, leave or disconnect from a call that has no socket (an HTTP call or a
    /// server event).
    #[error("join, leave and disconnect act on the calling socket's namespace; this call has none")]
    NoSocket,
}

/// A checked effect, ready to apply.
enum Checked<'a> {
    Emit {
        ns: Arc<Namespace>,
        event: String,
        targets: Targets,
        payload: Payload,
    },
    Join(Calling<'a>, String, Option<String>),
    Leave(Calling<'a>, String, Option<String>),
    Disconnect(Calling<'a>, Option<String>),
}

/// The calling socket and its namespace.
type Calling<'a> = (&'a Arc<Namespace>, &'a Socket);

/// Checks every effect, then applies them in order.
pub fn apply(caller: &Caller<'_>, effects: Vec<Effect>) -> Result<(), EffectError> {
    if effects.is_empty() {
        return Ok(());
    }
    let checked = effects
        .into_iter()
        .map(|effect| check(caller, effect))
        .collect::<Result<Vec<_>, _>>()?;
    let joins = checked.iter().filter_map(|effect| match effect {
        Checked::Join(_, room, None) => Some(room.as_str()),
        _ => None,
    });
    if let (Some(ns), Some(socket)) = (caller.namespace, caller.socket)
        && joins.clone().next().is_some()
    {
        ns.may_join(socket, joins)?;
    }
    for effect in checked {
        apply_one(effect);
    }
    Ok(())
}

fn check<'a>(caller: &Caller<'a>, effect: Effect) -> Result<Checked<'a>, EffectError> {
    let socket = || caller.namespace.zip(caller.socket).ok_or(EffectError::NoSocket);
    Ok(match effect {
        Effect::Emit {
            namespace,
            event,
            payload,
            to,
            except_rooms,
            except_sender,
        } => {
            if event.is_empty() || is_reserved_event(&event) {
                return Err(EffectError::BadEvent);
            }
            let payload = payload::from_plugin(payload, caller.max_payload)?;
            let ns = match (namespace, caller.namespace) {
                (None, Some(ns)) => ns.clone(),
                (name, _) => {
                    let name = name.unwrap_or_else(|| "/".to_owned());
                    caller
                        .namespaces
                        .get(&name)
                        .cloned()
                        .ok_or(EffectError::UnknownNamespace(name))?
                }
            };
            let mut targets = match to {
                Target::All => Targets::default(),
                Target::Rooms(rooms) => Targets {
                    rooms: rooms.into_iter().map(Into::into).collect(),
                    ..Targets::default()
                },
                Target::Socket(id) => Targets::default().to(id),
                Target::User(id) => Targets::default().to(format!("user:{id}")),
            };
            targets.except = except_rooms.into_iter().map(Into::into).collect();
            if except_sender && let Some(socket) = caller.socket {
                targets.except.push(socket.id().clone());
            }
            Checked::Emit {
                ns,
                event,
                targets,
                payload,
            }
        }
        Effect::Join { room, socket: id } => Checked::Join(socket()?, room, id),
        Effect::Leave { room, socket: id } => Checked::Leave(socket()?, room, id),
        Effect::Disconnect { socket: id } => Checked::Disconnect(socket()?, id),
    })
}

fn apply_one(effect: Checked<'_>) {
    // The caller itself, or another socket of its namespace by id, addressed through
    // the adapter (which knows only sockets still there, so a slow call cannot put a
    // disconnected socket back in a room).
    let other = |id: String| Targets::default().to(id);
    match effect {
        Checked::Emit {
            ns,
            event,
            targets,
            payload,
        } => ns.emit(&targets, &event, payload),
        Checked::Join((ns, caller), room, None) => {
            // Checked above; a concurrent join of the same socket may still win the place.
            let _ = ns.client_join(caller, &[room.into()]);
        }
        Checked::Join((ns, _), room, Some(id)) => ns.adapter().add_sockets(&other(id), &[room.into()]),
        Checked::Leave((ns, caller), room, None) => ns.leave(caller, &room),
        Checked::Leave((ns, _), room, Some(id)) => ns.adapter().del_sockets(&other(id), &[room.into()]),
        Checked::Disconnect((ns, caller), None) => {
            if caller.connected() {
                ns.disconnect(caller);
            }
        }
        Checked::Disconnect((ns, _), Some(id)) => {
            ns.disconnect_sockets(&other(id));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::echo::Echo;
    use crate::outbound::Receiver;
    use crate::protocol::engineio::Frame;

    /// A socket in `ns`, admitted, with the receiving end of its queue.
    fn socket(ns: &Arc<Namespace>) -> (Socket, Receiver) {
        Socket::admitted_to(ns)
    }

    /// The text frames queued so far.
    fn texts(rx: &mut Receiver) -> Vec<String> {
        std::iter::from_fn(|| rx.try_recv())
            .flat_map(|item| item.frames())
            .filter_map(|frame| match frame {
                Frame::Text(text) => Some(String::from_utf8_lossy(&text).into_owned()),
                Frame::Binary(_) => None,
            })
            .collect()
    }

    fn emit(namespace: Option<&str>, event: &str, payload: &str, to: Target) -> Effect {
        Effect::Emit {
            namespace: namespace.map(str::to_owned),
            event: event.to_owned(),
            payload: crate::plugins::bindings::Payload {
                json: payload.to_owned(),
                attachments: vec![],
            },
            to,
            except_rooms: vec![],
            except_sender: false,
        }
    }

    fn setup() -> (Namespaces, Arc<Namespace>, Arc<Namespace>) {
        let root = Namespace::new("/", Arc::new(Echo));
        let chat = Namespace::new("/chat", Arc::new(Echo));
        (Namespaces::new([root.clone(), chat.clone()]), root, chat)
    }

    #[test]
    fn emits_reach_the_named_namespace_or_the_callers() {
        let (namespaces, root, chat) = setup();
        let (caller, mut caller_rx) = socket(&chat);
        let (_, mut root_rx) = socket(&root);
        let (member, mut member_rx) = socket(&chat);
        chat.join(&member, &["r".into()]);
        let caller_ref = Caller {
            namespaces: &namespaces,
            namespace: Some(&chat),
            socket: Some(&caller),
            max_payload: 100,
        };
        let effects = vec![
            emit(None, "here", "1", Target::Rooms(vec!["r".into()])),
            emit(Some("/"), "there", "2", Target::All),
        ];
        assert_eq!(apply(&caller_ref, effects), Ok(()));
        assert_eq!(texts(&mut member_rx), [r#"42/chat,["here",1]"#]);
        assert_eq!(texts(&mut root_rx), [r#"42["there",2]"#]);
        assert!(texts(&mut caller_rx).is_empty());
        // Without a calling socket (an HTTP call), `None` is `/`.
        let http = Caller {
            namespace: None,
            socket: None,
            ..caller_ref
        };
        assert_eq!(apply(&http, vec![emit(None, "io", "3", Target::All)]), Ok(()));
        assert_eq!(texts(&mut root_rx), [r#"42["io",3]"#]);
    }

    #[test]
    fn one_bad_effect_refuses_them_all() {
        let (namespaces, _root, chat) = setup();
        let (caller, _caller_rx) = socket(&chat);
        let (member, mut member_rx) = socket(&chat);
        chat.join(&member, &["r".into()]);
        let caller = Caller {
            namespaces: &namespaces,
            namespace: Some(&chat),
            socket: Some(&caller),
            max_payload: 8,
        };
        let good = || emit(None, "ok", "1", Target::Rooms(vec!["r".into()]));
        for (bad, why) in [
            (emit(None, "", "1", Target::All), EffectError::BadEvent),
            (emit(None, "connect", "1", Target::All), EffectError::BadEvent),
            (
                emit(None, "e", "{oops", Target::All),
                EffectError::Payload(PayloadError::NotJson),
            ),
            (
                emit(None, "e", "\"123456789\"", Target::All),
                EffectError::Payload(PayloadError::TooLarge),
            ),
            (
                emit(Some("/nope"), "e", "1", Target::All),
                EffectError::UnknownNamespace("/nope".into()),
            ),
        ] {
            assert_eq!(apply(&caller, vec![good(), bad]), Err(why));
        }
        assert!(
            texts(&mut member_rx).is_empty(),
            "nothing of a refused call was applied"
        );
    }

    #[tokio::test]
    async fn room_changes_need_a_calling_socket_that_is_still_connected() {
        let (namespaces, _root, chat) = setup();
        let http = Caller {
            namespaces: &namespaces,
            namespace: None,
            socket: None,
            max_payload: 8,
        };
        let join = Effect::Join {
            room: "r".into(),
            socket: None,
        };
        assert_eq!(apply(&http, vec![join.clone()]), Err(EffectError::NoSocket));
        let (caller, _rx) = socket(&chat);
        chat.remove(
            &caller,
            crate::reason::DisconnectReason::ClientNamespaceDisconnect,
        );
        let gone = Caller {
            namespace: Some(&chat),
            socket: Some(&caller),
            ..http
        };
        assert_eq!(apply(&gone, vec![join]), Ok(()));
        assert!(
            chat.rooms_of(&caller).is_empty(),
            "a socket that left is not put back in a room"
        );
    }
}
