//! A path parameter that shares its segment with text.

use evently::prelude::*;

evently! {
    rest GET "/files/{name}.json" => get_file;
}

fn main() {}
