//! Every word the `evently!` block gives a meaning to.

syn::custom_keyword!(state);

// Protocols that start a handler.
syn::custom_keyword!(http);
syn::custom_keyword!(rest);
syn::custom_keyword!(ws);
syn::custom_keyword!(soap);
syn::custom_keyword!(grpc);
syn::custom_keyword!(amqp);

// AMQP words, as RabbitMQ users know them.
syn::custom_keyword!(consume);
syn::custom_keyword!(subscribe);
syn::custom_keyword!(produce);
syn::custom_keyword!(exchange);
syn::custom_keyword!(key);
syn::custom_keyword!(prefetch);
syn::custom_keyword!(attempts);
syn::custom_keyword!(quorum);
syn::custom_keyword!(instantly);
syn::custom_keyword!(once_finished);
syn::custom_keyword!(fanout);
syn::custom_keyword!(topic);
syn::custom_keyword!(direct);
