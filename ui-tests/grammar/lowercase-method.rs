//! An HTTP method written in lowercase.

use evently::prelude::*;

evently! {
    http get "/" => index;
}

fn main() {}
