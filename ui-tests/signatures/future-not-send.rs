//! A handler whose future is not `Send`: it holds an `Rc` across an `.await`.

use std::rc::Rc;

use evently::prelude::*;

evently! {
    http GET "/" => index;
}

async fn index() -> String {
    let name = Rc::new(String::from("hello"));
    tick().await;
    name.to_string()
}

async fn tick() {}

fn main() {}
