//! Path, query and header extractors, alone and together, in any order.

use evently::http::{Method, Uri};
use evently::prelude::*;
use serde::Deserialize;

evently! {
    rest GET "/users/{id}/posts/{post}" => post;
    rest GET "/search" => search;
    http GET "/files/{*rest}" => file;
    http GET "/echo" => echo;
}

#[derive(Deserialize)]
struct Page {
    q: String,
    limit: Option<u32>,
}

async fn post(Path((id, post)): Path<(u64, String)>, Query(page): Query<Page>) -> Json<String> {
    Json(format!("{id}/{post}?q={}&limit={:?}", page.q, page.limit))
}

async fn search(headers: HeaderMap, Query(page): Query<Page>) -> Json<Vec<String>> {
    let agent = headers.get("user-agent").map(|v| v.len()).unwrap_or(0);
    Json(vec![page.q, agent.to_string()])
}

async fn file(Path(rest): Path<String>) -> String {
    rest
}

async fn echo(method: Method, uri: Uri, headers: HeaderMap, body: String) -> String {
    format!("{method} {uri} ({} headers): {body}", headers.len())
}

fn main() {
    assert_eq!(App::TOPOLOGY.bindings().len(), 4);
}
