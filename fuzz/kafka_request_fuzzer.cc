// libFuzzer target for the Kafka request decoder (src/kafka/protocol): what a broker connection
// hands over from the network. Decoding must never crash, never read out of bounds and never
// allocate by an unchecked length; what decodes must re-encode to bytes that decode to the same
// value (the decoder and the encoder agree on the wire format).
//
// Input layout: byte 0 picks the target, the rest is its input.
//   0 (and any even byte): a request frame without its 4-byte size (decode_request);
//   1 (and any odd byte):  a Produce records blob (decode_record_batches with a 1 MiB
//                          decompression limit; each batch re-encoded with its codec must decode to
//                          the same batch).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "kafka/protocol/record_batch.h"
#include "kafka/protocol/request.h"

using namespace persisting;
using namespace persisting::kafka;

namespace {

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

template <class Msg>
void re_encode(const Msg& m, int16_t version) {
  std::string out;
  Writer w(&out);
  m.encode(w, version);
  Reader r(out);
  auto back = Msg::decode(r, version);
  check(back.ok(), "a decoded request does not decode after re-encoding");
  check(r.empty(), "re-encoded request has bytes left after decoding");
  check(*back == m, "a decoded request changed through encode + decode");
}

void fuzz_request(std::string_view frame) {
  auto req = decode_request(frame);
  if (!req.ok()) return;
  const int16_t v = req->header.api_version;
  std::visit(
      [&](const auto& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (!std::is_same_v<T, UnsupportedRequest>) re_encode(body, v);
      },
      req->body);
  // The header re-encodes to the same header.
  std::string out = encode_request_frame(req->header, ApiVersionsRequest{});
  Reader r(std::string_view(out).substr(4));
  auto h = decode_request_header(r);
  check(h.ok() && *h == req->header, "request header changed through encode + decode");
  if (auto* p = std::get_if<ProduceRequest>(&req->body)) {
    DecodeLimits limits;
    limits.max_decompressed_bytes = 1u << 20;
    for (const auto& t : p->topics) {
      for (const auto& part : t.partitions) (void)decode_record_batches(part.records, limits);
    }
  }
}

void fuzz_records(std::string_view blob) {
  DecodeLimits limits;
  limits.max_decompressed_bytes = 1u << 20;
  auto batches = decode_record_batches(blob, limits);
  auto spans = scan_record_batches(blob);
  if (!batches.ok()) return;
  check(spans.ok() && spans->size() == batches->size(), "scan disagrees with decode");
  for (const RecordBatch& b : *batches) {
    std::string out;
    check(encode_record_batch(b, &out).ok(), "a decoded batch does not encode");
    auto back = decode_record_batches(out);
    check(back.ok() && back->size() == 1, "a re-encoded batch does not decode");
    check((*back)[0] == b, "a batch changed through encode + decode");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) == 0) {
    fuzz_request(in);
  } else {
    fuzz_records(in);
  }
  return 0;
}
