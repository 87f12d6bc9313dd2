#include "runtime/bucket_storage.h"

#include <future>

namespace persisting::runtime {

BucketStorage::BucketStorage(Executor& executor, std::string topic, BucketId bucket,
                             std::unique_ptr<StorageBackend> backend, std::shared_ptr<AppendSignal> signal)
    : executor_(executor),
      mailbox_(Mailbox::create(executor)),
      topic_(std::move(topic)),
      bucket_(bucket),
      backend_(std::move(backend)),
      checks_batches_(backend_ && backend_->checks_batches()),
      signal_(std::move(signal)) {}

BucketStorage::~BucketStorage() = default;

Status BucketStorage::closed_error() const {
  if (!retired_.ok()) return retired_;
  return Unavailable("topic '" + topic_ + "' bucket " + std::to_string(bucket_.value()) +
                     " is closed");
}

namespace {

// The put message running on this thread, as (this thread's put count at its start); 0: none.
// A backend's done that finds its own put here runs inside that message, before it wakes the
// waiters; one that finds anything else (another thread, or a later message) runs after it.
thread_local uint64_t t_running_put = 0;
thread_local uint64_t t_puts = 0;

}  // namespace

void BucketStorage::put(RecordBatch batch, PutCallback cb, std::shared_ptr<void> hold) {
  mailbox_->post([self = shared_from_this(), batch = std::move(batch), cb = std::move(cb),
                  hold = std::move(hold)]() mutable {
    if (!self->backend_) return cb(self->closed_error());
    // done usually runs right here, inside this message; a backend that acknowledges after an
    // fsync calls it later from its own thread. The pair (thread, put count) tells the two apart
    // without a lock or an allocation per put.
    const uint64_t outer = t_running_put;
    const uint64_t me = t_running_put = ++t_puts;
    const uint64_t* thread = &t_running_put;
    self->backend_->put_batch_async(std::move(batch), [self, me, thread, cb = std::move(cb)](Result<Offset> r) mutable {
      const bool in_message = thread == &t_running_put && t_running_put == me;
      // Before the writer hears (it may read its records next); readers waiting on the topic
      // are woken here inside the message, else from the pool.
      self->end_changed(in_message);
      if (in_message || !r.ok()) return cb(std::move(r));  // the message wakes the waiters
      // The writer hears at once, from the backend's thread; parked readers are woken by a
      // message run on the pool (never actor messages on the backend's thread: a close there
      // would join it). The message holds the actor weakly: at exit it may reach a pool that
      // is already stopping, and an unrun message holding the actor would keep it (and its
      // mailbox) alive forever.
      cb(std::move(r));
      // Nobody parked: no message (on a 2-core node each one costs the reply a context switch).
      if (!self->may_have_waiters_.load()) return;
      self->mailbox_->post_to_pool([weak = std::weak_ptr<BucketStorage>(self)] {
        auto s = weak.lock();
        if (s && s->backend_ && !s->waiters_.empty()) s->wake_waiters();
      });
    });
    hold.reset();  // the backend has the put (the last part's Plug may write the put here)
    t_running_put = outer;
    if (!self->waiters_.empty()) self->wake_waiters();
  });
}

void BucketStorage::check(const RecordBatch* batch, const std::vector<uint64_t>* numbers, StatusCallback cb) {
  mailbox_->post([self = shared_from_this(), batch, numbers, cb = std::move(cb)] {
    if (!self->backend_) return cb(self->closed_error());
    cb(self->backend_->check_batch(*batch, *numbers));
  });
}

void BucketStorage::get(Offset offset, size_t limit, std::chrono::milliseconds wait,
                        uint64_t waiter_id, GetCallback cb) {
  mailbox_->post([self = shared_from_this(), offset, limit, wait, waiter_id,
                       cb = std::move(cb)]() mutable {
    if (!self->backend_) return cb(self->closed_error());
    // Before the end is looked at (under the backend's lock, which the put's append takes too):
    // a put acknowledged off the actor that this reader does not see then sees the flag.
    const bool may_park = wait.count() > 0 && limit != 0;
    if (may_park) self->may_have_waiters_.store(true);
    // The count of puts first, then the end: a put completing in between makes the note stale.
    const uint64_t changes = self->end_changes_.load();
    if (!may_park) {
      auto r = self->backend_->get(offset, limit);
      // A read that reached the end (empty, or its last record the bucket's last) notes where
      // it stopped: the reader's next fetch skips this bucket without a message until a put.
      if (r.ok() && (r->empty() || r->size() < limit))
        self->note_end(Offset(offset.value() + r->size()), changes, self->backend_->total_count());
      return cb(std::move(r));
    }
    const uint64_t end = self->backend_->total_count();
    if (end > offset.value()) {
      self->note_waiters();
      auto r = self->backend_->get(offset, limit);
      if (r.ok()) self->note_end(Offset(offset.value() + r->size()), changes, end);
      return cb(std::move(r));
    }
    self->note_end(offset, changes, end);
    uint64_t id = waiter_id != 0 ? waiter_id : self->next_internal_id_++;
    if (self->waiters_.count(id))  // refuse rather than drop the reader already parked under id
      return cb(InvalidArgument("waiter id " + std::to_string(id) + " is already parked"));  // flag stays set
    // The expiry checks that the waiter under id is still the one this deadline belongs to: an
    // expiry may already be queued when a put completes the waiter and the caller parks again
    // under the same id.
    uint64_t gen = ++self->waiter_generation_;
    auto deadline = self->executor_.timers().schedule(
        Timers::Clock::now() + wait, [weak = std::weak_ptr<BucketStorage>(self), id, gen] {
          if (auto s = weak.lock()) s->mailbox_->post_to_pool([s, id, gen] { s->expire_waiter(id, gen); });
        });
    self->waiters_.emplace(id, Waiter{offset, limit, gen, std::move(cb), deadline});
  });
}

bool BucketStorage::known_empty_at(Offset offset) const {
  const uint64_t as_of = empty_as_of_.load();
  return empty_at_.load() == offset.value() && as_of == end_changes_.load();
}

void BucketStorage::note_end(Offset offset, uint64_t changes_seen, uint64_t end) {
  // Only on the actor. The offset first: a caller that sees this count sees this offset or a
  // later record's, whose count is then stale or equal to the end it saw.
  if (end != offset.value() || !backend_->end_moves_only_by_puts()) return;
  empty_at_.store(offset.value());
  empty_as_of_.store(changes_seen);
}

void BucketStorage::read(Offset offset, size_t limit, ReadCallback cb) {
  mailbox_->post([self = shared_from_this(), offset, limit, cb = std::move(cb)]() mutable {
    if (!self->backend_) return cb(self->closed_error(), Offset(0), Offset(0));
    const uint64_t end = self->backend_->total_count();
    const Offset first(self->backend_->first_offset());
    if (offset.value() > end)
      return cb(OutOfRange("topic '" + self->topic_ + "' bucket " + std::to_string(self->bucket_.value()) +
                           ": offset " + std::to_string(offset.value()) + " is past the end (" +
                           std::to_string(end) + ")"),
                Offset(end), first);
    if (offset.value() == end || limit == 0) return cb(RecordBatch(), Offset(end), first);
    cb(self->backend_->get(offset, limit), Offset(end), first);
  });
}

void BucketStorage::expire_waiter(uint64_t id, uint64_t generation) {
  auto it = waiters_.find(id);
  if (it == waiters_.end() || it->second.generation != generation) return;
  GetCallback done = std::move(it->second.cb);
  waiters_.erase(it);
  note_waiters();
  done(RecordBatch());
}

void BucketStorage::note_waiters() { may_have_waiters_.store(!waiters_.empty()); }

void BucketStorage::cancel_wait(uint64_t waiter_id) {
  mailbox_->post([self = shared_from_this(), waiter_id] {
    auto it = self->waiters_.find(waiter_id);
    if (it == self->waiters_.end()) return;
    GetCallback done = std::move(it->second.cb);
    self->executor_.timers().cancel(it->second.deadline);
    self->waiters_.erase(it);
    self->note_waiters();
    done(RecordBatch());
  });
}

void BucketStorage::wake_waiters() {
  uint64_t total = backend_->total_count();
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->second.offset.value() >= total) {
      ++it;
      continue;
    }
    Waiter w = std::move(it->second);
    it = waiters_.erase(it);
    executor_.timers().cancel(w.deadline);
    w.cb(backend_->get(w.offset, w.limit));
  }
  note_waiters();
}

