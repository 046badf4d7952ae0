//! The standard gRPC health service, `grpc.health.v1.Health/Check`, served
//! beside a block's own methods whenever it has any, so that load balancers
//! and Kubernetes' gRPC probes can ask without more code.
//!
//! The overall service (an empty `service` name) and every service the block
//! serves answer `SERVING` while the service is ready, as
//! `/_evently/ready` tells, and `NOT_SERVING` otherwise; any other name is
//! `NOT_FOUND`, as the protocol asks. `Watch` is not served
//! (`UNIMPLEMENTED`): clients fall back to polling `Check`.

use tonic::Status;

use crate::amqp::Readiness;
use crate::http::UnboundHandler;
use crate::topology::{Binding, Entry, Topology};

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct HealthCheckResponse {
    /// `ServingStatus`: 1 `SERVING`, 2 `NOT_SERVING`.
    #[prost(int32, tag = "1")]
    status: i32,
}

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

/// The binding the health service is routed by.
pub(crate) static CHECK: Binding = crate::__private::grpc_binding(
    "grpc.health.v1.Health/Check",
    "/grpc.health.v1.Health/Check",
    &[],
    "evently::grpc::health",
);

/// The services a topology serves, as `package.Service`.
fn services(topology: &Topology) -> Vec<String> {
    let mut services: Vec<String> = topology
        .bindings()
        .iter()
        .filter_map(|binding| match binding.entry() {
            Entry::Grpc { method, .. } => Some(method.split('/').next()?.to_owned()),
            _ => None,
        })
        .collect();
    services.sort();
    services.dedup();
    services
}

/// The health service's handler, or `None` when the block serves no gRPC
/// method or serves `Check` itself.
pub(crate) fn handler<S: Send + Sync + 'static>(
    topology: &Topology,
    readiness: Readiness,
) -> Option<UnboundHandler<S>> {
    let served = services(topology);
    if served.is_empty() || served.iter().any(|s| s == "grpc.health.v1.Health") {
        return None;
    }
    let check = move |request: HealthCheckRequest| {
        let known = request.service.is_empty() || served.contains(&request.service);
        let ready = readiness.not_ready().is_none();
        async move {
            if !known {
                return Err(Status::not_found(format!(
                    "this server serves no service `{}`",
                    request.service
                )));
            }
            let status = if ready { SERVING } else { NOT_SERVING };
            Ok::<_, Status>(HealthCheckResponse { status })
        }
    };
    Some(super::unbound::<_, (HealthCheckRequest,), S, 0>(check))
}
