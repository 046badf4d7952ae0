//! A `rest` handler returning `Result<Json<T>, Problem>`.

use evently::prelude::*;
use serde::Serialize;

evently! {
    rest GET "/users/{id}" => get_user;
}

#[derive(Serialize)]
struct User {
    id: u32,
    name: String,
}

async fn get_user(Path(id): Path<u32>) -> Result<Json<User>, Problem> {
    if id == 1 {
        Ok(Json(User {
            id,
            name: "Ada".into(),
        }))
    } else {
        Err(Problem::not_found(format!("no user {id}")))
    }
}

fn main() {
    assert_eq!(App::TOPOLOGY.bindings().len(), 1);
}
