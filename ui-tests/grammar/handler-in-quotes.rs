//! A handler written as a string instead of a path.

use evently::prelude::*;

evently! {
    http GET "/" => "index";
}

fn main() {}
