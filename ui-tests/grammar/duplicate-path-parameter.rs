//! A path that names the same parameter twice.

use evently::prelude::*;

evently! {
    rest GET "/users/{id}/friends/{id}" => get_friend;
}

fn main() {}
