//! Wrapping evently's HTTP service in `tower-http` layers.
//!
//! ```text
//! cargo run --example layered
//! curl -i -H 'origin: https://example.com' localhost:8080/time
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use evently::http::header::{HeaderName, HeaderValue};
use evently::prelude::*;
use tower_http::cors::CorsLayer;
use tower_http::set_header::SetResponseHeaderLayer;

evently! {
    rest GET "/time" => now;
}

async fn now() -> Json<u64> {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    Json(seconds)
}

#[tokio::main]
async fn main() -> evently::Result<()> {
    App::from_env()?
        .layer(CorsLayer::permissive())
        .layer(SetResponseHeaderLayer::overriding(
            HeaderName::from_static("x-served-by"),
            HeaderValue::from_static("evently"),
        ))
        .run()
        .await
}
