//! A `Json<T>` return type whose `T` does not implement `Serialize`.

use evently::prelude::*;

evently! {
    rest GET "/notes" => list_notes;
}

struct Note {
    text: String,
}

async fn list_notes() -> Json<Vec<Note>> {
    Json(vec![Note { text: "hi".into() }])
}

fn main() {}
