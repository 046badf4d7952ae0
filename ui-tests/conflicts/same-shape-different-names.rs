//! Two paths that differ only by parameter names, under one method.

use evently::prelude::*;

evently! {
    rest GET "/users/{id}" => get_user;
    rest GET "/users/{name}" => get_user_by_name;
}

fn main() {}
