// The adapters behind engine.h: the embedded Queue and the remote Client have the same method
// names, so one template serves both.
#include "engine.h"

#include <type_traits>

#include "core/status_macros.h"
#include "queue/partitioning.h"
#include "work_pool.h"

namespace persisting::python {
namespace {

template <typename W>
class WriterOver final : public Writer {
 public:
  explicit WriterOver(std::unique_ptr<W> w) : w_(std::move(w)) {}
  const TopicInfo& topic() const override { return w_->topic(); }
  Result<Position> put(const Record& record) override { return w_->put(record); }
  Status flush() override { return w_->flush(); }
  Result<Object> stats() override { return w_->stats(); }

 protected:
  Status put_batch(const std::vector<Record>& records, PutReport* report) override {
    return w_->put(records, report);
  }

 private:
  std::unique_ptr<W> w_;
};

template <typename R>
class ReaderOver final : public Reader {
 public:
  explicit ReaderOver(std::unique_ptr<R> r) : r_(std::move(r)) {}
  const TopicInfo& topic() const override { return r_->topic(); }
  const std::vector<BucketId>& buckets() const override { return r_->buckets(); }
  Result<std::vector<Message>> get(size_t limit, bool wait,
                                   std::chrono::milliseconds timeout) override {
    return r_->get(limit, wait, timeout);
  }
  void get_async(size_t limit, bool wait, std::chrono::milliseconds timeout,
                 GetCallback done) override {
    if constexpr (std::is_same_v<R, QueueReader>) {
      r_->get_async(limit, wait, timeout, std::move(done));
    } else {
      WorkPool::shared().submit([this, limit, wait, timeout, done = std::move(done)] {
        done(r_->get(limit, wait, timeout));
      });
    }
  }
  void reset() override { r_->reset(); }
  Status set_offset(Offset offset, std::optional<BucketId> bucket) override {
    return r_->set_offset(offset, bucket);
  }
  std::vector<Offset> offsets() const override { return r_->offsets(); }
  Status commit() override { return r_->commit(); }
  Status close() override { return r_->close(); }

 private:
  std::unique_ptr<R> r_;
};

template <typename S>
class SystemOver final : public System {
 public:
  explicit SystemOver(std::unique_ptr<S> s) : s_(std::move(s)) {}
  bool remote() const override { return !std::is_same_v<S, Queue>; }
  std::string data_dir() const override {
    if constexpr (std::is_same_v<S, Queue>) return s_->data_dir();
    return "";
  }
  Result<std::unique_ptr<Writer>> writer(const WriterOptions& options) override {
    auto w = s_->writer(options);
    if (!w.ok()) return w.status();
    using W = typename std::remove_reference_t<decltype(**w)>;
    return std::unique_ptr<Writer>(new WriterOver<W>(std::move(*w)));
  }
  Result<std::unique_ptr<Reader>> reader(const ReaderOptions& options) override {
    auto r = s_->reader(options);
    if (!r.ok()) return r.status();
    using R = typename std::remove_reference_t<decltype(**r)>;
    return std::unique_ptr<Reader>(new ReaderOver<R>(std::move(*r)));
  }
  Result<TopicInfo> topic(const std::string& name) override { return s_->topic(name); }
  Result<Object> stats(const std::string& topic) override { return s_->stats(topic); }
  Status delete_topic(const std::string& topic) override { return s_->delete_topic(topic); }
  Status alter_topic(const std::string& topic, const Retention& r) override { return s_->alter_topic(topic, r); }
  Status flush() override { return s_->flush(); }

 private:
  std::unique_ptr<S> s_;
};

}  // namespace

Result<PutOutcome> Writer::put_many(const std::vector<Record>& records) {
  PutOutcome out;
  out.buckets.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    auto b = queue::bucket_of(topic(), records[i]);
    if (!b.ok()) return b.status().with_context("record " + std::to_string(i));
    out.buckets.push_back(*b);
  }
  PutReport report;
  RETURN_IF_ERROR(put_batch(records, &report));
  // Each bucket's part is written at consecutive offsets from its first, in batch order.
  out.offsets.assign(records.size(), std::nullopt);
  for (const auto& part : report.parts) {
    if (!part.acknowledged) continue;
    for (size_t k = 0; k < part.records.size(); ++k) out.offsets[part.records[k]] = part.first.value() + k;
  }
  return out;
}

// The records are freed after done has run: done wakes the caller's loop, which goes on with
// the answer while this thread frees them (freeing first made every put wait for it).
void Writer::put_async(Record record, PutCallback done) {
  WorkPool::shared().submit([this, record = std::move(record), done = std::move(done)]() mutable {
    done(put(record));
  });
}

void Writer::put_many_async(std::vector<Record> records, PutManyCallback done) {
  WorkPool::shared().submit([this, records = std::move(records), done = std::move(done)]() mutable {
    done(put_many(records));
  });
}

Result<std::unique_ptr<System>> open_embedded(QueueOptions options) {
  auto q = Queue::open(std::move(options));
  if (!q.ok()) return q.status();
  return std::unique_ptr<System>(new SystemOver<Queue>(std::move(*q)));
}

Result<std::unique_ptr<System>> connect_remote(ClientOptions options) {
  auto c = Client::connect(std::move(options));
  if (!c.ok()) return c.status();
  return std::unique_ptr<System>(new SystemOver<Client>(std::move(*c)));
}

Result<uint32_t> bucket_of(const TopicInfo& info, const Value& value) {
  Record r;
  r.set(info.bucket_column, value);
  return queue::bucket_of(info, r);
}

}  // namespace persisting::python
