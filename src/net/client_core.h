// What the remote Client's translation units share (client.cc: topics, writers, readers;
// client_groups.cc: consumer groups): the client's core (channels, entry nodes, the owner cache,
// the call helpers), the grouping of buckets by owner, and a reader's state. Internal to
// src/net: includes gRPC.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/status_macros.h"
#include "groups/membership.h"
#include "net/channels.h"
#include "net/grpc_status.h"
#include "net/wire.h"
#include "persisting/client.h"
#include "queue/read_cursor.h"

namespace persisting::detail {

using net::from_grpc;
using Stub = v1::QueueService::Stub;

struct Owner {
  std::string id, address;
};

struct ClientCore {
  ClientOptions options;
  std::unique_ptr<net::Channels> channels;
  std::vector<std::string> entries;  // options.server split at ','
  std::mutex mu;
  std::map<std::pair<std::string, uint32_t>, Owner> owners;  // cache

  template <typename Req, typename Resp>
  Status call(const std::string& address, grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*),
              const Req& req, Resp* resp, const std::string& what) {
    grpc::ClientContext ctx;
    channels->prepare(&ctx, options.rpc_timeout);
    grpc::Status g = ((*channels->stub(address)).*method)(&ctx, req, resp);
    Status s = from_grpc(g, what);
    bool tls = options.tls || !options.tls_ca_file.empty();
    if (!tls && might_be_tls_only(g))
      return Unavailable(s.message() + " (the server may require TLS: pass --tls-ca with the CA that signed its "
                                       "certificate)");
    if (tls && might_be_plaintext_only(g))
      return Unavailable(s.message() + " (the server may not serve TLS: leave out --tls-ca)");
    return s;
  }
  // A TLS handshake answered by a plaintext HTTP/2 server: OpenSSL reads its bytes as a record
  // of an unknown version.
  static bool might_be_plaintext_only(const grpc::Status& g) {
    return g.error_details().empty() && g.error_message().find("wrong version number") != std::string::npos;
  }
  // A plaintext connection to a TLS port: the server drops it mid-handshake, and gRPC says only
  // "Socket closed" (or "Connection reset").
  static bool might_be_tls_only(const grpc::Status& g) {
    return g.error_details().empty() && net::Channels::connection_lost(g);
  }
  // Calls an entry node: the next entry on UNAVAILABLE / DEADLINE_EXCEEDED, or the only one once
  // more (read-only or idempotent calls only).
  template <typename Req, typename Resp>
  Status call_entry(grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req, Resp* resp) {
    Status s;
    size_t tries = entries.size() == 1 ? 2 : entries.size();
    for (size_t i = 0; i < tries; ++i) {
      const std::string& address = entries[i % entries.size()];
      resp->Clear();
      s = call(address, method, req, resp, "node at " + address);
      if (s.code() != Code::kUnavailable && s.code() != Code::kDeadlineExceeded) return s;
    }
    return s;
  }

  void forget_owner(const std::string& topic, uint32_t bucket) {
    std::lock_guard<std::mutex> lock(mu);
    owners.erase({topic, bucket});
  }

  // The owner of topic:bucket: cached, or asked of the entry node and confirmed by following
  // redirects (at most max_redirects). unreachable (optional) gets the name of the owner a
  // redirect pointed to when that owner did not answer.
  Result<Owner> owner(const std::string& topic, uint32_t bucket, std::string* unreachable = nullptr) {
    {
      std::lock_guard<std::mutex> lock(mu);
      if (auto it = owners.find({topic, bucket}); it != owners.end()) return it->second;
    }
    std::string where = "topic '" + topic + "' bucket " + std::to_string(bucket);
    v1::GetBucketRequest req;
    req.set_topic(topic);
    req.set_bucket(bucket);
    // The first question goes to the entry nodes in turn, until one answers.
    v1::GetBucketResponse resp;
    Status s = call_entry(&Stub::GetBucket, req, &resp);
    if (!s.ok()) {
      if ((s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded) &&
          s.message().rfind(where, 0) != 0)
        return Unavailable(where + ": " + s.message());
      return s;
    }
    std::string address, name;
    for (int hop = 0; hop <= options.max_redirects; ++hop) {
      if (hop > 0) {
        resp.Clear();
        s = call(address, &Stub::GetBucket, req, &resp, "");
      }
      if (!s.ok()) {
        if (s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded) {
          if (unreachable) *unreachable = name;
          return Unavailable(where + ": owner " + name + " unavailable: " + s.message());
        }
        return s;
      }
      if (resp.has_ready()) {
        Owner o{resp.ready().owner().id(), resp.ready().owner().address()};
        std::lock_guard<std::mutex> lock(mu);
        owners[{topic, bucket}] = o;
        return o;
      }
      if (!resp.has_redirect()) return Internal(where + ": GetBucket answered neither ready nor redirect");
      address = resp.redirect().owner().address();
      name = resp.redirect().owner().id() + " (" + address + ")";
    }
    return Unavailable(where + ": more than " + std::to_string(options.max_redirects) + " redirects");
  }

