//! An `http` entry with the path but no method.

use evently::prelude::*;

evently! {
    http "/" => index;
}

fn main() {}
