//! Every HTTP method the block knows, on one path.

use evently::prelude::*;

evently! {
    rest GET "/items/{id}" => read;
    rest POST "/items/{id}" => create;
    rest PUT "/items/{id}" => replace;
    rest PATCH "/items/{id}" => update;
    rest DELETE "/items/{id}" => remove;
    http HEAD "/items/{id}" => exists;
    http OPTIONS "/items/{id}" => options;
}

async fn read(Path(id): Path<u64>) -> Json<u64> {
    Json(id)
}

async fn create(Path(id): Path<u64>, Json(name): Json<String>) -> (StatusCode, Json<String>) {
    (StatusCode::CREATED, Json(format!("{id}: {name}")))
}

async fn replace(Path(id): Path<u64>, Json(name): Json<String>) -> Json<String> {
    Json(format!("{id}: {name}"))
}

async fn update(Path(_id): Path<u64>) -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn remove(Path(_id): Path<u64>) -> StatusCode {
    StatusCode::NO_CONTENT
}

async fn exists() -> StatusCode {
    StatusCode::OK
}

async fn options() -> &'static str {
    "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS"
}

fn main() {
    assert_eq!(App::TOPOLOGY.bindings().len(), 7);
}
