//! Client frame headers: any bytes decode, ask for more, or fail cleanly; a decoded
//! header never claims more than the limit, and it is stable as more bytes arrive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portico_protocol::wsframe::decode_header;

const LIMIT: usize = 1 << 16;

fuzz_target!(|data: &[u8]| {
    match decode_header(data, LIMIT) {
        Ok(Some(header)) => {
            assert!(header.payload_len <= LIMIT);
            assert!((6..=14).contains(&header.header_len));
            assert!(header.header_len <= data.len());
            // Bytes after the header change nothing about it.
            let again = decode_header(&data[..header.header_len], LIMIT);
            assert_eq!(again, Ok(Some(header)));
        }
        Ok(None) => assert!(data.len() < 14),
        Err(_) => {}
    }
});
