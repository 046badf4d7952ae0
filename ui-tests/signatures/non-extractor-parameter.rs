//! A handler parameter that is not an extractor: a bare `u32` instead of `Path<u32>`.

use evently::prelude::*;

evently! {
    rest GET "/users/{id}" => get_user;
}

async fn get_user(id: u32) -> Json<u32> {
    Json(id)
}

fn main() {}
