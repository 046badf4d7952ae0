//! A `+ consume` resource, which this version does not serve yet.

use evently::prelude::*;

evently! {
    rest POST "/questions" + amqp consume "answers" => ask;
}

fn main() {}
