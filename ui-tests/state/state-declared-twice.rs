//! The same state type declared twice.

use evently::prelude::*;

evently! {
    state Pool;
    state Pool;
}

#[derive(Clone)]
struct Pool;

fn main() {}
