//! Client frame headers and permessage-deflate: any bytes decode, ask for more, or fail
//! cleanly; a decoded header never claims more than the limit, and it is stable as
//! more bytes arrive; any bytes inflate to at most the limit, or fail cleanly; any
//! offer negotiates to parameters in range, or to none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_protocol::wsframe::decode_header;
use portico_protocol::wsframe::deflate::{Inflater, negotiate};

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    for deflate in [false, true] {
        match decode_header(data, LIMIT, deflate) {
            Ok(Some(header)) => {
                assert!(header.payload_len <= LIMIT);
                assert!((6..=14).contains(&header.header_len));
                assert!(header.header_len <= data.len());
                assert!(deflate || !header.compressed);
                // Bytes after the header change nothing about it.
                let again = decode_header(&data[..header.header_len], LIMIT, deflate);
                assert_eq!(again, Ok(Some(header)));
            }
            Ok(None) => assert!(data.len() < 14),
            Err(_) => {}
        }
    }
    let mut inflater = Inflater::new(data.first().is_some_and(|b| b & 1 == 1));
    let mut out = Vec::new();
    if inflater.inflate(data, 4096, &mut out).is_ok() {
        assert!(out.len() <= 4096);
    }
    if let Ok(offer) = std::str::from_utf8(data)
        && let Some(agreed) = negotiate([offer])
    {
        assert!((9..=15).contains(&agreed.params.server_max_window_bits));
        assert!(agreed.response.starts_with("permessage-deflate"));
    }
});
