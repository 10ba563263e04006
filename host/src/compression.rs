//! permessage-deflate on both WebSocket paths (Engine.IO's transport and the native
//! endpoint): what a connection agreed to at its upgrade, and compressing a message
//! for it. A broadcast's frame is compressed once for every recipient that agreed to
//! the full window ([`SharedFrame`]); a client that asked for a smaller one gets its
//! own. The server never keeps context between messages, so sharing is sound.

use std::cell::RefCell;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, header};

use crate::config::CompressionConfig;
use crate::outbound::SharedFrame;
use crate::protocol::wsframe::deflate::{self, Deflater, Params};

/// How one connection compresses, once it agreed to permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deflate {
    /// What the client agreed to.
    pub params: Params,
    /// Messages shorter than this go uncompressed.
    pub threshold: usize,
    /// zlib level.
    pub level: u32,
}

/// Accepts the request's permessage-deflate offer when compression is on: the
/// connection's settings and the `Sec-WebSocket-Extensions` value for the 101.
pub fn negotiate(headers: &HeaderMap, config: &CompressionConfig) -> Option<(Deflate, HeaderValue)> {
    if !config.enabled {
        return None;
    }
    let offers = headers
        .get_all(header::SEC_WEBSOCKET_EXTENSIONS)
        .iter()
        .filter_map(|value| value.to_str().ok());
    let agreed = deflate::negotiate(offers)?;
    let response = HeaderValue::from_str(&agreed.response).ok()?;
    let settings = Deflate {
        params: agreed.params,
        threshold: config.threshold_bytes,
        level: config.level,
    };
    Some((settings, response))
}

/// Sets the 101 response's extension header to what was agreed.
pub fn answer<B>(response: &mut http::Response<B>, agreed: Option<&(Deflate, HeaderValue)>) {
    if let Some((_, value)) = agreed {
        response
            .headers_mut()
            .insert(header::SEC_WEBSOCKET_EXTENSIONS, value.clone());
    }
}

impl Deflate {
    /// `message` compressed for this connection, or `None` when it goes as it is:
    /// shorter than the threshold, or no smaller compressed. With `shared`, the
    /// compressed form is the one every full-window recipient shares.
    pub fn compress(&self, message: &[u8], shared: Option<&SharedFrame>) -> Option<Bytes> {
        if message.len() < self.threshold {
            return None;
        }
        let bits = self.params.server_max_window_bits;
        let deflate = || deflate_with(self.level, bits, message);
        match shared {
            Some(shared) if bits == 15 => shared.deflated(self.level, deflate),
            _ => deflate(),
        }
    }
}

thread_local! {
    /// A compressor per level and window on each thread, reset after each message: a
    /// zlib state is a few hundred KiB, too much to make per message or per client.
    static DEFLATERS: RefCell<Vec<((u32, u8), Deflater)>> = const { RefCell::new(Vec::new()) };
}

fn deflate_with(level: u32, bits: u8, message: &[u8]) -> Option<Bytes> {
    let compressed = DEFLATERS.with_borrow_mut(|deflaters| {
        let at = match deflaters.iter().position(|(key, _)| *key == (level, bits)) {
            Some(at) => at,
            None => {
                deflaters.push(((level, bits), Deflater::new(level, bits)));
                deflaters.len() - 1
            }
        };
        deflaters[at].1.deflate(message)
    });
    crate::metrics::compressed(message.len(), compressed.len());
    (compressed.len() < message.len()).then(|| Bytes::from(compressed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::engineio::Frame;

    fn config(enabled: bool) -> CompressionConfig {
        CompressionConfig {
            enabled,
            threshold_bytes: 100,
            level: 6,
        }
    }

    fn offer(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_str(value).expect("header"),
        );
        headers
    }

    #[test]
    fn an_offer_is_taken_only_when_compression_is_on() {
        let headers = offer("permessage-deflate; client_max_window_bits");
        assert!(negotiate(&headers, &config(false)).is_none());
        let (deflate, value) = negotiate(&headers, &config(true)).expect("agreed");
        assert_eq!(value, "permessage-deflate; server_no_context_takeover");
        assert_eq!((deflate.threshold, deflate.level), (100, 6));
        assert!(negotiate(&HeaderMap::new(), &config(true)).is_none(), "no offer");
    }

    #[test]
    fn a_shared_frame_is_compressed_once_for_the_full_window_only() {
        let (full, _) = negotiate(&offer("permessage-deflate"), &config(true)).expect("agreed");
        let (small, _) = negotiate(
            &offer("permessage-deflate; server_max_window_bits=10"),
            &config(true),
        )
        .expect("agreed");
        let message = Bytes::from("42[\"news\",\"".to_owned() + &"abc".repeat(200) + "\"]");
        let shared = SharedFrame::new(Frame::Text(message.clone()));
        let a = full.compress(&message, Some(&shared)).expect("compressed");
        let b = full.compress(&message, Some(&shared)).expect("compressed");
        assert_eq!(a.as_ptr(), b.as_ptr(), "the same bytes, made once");
        let c = small.compress(&message, Some(&shared)).expect("compressed");
        assert_ne!(a.as_ptr(), c.as_ptr(), "its own, for its own window");
        assert!(full.compress(b"short", None).is_none(), "under the threshold");
        // xorshift64: bytes deflate cannot shrink.
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<u8> = (0..400)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert!(
            full.compress(&noise, None).is_none(),
            "not smaller: sent as it is"
        );
    }
}
