#include "persisting/status.h"

#include <gtest/gtest.h>

#include <memory>

namespace persisting {
namespace {

TEST(StatusTest, OkAndErrors) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.code(), Code::kOk);
  EXPECT_EQ(ok.to_string(), "OK");
  EXPECT_TRUE(Status::OK().ok());
  Status e = InvalidArgument("topic 'a/b': contains '/'");
  EXPECT_FALSE(e.ok());
  EXPECT_EQ(e.code(), Code::kInvalidArgument);
  EXPECT_EQ(e.message(), "topic 'a/b': contains '/'");
  EXPECT_EQ(e.to_string(), "InvalidArgument: topic 'a/b': contains '/'");
}

TEST(StatusTest, HelpersSetTheirCodes) {
  EXPECT_EQ(NotFound("x").code(), Code::kNotFound);
  EXPECT_EQ(AlreadyExists("x").code(), Code::kAlreadyExists);
  EXPECT_EQ(FailedPrecondition("x").code(), Code::kFailedPrecondition);
  EXPECT_EQ(OutOfRange("x").code(), Code::kOutOfRange);
  EXPECT_EQ(IOError("x").code(), Code::kIOError);
  EXPECT_EQ(Corruption("x").code(), Code::kCorruption);
  EXPECT_EQ(NotSupported("x").code(), Code::kNotSupported);
  EXPECT_EQ(Unavailable("x").code(), Code::kUnavailable);
  EXPECT_EQ(DeadlineExceeded("x").code(), Code::kDeadlineExceeded);
  EXPECT_EQ(ResourceExhausted("x").code(), Code::kResourceExhausted);
  EXPECT_EQ(Internal("x").code(), Code::kInternal);
}

TEST(StatusTest, CodeNames) {
  EXPECT_EQ(code_name(Code::kOk), "OK");
  EXPECT_EQ(code_name(Code::kCorruption), "Corruption");
  EXPECT_EQ(code_name(Code::kUnauthenticated), "Unauthenticated");
  EXPECT_EQ(code_name(Code::kInternal), "Internal");
  EXPECT_EQ(Corruption("bad crc").to_string(), "Corruption: bad crc");
}

TEST(StatusTest, WithContextPrefixesErrorsOnly) {
  Status e = IOError("write failed").with_context("bucket 3");
  EXPECT_EQ(e.code(), Code::kIOError);
  EXPECT_EQ(e.message(), "bucket 3: write failed");
  EXPECT_EQ(e.with_context("topic 't'").message(), "topic 't': bucket 3: write failed");
  EXPECT_TRUE(Status::OK().with_context("bucket 3").ok());
  EXPECT_EQ(Status::OK().with_context("bucket 3").message(), "");
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> v = 42;
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(static_cast<bool>(v));
  EXPECT_EQ(*v, 42);
  EXPECT_EQ(v.value(), 42);
  EXPECT_TRUE(v.status().ok());

  Result<int> e = NotFound("no topic 't'");
  EXPECT_FALSE(e.ok());
  EXPECT_FALSE(static_cast<bool>(e));
  EXPECT_EQ(e.status().code(), Code::kNotFound);
  EXPECT_EQ(e.status().message(), "no topic 't'");
}

TEST(ResultTest, MoveOnlyValuesAndArrow) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(**r, 5);
  std::unique_ptr<int> taken = std::move(r).value();
  EXPECT_EQ(*taken, 5);
  Result<std::string> s = std::string("abc");
  EXPECT_EQ(s->size(), 3u);
}

Result<int> half(int x) {
  if (x % 2 != 0) return InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Result<int> quarter(int x) {
  PERSISTING_ASSIGN_OR_RETURN(int h, half(x));
  PERSISTING_ASSIGN_OR_RETURN(int q, half(h));
  return q;
}

Status check_even(int x) {
  PERSISTING_RETURN_IF_ERROR(half(x).status());
  return Status::OK();
}

TEST(ResultTest, Macros) {
  EXPECT_EQ(*quarter(8), 2);
  Result<int> r = quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "3 is odd");
  EXPECT_TRUE(check_even(4).ok());
  EXPECT_EQ(check_even(5).code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace persisting
