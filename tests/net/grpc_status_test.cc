// Status <-> grpc::Status: every persisting code survives the round trip with its message;
// errors made by gRPC itself map by code and carry the context they happened in.
#include <gtest/gtest.h>

#include "net/grpc_status.h"

namespace persisting::net {
namespace {

TEST(GrpcStatus, EveryCodeRoundTripsWithItsMessage) {
  for (int c = 1; c <= static_cast<int>(Code::kInternal); ++c) {
    Status s(static_cast<Code>(c), "topic 't' bucket 3: something");
    grpc::Status g = to_grpc(s);
    EXPECT_FALSE(g.ok());
    Status back = from_grpc(g);
    EXPECT_EQ(back.code(), s.code()) << code_name(s.code());
    EXPECT_EQ(back.message(), s.message());
  }
  EXPECT_TRUE(to_grpc(Status::OK()).ok());
  EXPECT_TRUE(from_grpc(grpc::Status::OK).ok());
}

TEST(GrpcStatus, TransportErrorsMapByCodeWithContext) {
  Status s = from_grpc(grpc::Status(grpc::StatusCode::UNAVAILABLE, "failed to connect"), "owner n2 (h:1) unavailable");
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(s.message(), "owner n2 (h:1) unavailable: failed to connect");
  EXPECT_EQ(from_grpc(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "too big")).code(), Code::kResourceExhausted);
  EXPECT_EQ(from_grpc(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "late")).code(), Code::kDeadlineExceeded);
  EXPECT_EQ(from_grpc(grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no")).code(), Code::kUnauthenticated);
  EXPECT_EQ(from_grpc(grpc::Status(grpc::StatusCode::UNKNOWN, "?")).code(), Code::kInternal);
  // Unknown details (another server): the gRPC code decides.
  EXPECT_EQ(from_grpc(grpc::Status(grpc::StatusCode::NOT_FOUND, "x", "NoSuchCode")).code(), Code::kNotFound);
}

}  // namespace
}  // namespace persisting::net
