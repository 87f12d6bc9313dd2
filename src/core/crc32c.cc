#include "core/crc32c.h"

#include <isa-l/crc.h>

namespace persisting {

uint32_t crc32c_extend(uint32_t crc, std::string_view data) {
  // ISA-L's crc32_iscsi takes and returns the un-inverted register.
  uint32_t reg = crc ^ 0xFFFFFFFFu;
  reg = crc32_iscsi(reinterpret_cast<unsigned char*>(const_cast<char*>(data.data())),
                    static_cast<int>(data.size()), reg);
  return reg ^ 0xFFFFFFFFu;
}

uint32_t crc32c(std::string_view data) { return crc32c_extend(0, data); }

}  // namespace persisting