void BucketStorage::flush(StatusCallback cb) {
  mailbox_->post([self = shared_from_this(), cb = std::move(cb)] {
    if (!self->backend_) return cb(self->closed_error());
    cb(self->backend_->flush());
  });
}

void BucketStorage::offset_for_time(int64_t time_ms, PutCallback cb) {
  mailbox_->post([self = shared_from_this(), time_ms, cb = std::move(cb)] {
    if (!self->backend_) return cb(self->closed_error());
    cb(self->backend_->offset_for_time(time_ms));
  });
}

void BucketStorage::stats(StatsCallback cb) {
  mailbox_->post([self = shared_from_this(), cb = std::move(cb)] {
    BucketStats s;
    if (self->backend_) {
      s = self->backend_->stats();
    } else {
      s.closed = true;
    }
    s.topic = self->topic_;
    s.bucket = self->bucket_.value();
    // Parked here, or waiting on the topic's signal for this bucket among others.
    s.parked_readers = self->waiters_.size() + (self->signal_ ? self->signal_->waiting_on(self->bucket_) : 0);
    cb(std::move(s));
  });
}

void BucketStorage::close(StatusCallback cb) { close(/*flush=*/true, std::move(cb)); }

void BucketStorage::close(bool flush, StatusCallback cb) {
  mailbox_->post([self = shared_from_this(), flush, cb = std::move(cb)] {
    if (!self->backend_) return cb(Status::OK());
    Status s = flush || !self->backend_->log_holds_unflushed() ? self->backend_->flush() : Status::OK();
    self->backend_.reset();
    self->end_changed(/*in_message=*/true);  // a closed bucket answers an error, never "nothing new"
    self->fail_waiters();
    cb(s);
  });
}

