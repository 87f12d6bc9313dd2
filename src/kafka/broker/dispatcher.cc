#include "kafka/broker/dispatcher.h"

#include "core/log.h"

namespace persisting::kafka {

Dispatcher::Dispatcher(Broker* broker, ProducerState* producers, GroupCoordinator* groups, DispatcherConfig config)
    : broker_(broker), producers_(producers), groups_(groups), config_(std::move(config)) {}

Dispatcher::~Dispatcher() {
  std::unique_lock<std::mutex> lock(admin_mu_);
  admin_cv_.wait(lock, [this] { return admin_running_ == 0; });
}

template <class Request>
void Dispatcher::admin(const RequestHeader& h, Request req, const Reply& reply) {
  KafkaCluster* c = broker_->catalog().cluster();
  if (!c) return handle(h, std::move(req), reply);
  {
    std::lock_guard<std::mutex> lock(admin_mu_);
    ++admin_running_;
  }
  c->run_blocking([this, h, req = std::move(req), reply]() mutable {
    handle(h, std::move(req), reply);
    std::lock_guard<std::mutex> lock(admin_mu_);  // notified under the lock: ~Dispatcher may follow at once
    if (--admin_running_ == 0) admin_cv_.notify_all();
  });
}

bool Dispatcher::handled(ApiKey key) {
  switch (key) {
    case ApiKey::kApiVersions:
    case ApiKey::kSaslHandshake:
    case ApiKey::kSaslAuthenticate:
    case ApiKey::kMetadata:
    case ApiKey::kCreateTopics:
    case ApiKey::kDeleteTopics:
    case ApiKey::kProduce:
    case ApiKey::kFetch:
    case ApiKey::kListOffsets:
    case ApiKey::kInitProducerId:
    case ApiKey::kFindCoordinator:
    case ApiKey::kJoinGroup:
    case ApiKey::kSyncGroup:
    case ApiKey::kHeartbeat:
    case ApiKey::kLeaveGroup:
    case ApiKey::kOffsetCommit:
    case ApiKey::kOffsetFetch:
      return true;
    default:
      return false;
  }
}

void Dispatcher::refuse(Session& session, const Reply& reply, const std::string& why) {
  if (config_.logger)
    config_.logger->log(LogLevel::kDebug, "kafka: closing connection from " + session.peer + ": " + why);
  reply.close();
}

void Dispatcher::on_close(Session& session) {
  std::vector<std::pair<uint64_t, std::function<void()>>> parked;
  {
    std::lock_guard<std::mutex> lock(session.parked_mu);
    parked.swap(session.parked);
  }
  for (auto& [id, cancel] : parked) cancel();
}

void Dispatcher::on_frame(Session& session, std::string_view frame, Reply reply) {
  if (config_.token.empty()) session.authenticated = true;
  if (session.raw_sasl_next) {
    session.raw_sasl_next = false;
    return handle_raw_sasl(session, frame, reply);
  }
  auto decoded = decode_request(frame);
  if (!decoded.ok()) return refuse(session, reply, decoded.status().message());
  const RequestHeader& h = decoded->header;
  if (session.client_id.empty() && h.client_id) session.client_id = *h.client_id;
  const auto key = static_cast<ApiKey>(h.api_key);
  if (!session.authenticated && key != ApiKey::kApiVersions && key != ApiKey::kSaslHandshake &&
      key != ApiKey::kSaslAuthenticate)
    return refuse(session, reply, api_name(h.api_key) + " before SASL authentication");
  if (auto* u = std::get_if<UnsupportedRequest>(&decoded->body)) {
    if (key == ApiKey::kApiVersions) {
      // KIP-511: a v0 body with UNSUPPORTED_VERSION and our APIs; the header is always v0.
      ApiVersionsResponse r = ApiVersionsResponse::supported(error_value(ErrorCode::UNSUPPORTED_VERSION));
      std::erase_if(r.api_keys, [](const auto& a) { return !handled(static_cast<ApiKey>(a.api_key)); });
      return reply.send(encode_response_frame(h.api_key, 0, h.correlation_id, r));
    }
    return refuse(session, reply,
                  (u->known_api ? api_name(h.api_key) + " v" + std::to_string(h.api_version) : api_name(h.api_key)) +
                      " is not supported");
  }
  if (!handled(key)) return refuse(session, reply, api_name(h.api_key) + " is not supported");
  std::visit(
      [&](auto&& body) {
        using T = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<T, UnsupportedRequest>) {
        } else if constexpr (std::is_same_v<T, MetadataRequest> || std::is_same_v<T, CreateTopicsRequest> ||
                             std::is_same_v<T, DeleteTopicsRequest>) {
          admin(h, std::move(body), reply);
        } else {
          handle(session, h, std::move(body), reply);
        }
      },
      std::move(decoded->body));
}

Result<std::shared_ptr<CatalogTopic>> Dispatcher::topic_for(const std::string& name, bool create) {
  auto t = broker_->catalog().find(name);
  if (t.ok() || t.status().code() != Code::kNotFound || !create || !broker_->config().auto_create_topics) return t;
  auto made = broker_->catalog().create(name, broker_->config().default_partitions);
  if (made.status().code() == Code::kAlreadyExists) return broker_->catalog().find(name);
  return made;
}

}  // namespace persisting::kafka
