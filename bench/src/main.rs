//! `portico-bench`: the load generator, and the matrix that runs it against Portico and
//! its peers side by side (see `bench/README.md`).
//!
//! - `portico-bench run --addr HOST:PORT [--addr …] [--pid PID …] <echo|fanout|idle>
//!   [PARAMS]` loads one running server (or the nodes of a cluster, clients spread over
//!   them) and prints one JSON line (a [`scenario::Report`]).
//! - `portico-bench matrix [--quick]` starts every server in turn, pinned to one core,
//!   runs `run` pinned to the other, and writes `RESULTS.md` and `results.jsonl`.

mod client;
mod matrix;
mod procfs;
mod scenario;

use std::net::SocketAddr;

use clap::{Parser, Subcommand};

use scenario::{Target, echo, fanout, idle, soak};

#[derive(Debug, Parser)]
#[command(
    name = "portico-bench",
    about = "Portico's load generator and benchmark matrix"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs one scenario against one running server; prints its report as a JSON line.
    Run {
        /// The server's address; several: the nodes of a cluster, client `i` on node `i % n`.
        #[arg(long, required = true)]
        addr: Vec<SocketAddr>,
        /// Its Socket.IO path.
        #[arg(long, default_value = "/socket.io/")]
        path: String,
        /// Its process ids (every node's, and a cluster's Redis), for CPU figures summed
        /// over them; memory is read from the first.
        #[arg(long)]
        pid: Vec<u32>,
        /// Clients offer permessage-deflate, and fail unless the server agrees.
        #[arg(long)]
        deflate: bool,
        #[command(subcommand)]
        scenario: Scenario,
    },
    /// Runs every scenario against every server and writes the results.
    Matrix(matrix::Args),
}

/// A scenario and its parameters.
#[derive(Debug, Clone, Subcommand)]
pub enum Scenario {
    /// Closed-loop emit-with-ack.
    Echo(echo::Params),
    /// One room, many members, a few senders.
    Fanout(fanout::Params),
    /// Many held connections.
    Idle(idle::Params),
    /// Connections churning for many minutes; memory and descriptors sampled.
    Soak(soak::Params),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Run {
            addr,
            path,
            pid,
            deflate,
            scenario,
        } => {
            let target = Target {
                addrs: addr,
                path,
                pids: pid,
                deflate,
            };
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let local = tokio::task::LocalSet::new();
            let report = local.block_on(&runtime, async {
                match &scenario {
                    Scenario::Echo(p) => echo::run(&target, p).await,
                    Scenario::Fanout(p) => fanout::run(&target, p).await,
                    Scenario::Idle(p) => idle::run(&target, p).await,
                    Scenario::Soak(p) => soak::run(&target, p).await,
                }
            });
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
        Command::Matrix(args) => matrix::run(&args),
    }
}
