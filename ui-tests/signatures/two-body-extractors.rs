//! A handler with two parameters that read the request body.

use evently::prelude::*;
use serde::Deserialize;

evently! {
    rest POST "/notes" => create_note;
}

#[derive(Deserialize)]
struct Note {
    text: String,
}

async fn create_note(Json(note): Json<Note>, raw: String) -> Json<usize> {
    Json(note.text.len() + raw.len())
}

fn main() {
    let _ = App::from_env();
}
