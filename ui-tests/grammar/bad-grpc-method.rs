//! A gRPC method that is not written `package.Service/Method`.

use evently::prelude::*;

evently! {
    grpc "Calculator.Add" => add;
}

fn main() {}
