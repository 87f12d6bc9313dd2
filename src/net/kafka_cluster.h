// The node's side of the Kafka listener in a cluster (kafka::KafkaCluster): the members' Kafka
// listeners from the membership, partitions' leaders and local actors from the topic directory
// (the same entries, placement and fences the gRPC service uses). docs/kafka.md, "In a cluster".
#pragma once

#include <functional>
#include <memory>

#include "kafka/broker/cluster.h"
#include "net/membership.h"
#include "net/put_dedup.h"
#include "net/topic_directory.h"

namespace persisting::net {

// directory and membership must outlive the result. delete_everywhere deletes a topic on every
// member (Service::delete_topic_everywhere); list_everywhere lists every member's topics
// (Service::list_everywhere: those of members it could not ask are missing); run_blocking runs
// work on the node's admin pool (Service::post_admin). group_offsets (Service::group_router,
// outlives the result) is where Kafka groups' commits go. ensure_in_sync makes a replicated
// bucket's in-sync set on its leader (Service::ensure_in_sync_set): Kafka's Fetch and
// ListOffsets stop at its high watermark, and a produce with acks=-1 waits for it. dedup (the
// service's, outlives the result; may be null) carries idempotent Kafka producers' state of
// replicated partitions to the followers.
using EnsureInSync = std::function<Status(TopicEntry&, uint32_t, runtime::BucketStorage&)>;
std::unique_ptr<kafka::KafkaCluster> make_kafka_cluster(
    TopicDirectory* directory, Membership* membership, const NodeId& self,
    std::function<Status(const std::string&)> delete_everywhere,
    std::function<std::vector<TopicInfo>()> list_everywhere,
    std::function<void(std::function<void()>)> run_blocking, groups::Coordinator* group_offsets,
    EnsureInSync ensure_in_sync, PutDedup* dedup = nullptr);

}  // namespace persisting::net