  Result<TopicInfo> topic(const std::string& name) {
    v1::GetTopicRequest req;
    req.set_topic(name);
    v1::GetTopicResponse resp;
    RETURN_IF_ERROR(call_entry(&Stub::GetTopic, req, &resp));
    return net::from_wire(resp.topic());
  }
};

// Owners of a set of buckets, grouped: address -> indexes into the bucket list.
struct Groups {
  std::map<std::string, std::vector<size_t>> by_address;
  std::map<std::string, std::string> owner_name;  // address -> "n2 (addr)"
  std::vector<std::pair<size_t, Status>> failed;  // bucket index, why its owner is unknown
  std::map<size_t, std::string> failed_owner;     // bucket index -> the owner that did not answer
};

Groups group_by_owner(ClientCore& core, const std::string& topic, const std::vector<BucketId>& buckets);

// UNAVAILABLE, DEADLINE_EXCEEDED, or a node saying another owns the bucket: worth asking again
// after the owner is looked up afresh.
bool retryable(const Status& s);

class RemoteCoordinator;  // client_groups.cc

struct ClientReaderState {
  std::shared_ptr<ClientCore> core;
  TopicInfo info;
  queue::Cursor cursor;

  // The reader's buckets by owner, as the owner cache has them now.
  Groups groups() { return group_by_owner(*core, info.topic, cursor.buckets); }
  // The owners of the cursor's buckets at indexes `which`; the indexes stay the cursor's.
  Groups groups(const std::vector<size_t>& which);
  // One Get per owner in g (parallel); raw[i] gets bucket i's records. With wait, the first
  // owner answering with data cancels the others.
  Status fetch(const Groups& g, size_t limit, uint32_t wait_ms, std::vector<RecordBatch>* raw, bool* any);
  // One get without a group: fetches and advances the cursor (ClientReader::get's contract).
  Result<std::vector<Message>> get(size_t limit, uint32_t wait_ms);
  // One round of get: what is ahead, and a Get for the buckets short of their share.
  Result<std::vector<Message>> get_once(size_t limit, uint32_t wait_ms);

  // Consumer groups (client_groups.cc). With a group the reader is a member; its bucket set is
  // the member's assignment, switched on the next get after a change.
  ReaderOptions options;
  std::unique_ptr<RemoteCoordinator> coordinator;
  std::unique_ptr<groups::Member> member;  // uses *coordinator
  bool closed = false;
  // The last time the member reached its coordinator (join or poll). A get goes on with the
  // current share while the coordinator does not answer, for at most the session timeout.
  std::chrono::steady_clock::time_point last_poll_ok;

  ClientReaderState();
  ~ClientReaderState();
  // Joins the group named in options and takes the first assignment.
  Status join_group();
  // A get of a group reader: polls the member (heartbeat, auto-commit, a new assignment), and
  // waits in slices of the heartbeat interval.
  Result<std::vector<Message>> group_get(size_t limit, bool wait, std::chrono::milliseconds timeout);
  // (bucket, next offset) of every bucket the reader covers: what get has returned.
  groups::Commits positions() const;
  // Switches the cursor to a new bucket set: kept buckets keep their offsets, new ones start
  // at the group's commit or by options.start.
  Status apply(const groups::AssignmentChange& change);
};

}  // namespace persisting::detail
