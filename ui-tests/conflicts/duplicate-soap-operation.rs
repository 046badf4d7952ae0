//! The same SOAP operation bound to two handlers.

use evently::prelude::*;

evently! {
    soap "/calculator" Add => add;
    soap "/calculator" Add => add_again;
}

fn main() {}
