// The record-batch compression codecs Kafka uses (attribute bits 0-2 of a RecordBatch): gzip
// (zlib), snappy (raw, or the xerial framing Java clients and librdkafka emit: detected by its
// magic), lz4 (the LZ4 frame format) and zstd. Decompression is bounded by a caller-given limit so
// that a small input cannot expand without bound (a zip bomb is an error, not an OOM).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "persisting/status.h"

namespace persisting::kafka {

enum class Compression : int8_t { kNone = 0, kGzip = 1, kSnappy = 2, kLz4 = 3, kZstd = 4 };

std::string_view compression_name(Compression c);  // "none", "gzip", ...
// From the low three bits of a batch's attributes; values 5-7 are errors.
Result<Compression> compression_from_attributes(int16_t attributes);

// Appends the compressed form of `in` to *out. Snappy is written with the xerial framing (what
// the Java client writes, and what every client reads).
Status compress(Compression c, std::string_view in, std::string* out);
// Appends the decompressed form of `in` to *out; more than max_output_bytes of output is a
// ResourceExhausted error. Snappy accepts raw and xerial-framed input.
Status decompress(Compression c, std::string_view in, size_t max_output_bytes, std::string* out);

}  // namespace persisting::kafka
