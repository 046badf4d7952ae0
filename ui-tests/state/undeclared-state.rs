//! A handler asking for `State<T>` of a type the block does not declare.

use evently::prelude::*;

evently! {
    state Pool;
    http GET "/users" => list_users;
}

#[derive(Clone)]
struct Pool;

#[derive(Clone)]
struct Cache;

async fn list_users(State(_cache): State<Cache>) -> &'static str {
    "[]"
}

fn main() {
    let _ = App::from_env(Pool);
}
