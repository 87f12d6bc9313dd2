// Dispatcher: decodes each request frame and runs its handler (one file per family:
// handle_api_versions.cc, handle_sasl.cc, handle_metadata.cc, handle_topic_admin.cc,
// handle_produce.cc, handle_fetch.cc, handle_list_offsets.cc, handle_init_producer_id.cc, handle_groups.cc).
//
// - A frame that does not decode closes its connection; nothing was changed.
// - ApiVersions at a version we do not have is answered UNSUPPORTED_VERSION with a v0 body that
//   lists our APIs (the client retries at one of them). Any other request outside the APIs
//   advertised closes the connection: its response shape is unknown at that version.
// - With a token, a connection must authenticate first (SaslHandshake PLAIN + SaslAuthenticate,
//   the token as the password); any other request before that closes it.
// Handlers answer from whatever thread completes them (usually a bucket actor's).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "kafka/broker/broker.h"
#include "kafka/broker/connection.h"
#include "kafka/broker/producer_state.h"
#include "kafka/protocol/api.h"
#include "kafka/protocol/request.h"
#include "persisting/log.h"

namespace persisting::kafka {

struct DispatcherConfig {
  std::string token;            // empty: no authentication
  int32_t node_id = 1;          // this broker's id in Metadata
  std::string advertised_host;  // what Metadata tells clients to connect to
  int32_t advertised_port = 0;
  std::string cluster_id = "persisting";
  Logger* logger = nullptr;     // refused frames, at debug (null: none)
};

class GroupCoordinator;

class Dispatcher final : public FrameHandler {
 public:
  // broker, producers and groups must outlive the dispatcher.
  Dispatcher(Broker* broker, ProducerState* producers, GroupCoordinator* groups, DispatcherConfig config);
  ~Dispatcher() override;  // waits for the admin requests still running (admin())

  void on_frame(Session& session, std::string_view frame, Reply reply) override;
  void on_close(Session& session) override;

  // Whether ApiVersions advertises the API (it is decoded and handled).
  static bool handled(ApiKey key);
  DispatcherConfig& config() { return config_; }

 private:
  void refuse(Session& session, const Reply& reply, const std::string& why);

  void handle(Session& s, const RequestHeader& h, ApiVersionsRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, SaslHandshakeRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, SaslAuthenticateRequest req, const Reply& reply);
  // Metadata, CreateTopics and DeleteTopics may touch files and, in a cluster, ask every member:
  // admin() runs them on the cluster's blocking pool (KafkaCluster::run_blocking), inline on a
  // single node (files only, and rare).
  template <class Request>
  void admin(const RequestHeader& h, Request req, const Reply& reply);
  void handle(const RequestHeader& h, MetadataRequest req, const Reply& reply);
  void handle(const RequestHeader& h, CreateTopicsRequest req, const Reply& reply);
  void handle(const RequestHeader& h, DeleteTopicsRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, ProduceRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, FetchRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, ListOffsetsRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, InitProducerIdRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, FindCoordinatorRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, JoinGroupRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, SyncGroupRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, HeartbeatRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, LeaveGroupRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, OffsetCommitRequest req, const Reply& reply);
  void handle(Session& s, const RequestHeader& h, OffsetFetchRequest req, const Reply& reply);
  // A raw SASL/PLAIN token after SaslHandshake v0.
  void handle_raw_sasl(Session& s, std::string_view token, const Reply& reply);
  // Whether the PLAIN token's password is the node's token (time independent of the contents).
  bool check_plain(std::string_view token, std::string* why) const;

  // Whether this node coordinates the group (always on a single node).
  bool coordinates(const std::string& group) const;
  // The topic, creating it when auto-creation is on and create is set. NotFound otherwise.
  Result<std::shared_ptr<CatalogTopic>> topic_for(const std::string& name, bool create);

  std::mutex admin_mu_;
  std::condition_variable admin_cv_;
  size_t admin_running_ = 0;  // admin() requests posted to the cluster and not finished (admin_mu_)

  Broker* broker_;
  ProducerState* producers_;
  GroupCoordinator* groups_;
  DispatcherConfig config_;
};

// Encodes a whole response frame (size prefix, header for h's API and version, body).
template <class Msg>
std::string response_frame(const RequestHeader& h, const Msg& body) {
  return encode_response_frame(h.api_key, h.api_version, h.correlation_id, body);
}

}  // namespace persisting::kafka
