//! A path written without quotes.

use evently::prelude::*;

evently! {
    http GET /users => users;
}

fn main() {}
