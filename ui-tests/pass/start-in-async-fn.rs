//! `App::start` serves in the background from any async fn, as tests do.

use evently::prelude::*;

evently! {
    http GET "/" => index;
}

async fn index() -> &'static str {
    "hello"
}

async fn serve() -> evently::Result<()> {
    let running = App::from_env()?.start().await?;
    println!("listening on {}", running.local_addr());
    running.shutdown().await;
    Ok(())
}

fn main() {
    // Built, not polled: no runtime is needed to check that it compiles.
    let _serving = serve();
}
