//! Two bindings without `;` between them.

use evently::prelude::*;

evently! {
    http GET "/" => index
    http GET "/about" => about;
}

fn main() {}
