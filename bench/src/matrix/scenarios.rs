//! Each scenario's load: the load generator's arguments in a full run and in
//! `--quick`. A variant is its base load with one more flag, so the two never drift.

use super::{COMPRESSION_OFF, COMPRESSION_ON, FLOOD, FLOOD_BASE};

/// Senders broadcasting to a room of 1 000 members (50 in `--quick`).
macro_rules! fanout {
    (full) => {
        "fanout --members 1000 --senders 4 --window 16 --duration 5"
    };
    (quick) => {
        "fanout --members 50 --warmup 0.5 --duration 1 --drain 5"
    };
}

/// Paced clients, so the server has room: what a flood takes from them shows.
macro_rules! paced {
    (full) => {
        "echo --clients 20 --rate 100 --warmup 1 --duration 5"
    };
    (quick) => {
        "echo --clients 5 --rate 100 --warmup 0.2 --duration 1"
    };
}

/// 2 KB messages of chat-like text to a 200-member room (20 in `--quick`).
macro_rules! fanout_2k {
    (full) => {
        "fanout --members 200 --senders 4 --window 16 --payload 2048 --text --duration 5"
    };
    (quick) => {
        "fanout --members 20 --payload 2048 --text --warmup 0.5 --duration 1 --drain 5"
    };
}

/// Scenario, full load, quick load.
const LOADS: &[(&str, &str, &str)] = &[
    (
        "echo",
        "echo --clients 100 --warmup 2 --duration 5",
        "echo --clients 10 --warmup 0.5 --duration 1",
    ),
    // One client: the latency of an unloaded server, where a plugin's cost shows as is.
    (
        "latency",
        "echo --clients 1 --warmup 1 --duration 3",
        "echo --clients 1 --warmup 0.2 --duration 0.5",
    ),
    ("fanout", fanout!(full), fanout!(quick)),
    // The fan-out load, its room split over two nodes on one Redis (see `cluster`).
    ("cluster", fanout!(full), fanout!(quick)),
    (FLOOD_BASE, paced!(full), paced!(quick)),
    // The same, with one more client flooding.
    (
        FLOOD,
        concat!(paced!(full), " --flood 10000"),
        concat!(paced!(quick), " --flood 2000"),
    ),
    // Without and with permessage-deflate (the clients offer it, the servers compress).
    (COMPRESSION_OFF, fanout_2k!(full), fanout_2k!(quick)),
    (
        COMPRESSION_ON,
        concat!("--deflate ", fanout_2k!(full)),
        concat!("--deflate ", fanout_2k!(quick)),
    ),
    (
        "idle",
        "idle --connections 19000",
        "idle --connections 500 --settle 0.5",
    ),
];

/// The load generator's arguments for `scenario`, or `None` for one it does not know.
pub fn args(scenario: &str, quick: bool) -> Option<Vec<&'static str>> {
    let (_, full, short) = LOADS.iter().find(|(name, ..)| *name == scenario)?;
    Some(if quick { short } else { full }.split_whitespace().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variant_is_its_base_load_with_one_more_flag() {
        for quick in [false, true] {
            let base = args(COMPRESSION_OFF, quick).expect("known");
            let mut deflate = args(COMPRESSION_ON, quick).expect("known");
            assert_eq!(deflate.remove(0), "--deflate");
            assert_eq!(deflate, base);
            let paced = args(FLOOD_BASE, quick).expect("known");
            let flood = args(FLOOD, quick).expect("known");
            assert_eq!(flood[..paced.len()], paced[..]);
            assert_eq!(flood[paced.len()], "--flood");
        }
        assert_eq!(args("cluster", false), args("fanout", false));
        assert_eq!(args("nope", false), None);
    }
}
