//! A gRPC entry, which this version does not serve yet.

use evently::prelude::*;

evently! {
    grpc "calc.Calculator/Add" => add;
}

fn main() {}
