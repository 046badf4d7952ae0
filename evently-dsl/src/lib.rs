//! The `evently!` block: parse, check, expand.
//!
//! This crate is an implementation detail of [`evently`]; depend on that
//! crate and use `evently::evently!`, which is documented there together with
//! the grammar of the block.
//!
//! The macro is a pipeline of three modules: `parse` turns tokens into a
//! syntax tree, `check` validates the topology and only reports errors, and
//! `expand` generates the typed `App` and never fails. When the block has
//! errors a stub `App` is emitted beside them, so user code that names `App`
//! does not add a cascade of errors of its own.
//!
//! [`evently`]: https://docs.rs/evently

mod check;
mod ctxt;
mod expand;
mod kw;
mod parse;

use proc_macro::TokenStream;

/// Declares a service's topology and generates its `App`.
///
/// See the `evently` crate for the grammar and examples.
#[proc_macro]
pub fn evently(input: TokenStream) -> TokenStream {
    let mut cx = ctxt::Ctxt::default();
    let block = parse::block(input.into(), &mut cx);
    check::block(&block, &mut cx);
    match cx.finish() {
        None => expand::app(&block),
        Some(errors) => {
            let stub = expand::stub(&block);
            quote::quote!(#stub #errors)
        }
    }
    .into()
}
