//! Collects every error of a block before any is reported.

use proc_macro2::{Span, TokenStream};

/// The errors found so far. Parsing and checking push into it; the macro
/// reports them all at once, so a user fixes a block in one pass.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Option<syn::Error>,
}

impl Ctxt {
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.errors {
            Some(errors) => errors.combine(error),
            None => self.errors = Some(error),
        }
    }

    pub(crate) fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.push(syn::Error::new(span, message));
    }

    /// `compile_error!` invocations for every collected error, or `None`
    /// when the block is valid.
    pub(crate) fn finish(self) -> Option<TokenStream> {
        self.errors.map(|e| e.to_compile_error())
    }

    /// Every message collected so far, in order.
    #[cfg(test)]
    pub(crate) fn messages(&self) -> Vec<String> {
        self.errors
            .iter()
            .flat_map(|errors| errors.clone().into_iter())
            .map(|error| error.to_string())
            .collect()
    }
}
