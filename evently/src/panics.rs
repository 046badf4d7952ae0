//! What every entry does with a handler's panic: read its message for the
//! log, then answer or retry as the protocol wants.

use std::any::Any;

/// The message a panic was raised with.
pub(crate) fn message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
