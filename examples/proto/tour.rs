//! The messages of `tour.proto`, derived by hand so that building the tour
//! needs no `protoc`. The interop test calls the tour with a client
//! generated from the `.proto`, which proves the two agree.

/// `tour.HelloRequest`.
#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
pub(crate) struct HelloRequest {
    /// Who to greet.
    #[prost(string, tag = "1")]
    pub(crate) name: String,
}

/// `tour.HelloReply`.
#[derive(Clone, PartialEq, evently::grpc::Message)]
#[prost(prost_path = "::evently::grpc::prost")]
pub(crate) struct HelloReply {
    /// The greeting.
    #[prost(string, tag = "1")]
    pub(crate) message: String,
}
