//! A `state` declaration without its type.

use evently::prelude::*;

evently! {
    state;
}

fn main() {}