void BucketStorage::fail_waiters() {
  auto waiters = std::move(waiters_);
  waiters_.clear();
  note_waiters();
  for (auto& [id, w] : waiters) {
    executor_.timers().cancel(w.deadline);
    w.cb(closed_error());
  }
}

void BucketStorage::retire(Status reason, std::function<void()> done) {
  mailbox_->post([self = shared_from_this(), reason = std::move(reason), done = std::move(done)] {
    if (self->retired_.ok()) self->retired_ = reason;
    if (self->backend_) self->backend_->discard();
    self->backend_.reset();
    self->end_changed(/*in_message=*/true);
    self->fail_waiters();
    done();
  });
}

Result<std::vector<Offset>> offsets_for_time(const std::vector<std::shared_ptr<BucketStorage>>& actors,
                                             int64_t time_ms) {
  std::vector<std::future<Result<Offset>>> futures;
  for (const auto& a : actors) {
    auto p = std::make_shared<std::promise<Result<Offset>>>();
    futures.push_back(p->get_future());
    a->offset_for_time(time_ms, [p](Result<Offset> r) { p->set_value(std::move(r)); });
  }
  std::vector<Offset> out;
  Status first;
  for (size_t i = 0; i < futures.size(); ++i) {
    Result<Offset> r = futures[i].get();
    if (!r.ok()) {
      if (first.ok())
        first = r.status().with_context("topic '" + actors[i]->topic() + "' bucket " +
                                        std::to_string(actors[i]->bucket().value()));
      continue;
    }
    out.push_back(*r);
  }
  if (!first.ok()) return first;
  return out;
}

std::vector<BucketStats> stats_of(const std::vector<std::shared_ptr<BucketStorage>>& actors) {
  std::vector<std::future<BucketStats>> futures;
  for (const auto& a : actors) {
    auto p = std::make_shared<std::promise<BucketStats>>();
    futures.push_back(p->get_future());
    a->stats([p](BucketStats s) { p->set_value(std::move(s)); });
  }
  std::vector<BucketStats> out;
  for (auto& f : futures) out.push_back(f.get());
  return out;
}

}  // namespace persisting::runtime
