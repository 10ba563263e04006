//! An HTTP handler that misbehaves on request, so tests can show the gateway contains
//! it. The route's last path segment says how:
//!
//! - `/trap`: panics; `/loop`: spins forever; `/oom`: allocates until the cap;
//! - `/bad-status`: answers status 1000; `/bad-header`: a header name with a space;
//! - `/huge`: a body larger than any limit a test sets;
//! - `/emit-then-400`: emits, then answers 400 (the emit must reach nobody);
//! - `/emit-unknown-namespace`: emits to a namespace the gateway does not serve;
//! - `/echo`: answers 200 with the request as JSON (method, path, query, headers, body).

use portico_sdk::http::{HttpError, Request, Response};
use portico_sdk::{HttpCtx, HttpHandler, json, plugin};

/// The plugin.
pub struct HttpMisbehaving;

#[plugin]
impl HttpHandler for HttpMisbehaving {
    fn handle(ctx: &mut HttpCtx, req: &Request) -> Result<Response, HttpError> {
        match req.path.rsplit('/').next().unwrap_or_default() {
            "trap" => panic!("http-misbehaving: asked to trap"),
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "oom" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "bad-status" => Ok(Response::empty(1000)),
            "bad-header" => Ok(Response::empty(200).with_header("bad name", "x")),
            "huge" => Ok(Response::text(200, &"x".repeat(4 << 20))),
            "emit-then-400" => {
                ctx.of("/").broadcast().emit("should-not-arrive", &true)?;
                Err(HttpError::bad_request("refused after emitting"))
            }
            "emit-unknown-namespace" => {
                ctx.of("/nowhere").broadcast().emit("lost", &true)?;
                Response::json(200, &json!({"emitted": true}))
            }
            "echo" => Response::json(
                200,
                &json!({
                    "method": req.method,
                    "path": req.path,
                    "query": req.query,
                    "headers": req.headers,
                    "body": String::from_utf8_lossy(&req.body),
                }),
            ),
            _ => Err(HttpError::not_found(format!(
                "Cannot {} {}",
                req.method, req.path
            ))),
        }
    }
}
