//! A catch-all parameter followed by more path.

use evently::prelude::*;

evently! {
    http GET "/files/{*rest}/meta" => file_meta;
}

fn main() {}
