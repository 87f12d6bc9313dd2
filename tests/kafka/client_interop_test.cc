// Real clients against StubBroker (a loopback stand-in built only from the protocol library):
// kcat (librdkafka 2.0.2) and kafka-python 2.0.2 produce through our request decoders, and
// consume what our response encoders and our RecordBatch encoder (re-compressed with another
// codec) wrote. The messages must come back identical.
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "kafka/stub_broker.h"
#include "util/run_process.h"

namespace persisting::kafka {
namespace {

using persisting::testing::run_process;
using testing::StubBroker;

std::string messages(int n) {
  std::string in;
  for (int i = 0; i < n; ++i) {
    in += "key" + std::to_string(i) + ":value " + std::to_string(i) + " " + std::string(static_cast<size_t>(i % 50), 'v') +
          "\n";
  }
  return in;
}

std::vector<std::string> kcat(const std::vector<std::string>& args, const std::string& input = "") {
  std::vector<std::string> argv = {"/usr/bin/timeout", "60", "kcat"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run_process(argv, input);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t nl = r.out.find('\n', pos);
    if (nl == std::string::npos) nl = r.out.size();
    lines.push_back(r.out.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

struct Pairing {
  const char* produce_codec;   // what kcat compresses with (-z)
  Compression produce_expect;  // the codec its batches must carry
  Compression serve_codec;     // what the stub re-encodes fetched batches with
};

void PrintTo(const Pairing& p, std::ostream* os) {
  *os << "kcat -z " << p.produce_codec << ", served as " << compression_name(p.serve_codec);
}

class KafkaKcatInterop : public ::testing::TestWithParam<Pairing> {};

TEST_P(KafkaKcatInterop, ProduceThenConsumeIdentical) {
  const Pairing p = GetParam();
  StubBroker broker(p.serve_codec);
  ASSERT_NE(broker.port(), 0);
  const int n = 500;
  std::string in = messages(n);
  kcat({"-P", "-b", broker.address(), "-t", "t", "-p", "0", "-K:", "-z", p.produce_codec, "-H", "h=x", "-X",
        "linger.ms=50"},
       in);
  EXPECT_TRUE(broker.errors().empty()) << broker.errors()[0];
  // What the broker decoded.
  std::vector<RecordBatch> batches = broker.batches("t");
  ASSERT_FALSE(batches.empty());
  size_t records = 0;
  for (const RecordBatch& b : batches) records += b.records.size();
  EXPECT_EQ(records, static_cast<size_t>(n));
  // librdkafka falls back to no compression when it thinks the broker lacks the codec, and sends a
  // batch uncompressed when compressing did not make it smaller (a small batch split off by linger).
  size_t compressed = 0;
  for (const RecordBatch& b : batches) {
    if (b.compression() == p.produce_expect) {
      compressed += b.records.size();
    } else {
      EXPECT_EQ(b.compression(), Compression::kNone) << p.produce_codec;
    }
  }
  EXPECT_GE(compressed, static_cast<size_t>(n) / 2) << p.produce_codec << ": " << batches.size() << " batches";
  // Read back through our Fetch responses and re-encoded batches.
  auto out = kcat({"-C", "-b", broker.address(), "-t", "t", "-p", "0", "-o", "beginning", "-e", "-f", "%k:%s|%h\n"});
  ASSERT_EQ(out.size(), static_cast<size_t>(n));
  std::string back;
  for (const std::string& line : out) {
    size_t bar = line.rfind('|');
    ASSERT_NE(bar, std::string::npos) << line;
    EXPECT_EQ(line.substr(bar + 1), "h=x");
    back += line.substr(0, bar) + "\n";
  }
  EXPECT_EQ(back, in);
  EXPECT_TRUE(broker.errors().empty()) << broker.errors()[0];
}

INSTANTIATE_TEST_SUITE_P(Codecs, KafkaKcatInterop,
                         ::testing::Values(Pairing{"none", Compression::kNone, Compression::kZstd},
                                           Pairing{"gzip", Compression::kGzip, Compression::kSnappy},
                                           Pairing{"snappy", Compression::kSnappy, Compression::kGzip},
                                           Pairing{"lz4", Compression::kLz4, Compression::kNone},
                                           Pairing{"zstd", Compression::kZstd, Compression::kLz4}),
                         [](const auto& info) { return std::string(info.param.produce_codec); });

TEST(KafkaPythonInterop, ProduceThenConsumeIdentical) {
  StubBroker broker(Compression::kGzip);
  ASSERT_NE(broker.port(), 0);
  const std::string script = R"(
import sys
from kafka import KafkaProducer, KafkaConsumer, TopicPartition
addr = sys.argv[1]
p = KafkaProducer(bootstrap_servers=addr, compression_type='gzip', linger_ms=20)
for i in range(300):
    p.send('t', key=b'k%d' % i, value=b'v%d' % i, headers=[('h', b'%d' % i)], partition=0)
p.flush(20); p.close(5)
c = KafkaConsumer(bootstrap_servers=addr, enable_auto_commit=False, consumer_timeout_ms=5000)
tp = TopicPartition('t', 0)
c.assign([tp]); c.seek_to_beginning(tp)
got = []
for m in c:
    got.append(m)
    if len(got) == 300: break
c.close()
assert len(got) == 300, len(got)
for i, m in enumerate(got):
    assert m.offset == i, (i, m.offset)
    assert m.key == b'k%d' % i and m.value == b'v%d' % i, m
    assert m.headers == [('h', b'%d' % i)], m.headers
print('ok')
)";
  auto r = run_process({"/usr/bin/timeout", "90", "/usr/bin/python3", "-c", script, broker.address()});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(r.out, "ok\n") << r.err;
  EXPECT_TRUE(broker.errors().empty()) << broker.errors()[0];
  size_t records = 0;
  for (const RecordBatch& b : broker.batches("t")) records += b.records.size();
  EXPECT_EQ(records, 300u);
}

}  // namespace
}  // namespace persisting::kafka
