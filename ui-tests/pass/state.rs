//! Shared state declared with `state T;` and received as `State<T>`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use evently::prelude::*;

evently! {
    state Counter;
    state Greeting;
    http GET "/count" => count;
    http GET "/greet" => greet;
}

#[derive(Clone, Default)]
struct Counter(Arc<AtomicU64>);

#[derive(Clone)]
struct Greeting(&'static str);

async fn count(State(counter): State<Counter>) -> String {
    counter.0.fetch_add(1, Ordering::Relaxed).to_string()
}

async fn greet(State(greeting): State<Greeting>, State(counter): State<Counter>) -> String {
    format!("{} #{}", greeting.0, counter.0.load(Ordering::Relaxed))
}

fn main() {
    let app = App::with_config(
        evently::Config::default(),
        Counter::default(),
        Greeting("hi"),
    );
    assert!(app.is_ok());
}
