//! An HTTP method that does not exist.

use evently::prelude::*;

evently! {
    http FETCH "/" => index;
}

fn main() {}
