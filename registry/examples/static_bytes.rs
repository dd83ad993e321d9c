//! The benchmark's baseline: the smallest axum server that answers
//! `GET /schemas/ids/{id}` with fixed bytes. `scripts/bench` compares Stele's
//! real read path against it.
//!
//! Usage: `static_bytes ADDR BODY_FILE`

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18090".to_owned());
    let body = Bytes::from(std::fs::read(args.next().expect("usage: static_bytes ADDR BODY_FILE"))?);
    let app = Router::new().route(
        "/schemas/ids/{id}",
        get(move || {
            let body = body.clone();
            async move { ([(header::CONTENT_TYPE, "application/vnd.schemaregistry.v1+json")], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
