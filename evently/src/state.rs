//! Shared state declared in the block.

/// Implemented by the generated state of a block for each `state T;` it
/// declares. `State<T>` requires it, so asking for undeclared state does not
/// compile.
#[diagnostic::on_unimplemented(
    message = "no `state {T};` is declared in the `evently!` block",
    label = "`{T}` is not declared as state",
    note = "declare it in the block with `state {T};` and pass a value to `App::from_env`"
)]
pub trait HasState<T> {
    /// The declared value.
    fn state(&self) -> &T;
}
