//! The Admin UI's pages at `/admin/`: the files of `[admin_ui] ui_dir` (the npm
//! package's `ui/dist`, with its fonts served from the same folder so it works
//! offline; `cargo xtask build` prepares it). `/admin` redirects to `/admin/`: the
//! UI's links are relative to it.

use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Redirect};
use axum::routing::{get, get_service};
use http::{Request, Uri};
use tower::ServiceExt as _;
use tower_http::services::ServeDir;

use crate::config::ADMIN_UI_PATH;
use crate::server::Gateway;

/// The routes serving the UI's files from `dir`.
pub fn router(dir: &Path) -> Router<Gateway> {
    let files = ServeDir::new(dir).append_index_html_on_directories(true);
    let serve = get_service(tower::service_fn(move |req: Request<Body>| {
        let files = files.clone();
        async move {
            // The files lie under the folder as they lie under `/admin/`.
            let inner = strip_prefix(req.uri());
            let (mut parts, body) = req.into_parts();
            parts.uri = inner;
            let response = files.oneshot(Request::from_parts(parts, body)).await;
            Ok::<_, std::convert::Infallible>(response.into_response())
        }
    }));
    let root = ADMIN_UI_PATH.trim_end_matches('/');
    Router::new()
        .route(root, get(|| async { Redirect::permanent(ADMIN_UI_PATH) }))
        .route(ADMIN_UI_PATH, serve.clone())
        .route(&format!("{ADMIN_UI_PATH}{{*file}}"), serve)
}

/// `/admin/js/app.js?x` → `/js/app.js?x`.
fn strip_prefix(uri: &Uri) -> Uri {
    let root = ADMIN_UI_PATH.trim_end_matches('/');
    let rest = uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/")
        .strip_prefix(root)
        .unwrap_or("/");
    let rest = if rest.is_empty() { "/" } else { rest };
    rest.parse().unwrap_or_else(|_| Uri::from_static("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_lose_the_admin_prefix_only() {
        let strip = |s: &str| strip_prefix(&s.parse().expect("uri")).to_string();
        assert_eq!(strip("/admin/"), "/");
        assert_eq!(strip("/admin/js/app.0d7d7845.js"), "/js/app.0d7d7845.js");
        assert_eq!(strip("/admin/index.html?x=1"), "/index.html?x=1");
    }
}
