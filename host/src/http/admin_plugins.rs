//! Portico's own admin page, beside the Admin UI (which knows nothing of plugins):
//! `/admin/plugins` lists the plugins serving (world, version digest, load time), every
//! version offered with its outcome (a rejected one with its error), and the recent
//! failed calls; `/admin/plugins.json` is the same as JSON. Both ask for the Admin UI's
//! login (HTTP Basic, so a browser prompts once); the page refreshes itself every 2 s.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use crate::plugins::history::Snapshot;
use crate::server::Gateway;

/// `/admin/plugins`.
pub async fn page(State(gateway): State<Gateway>, headers: HeaderMap) -> Response {
    match snapshot(&gateway, &headers).await {
        Ok(snapshot) => Html(render(&snapshot)).into_response(),
        Err(refused) => refused,
    }
}

/// `/admin/plugins.json`.
pub async fn json(State(gateway): State<Gateway>, headers: HeaderMap) -> Response {
    match snapshot(&gateway, &headers).await {
        Ok(snapshot) => axum::Json(snapshot).into_response(),
        Err(refused) => refused,
    }
}

async fn snapshot(gateway: &Gateway, headers: &HeaderMap) -> Result<Snapshot, Response> {
    let header = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let allowed = match gateway.admin() {
        Some(admin) => admin.authorized(header).await,
        None => false,
    };
    if !allowed {
        return Err((
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                r#"Basic realm="Portico admin", charset="UTF-8""#,
            )],
            "the Admin UI's login is needed",
        )
            .into_response());
    }
    Ok(gateway.registry().map_or_else(
        || Snapshot {
            plugins: Vec::new(),
            reloads: Vec::new(),
            faults: Vec::new(),
        },
        |registry| registry.history().snapshot(),
    ))
}

/// The page: three tables, nothing loaded from elsewhere.
fn render(s: &Snapshot) -> String {
    let mut html = String::from(concat!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        "<meta http-equiv=\"refresh\" content=\"2\"><title>Portico plugins</title><style>",
        "body{font-family:Roboto,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin-bottom:2em}",
        "th,td{border-bottom:1px solid #ddd;padding:.3em 1em;text-align:left;vertical-align:top}",
        "code{font-size:.95em}.rejected{color:#b00020}.loaded{color:#1b5e20}",
        "</style></head><body><p><a href=\"./\">Socket.IO Admin UI</a></p><h1>Plugins</h1>",
    ));
    html.push_str("<h2>Serving</h2><table id=\"serving\"><tr><th>plugin</th><th>world</th><th>version</th><th>loaded</th></tr>");
    for v in &s.plugins {
        row(
            &mut html,
            &[
                &v.plugin,
                &v.world,
                &code(&v.digest),
                &crate::admin::wire::iso(v.loaded_at),
            ],
        );
    }
    html.push_str("</table><h2>Reloads</h2><table id=\"reloads\"><tr><th>when</th><th>plugin</th><th>outcome</th><th>version or error</th></tr>");
    for r in &s.reloads {
        let detail = match (&r.digest, &r.error, r.ms) {
            (Some(digest), _, Some(ms)) => format!("{} in {ms} ms", code(digest)),
            (_, Some(error), _) => escape(error),
            _ => String::new(),
        };
        html.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{detail}</td></tr>",
            r.outcome,
            crate::admin::wire::iso(r.at),
            escape(&r.plugin),
            r.outcome
        ));
    }
    html.push_str("</table><h2>Recent errors</h2><table id=\"faults\"><tr><th>when</th><th>plugin</th><th>world</th><th>error</th></tr>");
    for f in &s.faults {
        row(
            &mut html,
            &[&crate::admin::wire::iso(f.at), &f.plugin, &f.world, &f.error],
        );
    }
    html.push_str("</table></body></html>");
    html
}

/// One row; cells already escaped start with `<code>`, the rest are escaped here.
fn row(html: &mut String, cells: &[&str]) {
    html.push_str("<tr>");
    for cell in cells {
        html.push_str("<td>");
        if cell.starts_with("<code>") {
            html.push_str(cell);
        } else {
            html.push_str(&escape(cell));
        }
        html.push_str("</td>");
    }
    html.push_str("</tr>");
}

fn code(text: &str) -> String {
    format!("<code>{}</code>", escape(text))
}

/// Text as HTML.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Kind;
    use crate::plugins::history::History;

    #[test]
    fn the_page_escapes_what_plugins_and_errors_say() {
        let history = History::default();
        history.loaded("chat", Kind::Handler, "00ff", 5);
        history.rejected("chat", "<script>alert(1)</script> is not a component");
        history.fault("chat", Kind::Handler, "trap: \"boom\" & more");
        let html = render(&history.snapshot());
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; is not a component"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("trap: &quot;boom&quot; &amp; more"));
        assert!(html.contains("<code>00ff</code> in 5 ms"));
        assert!(html.contains("<tr class=\"rejected\">"));
    }
}
