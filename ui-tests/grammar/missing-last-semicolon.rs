//! The last binding without its `;`.

use evently::prelude::*;

evently! {
    http GET "/" => index
}

fn main() {}
