// Status <-> grpc::Status. The gRPC code carries the coarse class (UNAVAILABLE, NOT_FOUND, ...);
// the exact persisting Code travels as its name in the status's error_details, so a Status
// crosses the wire and comes back with the same code and message (docs/wire-protocol.md).
// Internal to src/net: includes grpcpp.
#pragma once

#include <grpcpp/support/status.h>

#include "persisting/status.h"

namespace persisting::net {

grpc::Status to_grpc(const Status& s);
// context prefixes the message when the error came from gRPC itself rather than a node
// ("owner n2 at 127.0.0.1:7071").
Status from_grpc(const grpc::Status& s, const std::string& context = "");

}  // namespace persisting::net
