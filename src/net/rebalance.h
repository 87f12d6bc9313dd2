// The coordinator of an operator rebalance (docs/wire-protocol.md, "Rebalance"): the node the
// Rebalance RPC reaches drives every step through RPCs to the configured members, itself
// included:
//   check: every configured member answers; the placement in force is the highest epoch any
//          member holds; plan = the buckets whose owner differs under the configured members.
//   copy:  the new owner pulls [0, n) from the old owner (no fence yet: puts go on).
//   fence: the old owner refuses puts to the bucket; the new owner copies the rest, flushes, and
//          the counts must match.
//   switch: SetPlacement(epoch + 1) on the old owners, then the new owners, then the others.
//   delete: every member deletes its copies of buckets it does not own.
// Before the switch, any failure undoes the moves (fences lifted, copies deleted): the old
// owners keep their buckets. The steps themselves run in net::Service (rebalance_steps.cc).
// Also here: what the coordinator and the steps share. Internal to src/net: includes grpcpp.
#pragma once

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/channels.h"
#include "net/grpc_status.h"
#include "net/membership.h"
#include "net/placement.h"
#include "persisting/queue.h"
#include "persisting/v1/queue.grpc.pb.h"

namespace persisting::net {

// How long an old owner waits for the puts in flight to a bucket it fences.
inline constexpr auto kFenceDrainTimeout = std::chrono::seconds(30);

// Rebalances topic req.topic() (its metadata: info) over the configured members of membership,
// filling resp with the plan and what was done. held() answers the placement this node holds for
// the topic now (read when the plan is made). timeout bounds each ordinary step RPC (copies and
// fences get longer).
Status rebalance(const v1::RebalanceRequest& req, v1::RebalanceResponse* resp, const TopicInfo& info,
                 const std::function<std::shared_ptr<const Placement>()>& held, Membership& membership,
                 Channels& peers, std::chrono::milliseconds timeout);

using Stub = v1::QueueService::Stub;

// Calls method on member m with a deadline now + timeout; errors name the node and its address.
// A call gRPC could not send (the node restarted a moment ago, its channel still backing off) is
// sent once more after a reconnect of at most a second (Channels::with_reconnect).
template <typename Req, typename Resp>
Status call_peer(Channels& peers, const runtime::Member& m,
                 grpc::Status (Stub::*method)(grpc::ClientContext*, const Req&, Resp*), const Req& req, Resp* resp,
                 std::chrono::milliseconds timeout) {
  grpc::Status s = peers.with_reconnect(m.address, std::min<std::chrono::milliseconds>(timeout, std::chrono::seconds(1)),
                                        [&] {
                                          grpc::ClientContext ctx;
                                          peers.prepare(&ctx, timeout);
                                          return ((*peers.stub(m.address)).*method)(&ctx, req, resp);
                                        });
  return from_grpc(s, "node " + m.id.str() + " at " + m.address);
}

// "a, b, c".
std::string join(const std::vector<std::string>& v);

}  // namespace persisting::net
