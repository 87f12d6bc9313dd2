// CRC32C (Castagnoli), the checksum of WAL records. Backed by ISA-L's crc32_iscsi.
// crc32c("123456789") == 0xE3069283.
#pragma once

#include <cstdint>
#include <string_view>

namespace persisting {

uint32_t crc32c(std::string_view data);
// Extends a CRC computed over a prefix: crc32c_extend(crc32c(a), b) == crc32c(a + b).
uint32_t crc32c_extend(uint32_t crc, std::string_view data);

}  // namespace persisting
