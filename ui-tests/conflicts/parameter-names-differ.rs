//! Two methods on one path that name its parameter differently.

use evently::prelude::*;

evently! {
    rest GET "/users/{id}" => get_user;
    rest DELETE "/users/{user_id}" => delete_user;
}

fn main() {}
