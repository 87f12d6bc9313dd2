#include "kafka/broker/error_codes.h"

#include <gtest/gtest.h>

#include <string>

namespace persisting::kafka {
namespace {

TEST(KafkaErrorCodes, ValuesAreTheProtocolGuides) {
  EXPECT_EQ(error_value(ErrorCode::UNKNOWN_SERVER_ERROR), -1);
  EXPECT_EQ(error_value(ErrorCode::NONE), 0);
  EXPECT_EQ(error_value(ErrorCode::NOT_LEADER_OR_FOLLOWER), 6);
  EXPECT_EQ(error_value(ErrorCode::NOT_COORDINATOR), 16);
  EXPECT_EQ(error_value(ErrorCode::ILLEGAL_GENERATION), 22);
  EXPECT_EQ(error_value(ErrorCode::REBALANCE_IN_PROGRESS), 27);
  EXPECT_EQ(error_value(ErrorCode::UNSUPPORTED_VERSION), 35);
  EXPECT_EQ(error_value(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER), 45);
  EXPECT_EQ(error_value(ErrorCode::SASL_AUTHENTICATION_FAILED), 58);
  EXPECT_EQ(error_value(ErrorCode::UNKNOWN_PRODUCER_ID), 59);
  EXPECT_EQ(error_value(ErrorCode::GROUP_ID_NOT_FOUND), 69);
  EXPECT_EQ(error_value(ErrorCode::UNSUPPORTED_COMPRESSION_TYPE), 76);
  EXPECT_EQ(error_value(ErrorCode::MEMBER_ID_REQUIRED), 79);
  EXPECT_EQ(error_value(ErrorCode::FENCED_INSTANCE_ID), 82);
  EXPECT_EQ(error_value(ErrorCode::INVALID_RECORD), 87);
  EXPECT_EQ(error_value(ErrorCode::UNSTABLE_OFFSET_COMMIT), 88);
  EXPECT_EQ(error_value(ErrorCode::PRODUCER_FENCED), 90);
}

TEST(KafkaErrorCodes, NamesAreTheProtocolGuides) {
  EXPECT_STREQ(error_name(ErrorCode::NONE), "NONE");
  EXPECT_STREQ(error_name(ErrorCode::COORDINATOR_LOAD_IN_PROGRESS), "COORDINATOR_LOAD_IN_PROGRESS");
  EXPECT_STREQ(error_name(ErrorCode::MEMBER_ID_REQUIRED), "MEMBER_ID_REQUIRED");
  EXPECT_STREQ(error_name(static_cast<ErrorCode>(99)), "UNKNOWN_ERROR_CODE");
  EXPECT_STREQ(error_name(static_cast<ErrorCode>(-2)), "UNKNOWN_ERROR_CODE");
}

}  // namespace
}  // namespace persisting::kafka
