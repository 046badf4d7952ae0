//! Code generation for a block that passed `check`. Nothing here fails.
//!
//! The generated items are a state struct, one `HasState` impl per declared
//! state type, and the `App` newtype around `evently`'s runtime. Every path
//! into evently is absolute and goes through `::evently::__private`. To read
//! what a block expands to, run `cargo expand` on the module that holds it.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};

use syn::LitStr;

use crate::parse::{
    AmqpSource, Block, Entry, ExchangeRef, Flavor, ProduceTarget, Resource, ResourceKind,
};

pub(crate) fn app(block: &Block) -> TokenStream {
    let tys: Vec<_> = block.states.iter().map(|s| &s.ty).collect();
    let fields: Vec<_> = (0..tys.len())
        .map(|i| format_ident!("__evently_state_{i}"))
        .collect();
    let args: Vec<_> = (0..tys.len()).map(|i| format_ident!("state_{i}")).collect();

    let bindings = block.bindings.iter().map(|binding| {
        let handler = handler_name(&binding.handler);
        let resources = binding.resources.iter().map(resource);
        let resources = quote!(&[ #( #resources ),* ]);
        match &binding.entry {
            Entry::Http(http) => {
                let rest = http.flavor == Flavor::Rest;
                let method = &http.method.name;
                let path = &http.path.value;
                quote! {
                    ::evently::__private::http_binding(#rest, #method, #path, #resources, #handler)
                }
            }
            Entry::Ws { path, .. } => {
                let path = &path.value;
                quote!(::evently::__private::ws_binding(#path, #resources, #handler))
            }
            Entry::Amqp {
                source:
                    AmqpSource::Consume {
                        queue,
                        quorum,
                        exchange,
                        prefetch,
                        attempts,
                    },
                ..
            } => {
                let exchange = option(exchange.as_ref().map(exchange_binding));
                let prefetch = option(prefetch.as_ref().map(ToTokens::to_token_stream));
                let attempts = option(attempts.as_ref().map(ToTokens::to_token_stream));
                quote! {
                    ::evently::__private::consume_binding(
                        #queue, #quorum, #exchange, #prefetch, #attempts, #resources, #handler,
                    )
                }
            }
            Entry::Grpc { method, .. } => {
                let method = method.value();
                let path = format!("/{method}");
                quote!(::evently::__private::grpc_binding(#method, #path, #resources, #handler))
            }
            Entry::Soap {
                path, operation, ..
            } => {
                let path = &path.value;
                let operation = operation.to_string();
                quote! {
                    ::evently::__private::soap_binding(#path, #operation, #resources, #handler)
                }
            }
            Entry::Amqp {
                source: AmqpSource::Subscribe { exchange },
                ..
            } => {
                let exchange = exchange_binding(exchange);
                quote! {
                    ::evently::__private::subscribe_binding(#exchange, #resources, #handler)
                }
            }
        }
    });

    let routes = block.bindings.iter().enumerate().map(|(index, binding)| {
        let handler = &binding.handler;
        let producers = binding.resources.len();
        // A `ws` handler's resources are named by type, in binding order; the
        // others take producers only.
        let resources = match &binding.entry {
            Entry::Ws { .. } => {
                let types = binding.resources.iter().map(|r| match r.kind {
                    ResourceKind::Produce { .. } => quote!(::evently::amqp::Producer),
                    ResourceKind::Source(_) => quote!(::evently::amqp::Subscription),
                });
                quote!(( #( #types, )* ))
            }
            _ => quote!(#producers),
        };
        let check = match &binding.entry {
            Entry::Http(_) => quote!(http_handler),
            Entry::Ws { .. } => quote!(ws_handler),
            Entry::Grpc { .. } => quote!(grpc_handler),
            Entry::Soap { .. } => quote!(soap_handler),
            _ => quote!(amqp_handler),
        };
        // The span of the handler's name carries the error when the handler
        // does not fit its binding.
        let boxed = quote_spanned! {binding.handler_span()=>
            ::evently::__private::#check::<_, _, __EventlyState, #resources>(#handler)
        };
        quote!(routes.add(#index, #boxed);)
    });

    let doc_args = if tys.is_empty() {
        String::new()
    } else {
        "\n\nThe arguments are the block's `state` values, in declaration order.".to_owned()
    };
    let from_env_doc = format!(
        "Builds the service with configuration read from the environment \
         (see `evently::Config::from_env`).{doc_args}"
    );
    let with_config_doc = format!("Builds the service with the given configuration.{doc_args}");

    quote! {
        #[doc(hidden)]
        pub struct __EventlyState {
            #( #fields: #tys, )*
        }

        #(
            impl ::evently::__private::HasState<#tys> for __EventlyState {
                fn state(&self) -> &#tys {
                    &self.#fields
                }
            }
        )*

        /// The service declared by this module's `evently!` block.
        pub struct App {
            runtime: ::evently::__private::Runtime<__EventlyState>,
        }

        impl App {
            /// Every binding of the block, in declaration order.
            pub const TOPOLOGY: ::evently::Topology =
                ::evently::__private::topology(&[ #( #bindings ),* ]);

            #[doc = #from_env_doc]
            ///
            /// # Errors
            ///
            /// Fails with every invalid setting at once, or when the topology
            /// cannot be served.
            pub fn from_env(#( #args: #tys ),*) -> ::evently::Result<Self> {
                Self::with_config(::evently::Config::from_env()?, #( #args ),*)
            }

            #[doc = #with_config_doc]
            ///
            /// # Errors
            ///
            /// Fails when the topology cannot be served.
            pub fn with_config(
                config: ::evently::Config,
                #( #args: #tys ),*
            ) -> ::evently::Result<Self> {
                let mut routes = ::evently::__private::Routes::new(Self::TOPOLOGY)
                    .named(::core::env!("CARGO_PKG_NAME"), ::core::env!("CARGO_PKG_VERSION"));
                #( #routes )*
                let state = __EventlyState { #( #fields: #args, )* };
                let runtime = ::evently::__private::Runtime::new(config, state, routes)?;
                ::core::result::Result::Ok(App { runtime })
            }

            /// Wraps the HTTP service in a `tower` layer, such as one from
            /// `tower-http`.
            pub fn layer<L>(self, layer: L) -> Self
            where
                L: ::evently::__private::HttpLayer,
            {
                App { runtime: self.runtime.layer(layer) }
            }

            /// Serves until SIGTERM or Ctrl-C, then shuts down gracefully.
            ///
            /// # Errors
            ///
            /// Fails when the listener cannot be bound.
            pub async fn run(self) -> ::evently::Result<()> {
                self.runtime.run().await
            }

            /// Serves until `shutdown` completes, then shuts down gracefully.
            ///
            /// # Errors
            ///
            /// Fails when the listener cannot be bound.
            pub async fn run_until<F>(self, shutdown: F) -> ::evently::Result<()>
            where
                F: ::core::future::Future<Output = ()> + ::core::marker::Send + 'static,
            {
                self.runtime.run_until(shutdown).await
            }

            /// Binds the listener and serves in the background.
            ///
            /// # Errors
            ///
            /// Fails when the listener cannot be bound.
            pub async fn start(self) -> ::evently::Result<::evently::Running> {
                self.runtime.start().await
            }

            /// Starts the service in process, with no listener, for tests:
            /// see `evently::testing`.
            ///
            /// # Errors
            ///
            /// Does not fail today; the `Result` leaves room for checks.
            pub async fn test(self) -> ::evently::Result<::evently::testing::TestApp> {
                self.runtime.test().await
            }

            /// The HTTP service as a `tower::Service`, for serving it yourself.
            pub fn into_service(self) -> ::evently::http::HttpService {
                self.runtime.into_service()
            }
        }
    }
}

/// An `App` with the real one's methods and no body, emitted beside the
/// errors of an invalid block so that only those errors show.
pub(crate) fn stub(block: &Block) -> TokenStream {
    let tys: Vec<_> = block.states.iter().map(|s| &s.ty).collect();
    let args: Vec<_> = (0..tys.len())
        .map(|i| format_ident!("_state_{i}"))
        .collect();
    quote! {
        /// The service declared by this module's `evently!` block.
        pub struct App;

        #[allow(unused_variables, clippy::unused_async)]
        impl App {
            /// Every binding of the block, in declaration order.
            pub const TOPOLOGY: ::evently::Topology = ::evently::__private::topology(&[]);
            /// Not built: the block has errors.
            pub fn from_env(#( #args: #tys ),*) -> ::evently::Result<Self> {
                ::core::unreachable!()
            }
            /// Not built: the block has errors.
            pub fn with_config(
                config: ::evently::Config,
                #( #args: #tys ),*
            ) -> ::evently::Result<Self> {
                ::core::unreachable!()
            }
            /// Not built: the block has errors.
            pub fn layer<L>(self, layer: L) -> Self {
                ::core::unreachable!()
            }
            /// Not built: the block has errors.
            pub async fn run(self) -> ::evently::Result<()> {
                ::core::unreachable!()
            }
            /// Not built: the block has errors.
            pub async fn run_until<F>(self, shutdown: F) -> ::evently::Result<()> {
                ::core::unreachable!()
            }
            /// Not built: the block has errors.
            pub async fn start(self) -> ::evently::Result<::evently::Running> {
                ::core::unreachable!()
            }

            /// Not built: the block has errors.
            pub async fn test(self) -> ::evently::Result<::evently::testing::TestApp> {
                ::core::unreachable!()
            }
            /// Not built: the block has errors.
            pub fn into_service(self) -> ::evently::http::HttpService {
                ::core::unreachable!()
            }
        }
    }
}

fn resource(resource: &Resource) -> TokenStream {
    let (target, instantly, name) = match &resource.kind {
        ResourceKind::Produce {
            target,
            instantly,
            name,
        } => (target, instantly, name),
        ResourceKind::Source(AmqpSource::Consume {
            queue,
            quorum,
            exchange,
            ..
        }) => {
            let exchange = option(exchange.as_ref().map(exchange_binding));
            return quote! {
                ::evently::__private::source(::core::option::Option::Some(#queue), #quorum, #exchange)
            };
        }
        ResourceKind::Source(AmqpSource::Subscribe { exchange }) => {
            let exchange = option(Some(exchange_binding(exchange)));
            return quote!(::evently::__private::source(::core::option::Option::None, false, #exchange));
        }
    };
    let name = option(name.as_ref().map(|n| n.to_string().to_token_stream()));
    let (queue, exchange) = match target {
        ProduceTarget::Queue(queue) => (quote!(::core::option::Option::Some(#queue)), option(None)),
        ProduceTarget::Exchange(exchange) => {
            (option(None), option(Some(exchange_binding(exchange))))
        }
    };
    quote!(::evently::__private::produce(#name, #queue, #exchange, #instantly))
}

fn exchange_binding(exchange: &ExchangeRef) -> TokenStream {
    let name = &exchange.name;
    let kind = exchange.kind;
    let key = exchange
        .key
        .as_ref()
        .map_or_else(String::new, LitStr::value);
    quote!(::evently::__private::exchange(#name, #kind, #key))
}

fn option(value: Option<TokenStream>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

fn handler_name(path: &syn::Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}
