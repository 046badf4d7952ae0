//! The `evently!` block's compile-time checks, one mistake per file.
//!
//! Each compile-fail case has its expected compiler output beside it in a
//! `.stderr` file, pinned to the toolchain of `rust-toolchain.toml`. After a
//! deliberate change to a diagnostic, regenerate them with
//! `TRYBUILD=overwrite cargo test -p evently-ui-tests` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("pass/*.rs");
    t.compile_fail("grammar/*.rs");
    t.compile_fail("conflicts/*.rs");
    t.compile_fail("state/*.rs");
    t.compile_fail("signatures/*.rs");
    t.compile_fail("not-served/*.rs");
}
