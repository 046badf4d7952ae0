//! The same gRPC method bound to two handlers.

use evently::prelude::*;

evently! {
    grpc "calc.Calculator/Add" => add;
    grpc "calc.Calculator/Add" => add_again;
}

fn main() {}
