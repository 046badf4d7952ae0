//! A `Json<T>` parameter whose `T` does not implement `Deserialize`.

use evently::prelude::*;

evently! {
    rest POST "/notes" => create_note;
}

struct Note {
    text: String,
}

async fn create_note(Json(note): Json<Note>) -> Json<usize> {
    Json(note.text.len())
}

fn main() {}
