//! A SOAP entry, which this version does not serve yet.

use evently::prelude::*;

evently! {
    soap "/calculator" Add => add;
}

fn main() {}
