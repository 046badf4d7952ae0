"""Calls the tour's gRPC service with a stock grpcio client.

Usage: grpc_client.py PROTO ADDRESS

Generates the client stubs from PROTO with grpc_tools.protoc into a
temporary directory, then calls tour.Greeter's methods at ADDRESS
(host:port) and prints one line per result, which tests/grpc.rs reads:

    unary: <message>
    stream: <message>          (once per reply)
    unimplemented: <status code name>
    health: <serving status name>   (grpc.health.v1, from grpcio-health-checking)
"""

import importlib
import os
import sys
import tempfile

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_tools import protoc


def generate(proto, out):
    """Writes tour_pb2.py and tour_pb2_grpc.py for PROTO into OUT."""
    include = os.path.dirname(os.path.abspath(proto))
    well_known = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    code = protoc.main(
        [
            "grpc_tools.protoc",
            f"-I{include}",
            f"-I{well_known}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            os.path.abspath(proto),
        ]
    )
    if code != 0:
        sys.exit(f"grpc_tools.protoc failed on {proto} with exit code {code}")


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: grpc_client.py PROTO ADDRESS")
    proto, address = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as out:
        generate(proto, out)
        sys.path.insert(0, out)
        messages = importlib.import_module("tour_pb2")
        services = importlib.import_module("tour_pb2_grpc")

        with grpc.insecure_channel(address) as channel:
            greeter = services.GreeterStub(channel)
            request = messages.HelloRequest(name="Ada")

            reply = greeter.SayHello(request, timeout=10)
            print(f"unary: {reply.message}", flush=True)

            for reply in greeter.SayHelloStream(request, timeout=10):
                print(f"stream: {reply.message}", flush=True)

            # A method the service does not serve, called the way a stub
            # of a newer .proto would.
            missing = channel.unary_unary(
                "/tour.Greeter/SayGoodbye",
                request_serializer=messages.HelloRequest.SerializeToString,
                response_deserializer=messages.HelloReply.FromString,
            )
            try:
                missing(request, timeout=10)
                print("unimplemented: OK", flush=True)
            except grpc.RpcError as error:
                print(f"unimplemented: {error.code().name}", flush=True)

            # The standard health service, through its stock stub.
            health = health_pb2_grpc.HealthStub(channel)
            answer = health.Check(health_pb2.HealthCheckRequest(service="tour.Greeter"), timeout=10)
            status = health_pb2.HealthCheckResponse.ServingStatus.Name(answer.status)
            print(f"health: {status}", flush=True)


if __name__ == "__main__":
    main()
