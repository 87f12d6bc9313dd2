#include "net/grpc_status.h"

namespace persisting::net {
namespace {

grpc::StatusCode grpc_code(Code c) {
  switch (c) {
    case Code::kOk: return grpc::StatusCode::OK;
    case Code::kInvalidArgument: return grpc::StatusCode::INVALID_ARGUMENT;
    case Code::kNotFound: return grpc::StatusCode::NOT_FOUND;
    case Code::kAlreadyExists: return grpc::StatusCode::ALREADY_EXISTS;
    case Code::kFailedPrecondition: return grpc::StatusCode::FAILED_PRECONDITION;
    case Code::kOutOfRange: return grpc::StatusCode::OUT_OF_RANGE;
    case Code::kIOError: return grpc::StatusCode::INTERNAL;
    case Code::kCorruption: return grpc::StatusCode::DATA_LOSS;
    case Code::kNotSupported: return grpc::StatusCode::UNIMPLEMENTED;
    case Code::kUnavailable: return grpc::StatusCode::UNAVAILABLE;
    case Code::kDeadlineExceeded: return grpc::StatusCode::DEADLINE_EXCEEDED;
    case Code::kResourceExhausted: return grpc::StatusCode::RESOURCE_EXHAUSTED;
    case Code::kUnauthenticated: return grpc::StatusCode::UNAUTHENTICATED;
    case Code::kInternal: return grpc::StatusCode::INTERNAL;
  }
  return grpc::StatusCode::UNKNOWN;
}

Code from_grpc_code(grpc::StatusCode c) {
  switch (c) {
    case grpc::StatusCode::OK: return Code::kOk;
    case grpc::StatusCode::INVALID_ARGUMENT: return Code::kInvalidArgument;
    case grpc::StatusCode::NOT_FOUND: return Code::kNotFound;
    case grpc::StatusCode::ALREADY_EXISTS: return Code::kAlreadyExists;
    case grpc::StatusCode::FAILED_PRECONDITION: return Code::kFailedPrecondition;
    case grpc::StatusCode::OUT_OF_RANGE: return Code::kOutOfRange;
    case grpc::StatusCode::DATA_LOSS: return Code::kCorruption;
    case grpc::StatusCode::UNIMPLEMENTED: return Code::kNotSupported;
    case grpc::StatusCode::UNAVAILABLE: return Code::kUnavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED: return Code::kDeadlineExceeded;
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return Code::kResourceExhausted;
    case grpc::StatusCode::UNAUTHENTICATED: return Code::kUnauthenticated;
    case grpc::StatusCode::PERMISSION_DENIED: return Code::kUnauthenticated;
    case grpc::StatusCode::CANCELLED: return Code::kUnavailable;
    default: return Code::kInternal;
  }
}

}  // namespace

grpc::Status to_grpc(const Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(grpc_code(s.code()), s.message(), std::string(code_name(s.code())));
}

Status from_grpc(const grpc::Status& s, const std::string& context) {
  if (s.ok()) return Status::OK();
  const std::string& details = s.error_details();
  if (!details.empty()) {
    for (int c = 1; c <= static_cast<int>(Code::kInternal); ++c)
      if (code_name(static_cast<Code>(c)) == details) return Status(static_cast<Code>(c), s.error_message());
  }
  // Not from a node: the transport (connection refused, deadline, message too large, TLS).
  std::string msg = s.error_message();
  return Status(from_grpc_code(s.error_code()), context.empty() ? msg : context + ": " + msg);
}

}  // namespace persisting::net
