//! A binding with nothing after `=>`.

use evently::prelude::*;

evently! {
    http GET "/" =>;
}

fn main() {}
