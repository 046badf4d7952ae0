//! A path that does not start with `/`.

use evently::prelude::*;

evently! {
    rest GET "users/{id}" => get_user;
}

fn main() {}
