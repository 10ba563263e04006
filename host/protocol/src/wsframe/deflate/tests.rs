//! Negotiation against real offers, and messages against RFC 7692's own examples.

use super::*;

fn agreed(offer: &str) -> Option<(Params, String)> {
    negotiate([offer]).map(|a| (a.params, a.response))
}

#[test]
fn a_browsers_or_node_ws_offer_is_accepted_without_server_context_takeover() {
    // Chromium, Firefox and Node's `ws` all offer this.
    let (params, response) = agreed("permessage-deflate; client_max_window_bits").expect("accepted");
    assert_eq!(
        params,
        Params {
            client_no_context_takeover: false,
            server_max_window_bits: 15,
        }
    );
    assert_eq!(response, "permessage-deflate; server_no_context_takeover");
    assert!(agreed("permessage-deflate").is_some(), "no parameters at all");
    assert!(
        agreed("PerMessage-Deflate").is_some(),
        "the token is case-insensitive"
    );
}

#[test]
fn every_parameter_the_client_names_is_answered() {
    let (params, response) = agreed(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12",
    )
    .expect("accepted");
    assert_eq!(
        params,
        Params {
            client_no_context_takeover: true,
            server_max_window_bits: 10,
        }
    );
    assert_eq!(
        response,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
         server_max_window_bits=10; client_max_window_bits=12"
    );
    let (quoted, _) = agreed(r#"permessage-deflate; server_max_window_bits="9""#).expect("a quoted value");
    assert_eq!(quoted.server_max_window_bits, 9);
}

#[test]
fn a_bad_offer_is_declined_and_the_next_one_taken() {
    for bad in [
        "permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=015",
        "permessage-deflate; server_max_window_bits=ten",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; client_max_window_bits=7",
        "permessage-deflate; client_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_max_window_bits=10; server_max_window_bits=11",
        "permessage-deflate; mystery",
        "x-webkit-deflate-frame",
        "",
    ] {
        assert_eq!(agreed(bad), None, "{bad:?}");
    }
    let (params, _) = negotiate([
        "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=8",
        "permessage-deflate; client_no_context_takeover",
    ])
    .map(|a| (a.params, a.response))
    .expect("the third offer");
    assert!(params.client_no_context_takeover);
}

#[test]
fn the_rfc_examples_inflate_with_and_without_a_shared_window() {
    // RFC 7692 §7.2.3.1 and §7.2.3.2: "Hello", then "Hello" again using the window.
    let first = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let second = [0xf2, 0x00, 0x11, 0x00, 0x00];
    let mut shared = Inflater::new(false);
    let mut out = Vec::new();
    shared.inflate(&first, 100, &mut out).expect("inflates");
    assert_eq!(out, b"Hello");
    out.clear();
    shared
        .inflate(&second, 100, &mut out)
        .expect("inflates from the window");
    assert_eq!(out, b"Hello");
    let mut reset = Inflater::new(true);
    out.clear();
    reset.inflate(&first, 100, &mut out).expect("inflates");
    out.clear();
    assert!(
        reset.inflate(&second, 100, &mut out).is_err(),
        "no window to refer back to"
    );
    // And what we write is what the RFC shows.
    assert_eq!(Deflater::new(6, 15).deflate(b"Hello"), first);
}

#[test]
fn messages_round_trip_each_on_its_own() {
    let mut deflater = Deflater::new(6, 15);
    let mut small_window = Deflater::new(1, 9);
    let mut inflater = Inflater::new(false);
    for len in [1usize, 100, 1024, 2048, 70_000, 300_000] {
        let message: Vec<u8> = (0..len)
            .map(|i| b"{\"event\":\"news\",\"data\":[1,2,3]}"[i % 31])
            .collect();
        for d in [&mut deflater, &mut small_window] {
            let compressed = d.deflate(&message);
            assert!(
                len < 1024 || compressed.len() < len / 4,
                "{len}: {}",
                compressed.len()
            );
            // Independent of what came before: the same bytes every time.
            assert_eq!(d.deflate(&message), compressed, "{len}");
            let mut out = Vec::new();
            inflater.inflate(&compressed, len, &mut out).expect("inflates");
            assert_eq!(out, message, "{len}");
        }
    }
}

#[test]
fn a_decompression_bomb_stops_at_the_limit_and_the_next_message_inflates() {
    let bomb = Deflater::new(9, 15).deflate(&vec![0u8; 10 << 20]);
    assert!(bomb.len() < 20_000, "{}", bomb.len());
    let mut inflater = Inflater::new(false);
    let mut out = Vec::new();
    assert_eq!(
        inflater.inflate(&bomb, 1 << 20, &mut out),
        Err(InflateError::TooLarge { limit: 1 << 20 })
    );
    assert!(out.len() <= 1 << 20, "{}", out.len());
    let mut exact = Vec::new();
    let fits = Deflater::new(6, 15).deflate(&[7u8; 1000]);
    inflater
        .inflate(&fits, 1000, &mut exact)
        .expect("exactly at the limit");
    assert_eq!(exact, vec![7u8; 1000]);
    assert_eq!(
        inflater.inflate(&fits, 999, &mut Vec::new()),
        Err(InflateError::TooLarge { limit: 999 })
    );
}

#[test]
fn corrupt_input_is_an_error_not_a_panic() {
    let mut inflater = Inflater::new(false);
    for bad in [
        &[0xff, 0xff, 0xff][..],
        &[0x07],
        &[0xf2, 0x48, 0xcd, 0xff, 0xff, 0x00, 0x00, 0x11],
    ] {
        let mut out = Vec::new();
        let _ = inflater.inflate(bad, 1000, &mut out);
        assert!(out.len() <= 1000);
    }
    let mut out = Vec::new();
    assert_eq!(
        inflater.inflate(&[0xff, 0xff, 0xff], 1000, &mut out),
        Err(InflateError::Corrupt)
    );
}
