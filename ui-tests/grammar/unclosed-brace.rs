//! A path parameter whose `{` is never closed.

use evently::prelude::*;

evently! {
    rest GET "/users/{id" => get_user;
}

fn main() {}
