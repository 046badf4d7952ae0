//! A path parameter whose name is not an identifier.

use evently::prelude::*;

evently! {
    rest GET "/users/{1d}" => get_user;
}

fn main() {}
