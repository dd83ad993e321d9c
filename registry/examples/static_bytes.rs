//! The benchmark's baseline: the smallest axum server that answers every
//! request (any method, any path, its body read) with fixed bytes.
//! `scripts/bench` compares each of Stele's workloads against it, serving the
//! bytes Stele answers for that workload.
//!
//! Usage: `static_bytes ADDR BODY_FILE`

use axum::Router;
use axum::body::Bytes;
use axum::http::header;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let body = Bytes::from(std::fs::read(args.next().expect("usage: static_bytes ADDR BODY_FILE"))?);
    let app = Router::new().fallback(move |_request: Bytes| {
        let body = body.clone();
        async move { ([(header::CONTENT_TYPE, "application/vnd.schemaregistry.v1+json")], body) }
    });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
