//! A binding that starts with a word that is not a protocol.

use evently::prelude::*;

evently! {
    https GET "/" => index;
}

fn main() {}
