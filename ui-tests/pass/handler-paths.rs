//! Handlers named by a path into another module.

use evently::prelude::*;

evently! {
    http GET "/" => pages::index;
    rest GET "/health" => self::api::health;
}

mod pages {
    use evently::prelude::*;

    pub(crate) async fn index() -> Html<String> {
        Html("<h1>index</h1>".to_owned())
    }
}

mod api {
    use evently::prelude::*;

    pub(crate) async fn health() -> Json<bool> {
        Json(true)
    }
}

fn main() {
    assert_eq!(App::TOPOLOGY.bindings().len(), 2);
}
