"""gRPC server reflection as `grpc.reflection.v1` and `grpc.reflection.v1alpha`.

grpcio-reflection ships only v1alpha. Tools moving to v1 (grpcurl 1.9+, Postman, grpcui) ask
for `grpc.reflection.v1.ServerReflection` first. The two protocols are the same messages with
the same field numbers in another package, so v1 is served by the same servicer: requests and
answers are byte for byte what v1alpha's classes read and write. Its descriptor (for tools that
describe the reflection service itself) is v1alpha's, renamed into the v1 package.
"""

from __future__ import annotations

from typing import Any

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2, reflection_pb2_grpc

V1_SERVICE = "grpc.reflection.v1.ServerReflection"
V1_FILE = "grpc/reflection/v1/reflection.proto"
_V1ALPHA_PACKAGE = reflection_pb2.DESCRIPTOR.package  # grpc.reflection.v1alpha
_V1_PACKAGE = "grpc.reflection.v1"


def add_reflection(server: Any, service_names: tuple[str, ...]) -> None:
    """Serve reflection for `service_names` (plus both reflection services) on `server`."""
    _register_v1_descriptor(descriptor_pool.Default())
    names = (*service_names, reflection.SERVICE_NAME, V1_SERVICE)
    servicer = reflection.aio.ReflectionServicer(names)
    # `enable_server_reflection` would pick the servicer by the server's type, which a wrapper
    # such as bodies.GuardedServer hides: add the asyncio one directly.
    add_v1alpha: Any = reflection_pb2_grpc.add_ServerReflectionServicer_to_server  # untyped
    add_v1alpha(servicer, server)
    v1 = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_registered_method_handlers(V1_SERVICE, {"ServerReflectionInfo": v1})


def _register_v1_descriptor(pool: descriptor_pool.DescriptorPool) -> None:
    """Add the v1 reflection file to `pool` once, so reflection can describe itself as v1."""
    try:
        pool.FindFileByName(V1_FILE)
    except KeyError:
        pass
    else:
        return
    file = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(file)
    file.name, file.package = V1_FILE, _V1_PACKAGE
    file.ClearField("options")  # v1alpha's: deprecated, and its Java/Go package names
    for message in file.message_type:
        _rename_types(message)
    for service in file.service:
        for method in service.method:
            method.input_type = _renamed(method.input_type)
            method.output_type = _renamed(method.output_type)
    pool.Add(file)


def _rename_types(message: descriptor_pb2.DescriptorProto) -> None:
    for field in message.field:
        if field.HasField("type_name"):  # scalars have none, and setting "" would give one
            field.type_name = _renamed(field.type_name)
    for nested in message.nested_type:
        _rename_types(nested)


def _renamed(type_name: str) -> str:
    prefix = f".{_V1ALPHA_PACKAGE}."
    if type_name.startswith(prefix):
        return f".{_V1_PACKAGE}.{type_name.removeprefix(prefix)}"
    return type_name
