#include "core/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace persisting {
namespace {

TEST(Crc32cTest, KnownValues) {
  EXPECT_EQ(crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(crc32c(""), 0u);
  // RFC 3720 (iSCSI) appendix B.4 test vectors.
  EXPECT_EQ(crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  std::string inc;
  for (int i = 0; i < 32; ++i) inc.push_back(static_cast<char>(i));
  EXPECT_EQ(crc32c(inc), 0x46DD794Eu);
}

TEST(Crc32cTest, ExtendEqualsWholeAtEverySplit) {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 31 + 7));
  uint32_t whole = crc32c(data);
  for (size_t split = 0; split <= data.size(); ++split) {
    std::string_view a = std::string_view(data).substr(0, split);
    std::string_view b = std::string_view(data).substr(split);
    ASSERT_EQ(crc32c_extend(crc32c(a), b), whole) << "split at " << split;
  }
  EXPECT_EQ(crc32c_extend(crc32c("1234"), "56789"), 0xE3069283u);
  EXPECT_EQ(crc32c_extend(whole, ""), whole);
}

TEST(Crc32cTest, DetectsASingleBitFlip) {
  std::string data(1000, 'x');
  uint32_t good = crc32c(data);
  for (size_t i = 0; i < data.size(); i += 97) {
    std::string bad = data;
    bad[i] ^= 0x10;
    EXPECT_NE(crc32c(bad), good) << i;
  }
}

}  // namespace
}  // namespace persisting
