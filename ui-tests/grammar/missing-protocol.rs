//! A binding that starts with the HTTP method, without `http` or `rest`.

use evently::prelude::*;

evently! {
    GET "/" => index;
}

fn main() {}
