//! permessage-deflate (RFC 7692), without I/O: what a client's offer agrees to, and
//! the compression of one message.
//!
//! The server always asks for `server_no_context_takeover`: each message it sends is
//! compressed on its own, so one compressed broadcast frame serves every recipient
//! that agreed to the same window. What a client sends is inflated with its context
//! kept across messages unless it agreed to `client_no_context_takeover`; inflating
//! stops at a limit, so a small frame cannot grow into a large allocation.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The extension's token in `Sec-WebSocket-Extensions`.
pub const EXTENSION: &str = "permessage-deflate";
/// What ends every compressed message, left off on the wire (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// What the server and one client agreed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// The client resets its compressor after each message it sends.
    pub client_no_context_takeover: bool,
    /// The largest window the server's compression may use (`server_max_window_bits`),
    /// 9 to 15.
    pub server_max_window_bits: u8,
}

/// An accepted offer: the parameters and the response header's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agreed {
    /// What was agreed.
    pub params: Params,
    /// The `Sec-WebSocket-Extensions` value the 101 response carries.
    pub response: String,
}

/// Picks the first acceptable permessage-deflate offer among the
/// `Sec-WebSocket-Extensions` header values `offers` (each a comma-separated list of
/// extensions with `;`-separated parameters), as RFC 7692 §5 has the server do; `None`
/// when there is none (then nothing is compressed). An offer is declined when a
/// parameter is unknown, repeated or out of range, or when it asks the server for a
/// window of 8 bits, which raw deflate cannot keep to.
pub fn negotiate<'a>(offers: impl IntoIterator<Item = &'a str>) -> Option<Agreed> {
    offers
        .into_iter()
        .flat_map(|value| value.split(','))
        .find_map(accept)
}

/// One extension offer, accepted or declined.
fn accept(offer: &str) -> Option<Agreed> {
    let mut parts = offer.split(';').map(str::trim);
    if !parts.next()?.eq_ignore_ascii_case(EXTENSION) {
        return None;
    }
    let mut client_no_context_takeover = false;
    let mut server_no_context_takeover = false;
    let mut server_bits: Option<u8> = None;
    let mut client_bits: Option<Option<u8>> = None;
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (param, None),
        };
        let bits = |value: Option<&str>| -> Option<u8> {
            let value = value?;
            // RFC 7692 §7.1.2: 1*DIGIT with no leading zero, 8 to 15.
            if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            value.parse().ok().filter(|bits| (8..=15).contains(bits))
        };
        match name {
            "client_no_context_takeover" if value.is_none() && !client_no_context_takeover => {
                client_no_context_takeover = true;
            }
            "server_no_context_takeover" if value.is_none() && !server_no_context_takeover => {
                server_no_context_takeover = true;
            }
            "server_max_window_bits" if server_bits.is_none() => server_bits = Some(bits(value)?),
            "client_max_window_bits" if client_bits.is_none() => {
                client_bits = Some(match value {
                    None => None,
                    value => Some(bits(value)?),
                });
            }
            _ => return None,
        }
    }
    // zlib's raw deflate has no 8-bit window (it would use 9, more than allowed).
    let server_max_window_bits = server_bits.unwrap_or(15);
    if server_max_window_bits < 9 {
        return None;
    }
    let mut response = format!("{EXTENSION}; server_no_context_takeover");
    if client_no_context_takeover {
        response.push_str("; client_no_context_takeover");
    }
    if let Some(bits) = server_bits {
        response.push_str(&format!("; server_max_window_bits={bits}"));
    }
    if let Some(Some(bits)) = client_bits {
        // The client said how large its window is; echoing it accepts that.
        response.push_str(&format!("; client_max_window_bits={bits}"));
    }
    Some(Agreed {
        params: Params {
            client_no_context_takeover,
            server_max_window_bits,
        },
        response,
    })
}

/// Why a compressed message could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    /// It inflates to more than the limit: closed with 1009, as an oversized message.
    #[error("compressed message inflates past the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// Not a valid deflate stream.
    #[error("invalid compressed data")]
    Corrupt,
}

/// Inflates one client's messages.
pub struct Inflater {
    inner: Decompress,
    /// Reset after each message (`client_no_context_takeover`).
    reset: bool,
}

impl std::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inflater")
            .field("reset", &self.reset)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater for a client that resets its context after each message when
    /// `no_context_takeover`. Its window is 15 bits, which inflates any smaller one.
    pub fn new(no_context_takeover: bool) -> Inflater {
        Inflater {
            inner: Decompress::new(false),
            reset: no_context_takeover,
        }
    }

    /// Appends the inflated `message` (its frames' payloads joined) to `out`, at most
    /// `limit` bytes of it: past that, the message is refused.
    pub fn inflate(&mut self, message: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        let result = self.run(message, limit, out);
        if self.reset || result.is_err() {
            self.inner.reset(false);
        }
        result
    }

    fn run(&mut self, message: &[u8], limit: usize, out: &mut Vec<u8>) -> Result<(), InflateError> {
        let mut chunk = [0u8; 8192];
        let limit_from = out.len();
        for mut input in [message, &TAIL[..]] {
            loop {
                let (read, written) = (self.inner.total_in(), self.inner.total_out());
                let status = self
                    .inner
                    .decompress(input, &mut chunk, FlushDecompress::Sync)
                    .map_err(|_| InflateError::Corrupt)?;
                let consumed = (self.inner.total_in() - read) as usize;
                let produced = (self.inner.total_out() - written) as usize;
                if out.len() - limit_from + produced > limit {
                    return Err(InflateError::TooLarge { limit });
                }
                out.extend_from_slice(&chunk[..produced]);
                input = &input[consumed..];
                if status == Status::StreamEnd {
                    // A final block: what follows starts a new stream.
                    self.inner.reset(false);
                    break;
                }
                let drained = produced < chunk.len();
                if (input.is_empty() && drained) || (consumed == 0 && produced == 0) {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Compresses messages, each on its own (the server never takes its context over).
pub struct Deflater {
    inner: Compress,
}

impl std::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deflater").finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor at `level` (0 to 9) with a window of `window_bits` (9 to 15; out
    /// of range is clamped).
    pub fn new(level: u32, window_bits: u8) -> Deflater {
        Deflater {
            inner: Compress::new_with_window_bits(
                Compression::new(level.min(9)),
                false,
                window_bits.clamp(9, 15),
            ),
        }
    }

    /// One message compressed, ready to be a frame's payload (RSV1 set): the deflate
    /// stream flushed to a byte boundary, its `00 00 ff ff` tail left off.
    pub fn deflate(&mut self, message: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(message.len() / 2 + 64);
        let mut input = message;
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity().max(64));
            }
            let before = self.inner.total_in();
            // Errors need a misused stream (a zero-capacity output, say): not here.
            let _ = self.inner.compress_vec(input, &mut out, FlushCompress::Sync);
            input = &input[(self.inner.total_in() - before) as usize..];
            // Sync-flushed when all input is in and the output had room to spare.
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        self.inner.reset();
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        }
        out
    }
}

#[cfg(test)]
mod tests;
