//! The same method and path bound to two handlers.

use evently::prelude::*;

evently! {
    rest GET "/users" => list_users;
    rest GET "/users" => all_users;
}

fn main() {}
