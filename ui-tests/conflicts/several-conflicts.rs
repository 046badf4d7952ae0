//! Three conflicts in one block: each is reported, not only the first.

use evently::prelude::*;

evently! {
    http GET "/" => index;
    rest GET "/users/{id}" => get_user;
    rest POST "/users" => create_user;
    http GET "/" => home;
    rest GET "/users/{user}" => find_user;
    rest POST "/users" => add_user;
}

fn main() {}
