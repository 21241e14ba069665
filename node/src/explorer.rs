//! The explorer: one page (`explorer/index.html`, plain HTML, CSS and JavaScript, nothing
//! fetched from elsewhere) that the node serves at `GET /explorer` on its JSON-RPC port. The
//! page reads everything over the node's WebSocket: the pipeline of transactions (pending,
//! sealed, proven, verified on L1), batches with their roots, decoded public data, proof, L1
//! block and gas, accounts, the L1 view, and charts over time.

use jsonrpsee::server::{HttpBody, HttpResponse};

/// Where the page is served.
pub const PATH: &str = "/explorer";

const PAGE: &str = include_str!("explorer/index.html");

/// The page.
pub fn page() -> HttpResponse {
    HttpResponse::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .header("cache-control", "no-cache")
        .body(HttpBody::from(PAGE))
        .expect("static response")
}
