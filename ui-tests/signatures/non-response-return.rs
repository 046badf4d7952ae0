//! A handler returning a type that is not a response: a bare struct instead of `Json<T>`.

use evently::prelude::*;
use serde::Serialize;

evently! {
    rest GET "/users/{id}" => get_user;
}

#[derive(Serialize)]
struct User {
    id: u32,
}

async fn get_user(Path(id): Path<u32>) -> User {
    User { id }
}

fn main() {}
