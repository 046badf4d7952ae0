//! A handler written as a call, with parentheses.

use evently::prelude::*;

evently! {
    http GET "/" => index();
}

fn main() {}
