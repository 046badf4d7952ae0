//! A binding without `=>` between the entry and the handler.

use evently::prelude::*;

evently! {
    http GET "/" index;
}

fn main() {}
