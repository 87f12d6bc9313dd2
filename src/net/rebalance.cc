// The coordinator of an operator rebalance (see rebalance.h; docs/wire-protocol.md, "Rebalance").
#include "net/rebalance.h"

#include <algorithm>

#include "core/status_macros.h"
#include "net/wire.h"
#include "persisting/json.h"

namespace persisting::net {
namespace {

constexpr auto kCopyTimeout = std::chrono::hours(1);  // one CopyBucket call (a whole bucket)

}  // namespace

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

Status rebalance(const v1::RebalanceRequest& req, v1::RebalanceResponse* resp, const TopicInfo& info,
                 const std::function<std::shared_ptr<const Placement>()>& held, Membership& membership,
                 Channels& peers, std::chrono::milliseconds timeout) {
  const std::string& name = req.topic();
  const std::string where = "rebalance of topic '" + name + "'";
  const uint32_t num_buckets = info.num_buckets;

  // Every configured member (the new placement) must answer.
  std::vector<runtime::Member> configured = membership.configured();
  for (const auto& s : membership.states(peers))
    if (!s.alive)
      return Unavailable(where + ": member " + s.member.id.str() + " (" + s.member.address + ") is down" +
                         (s.detail.empty() ? "" : " (" + s.detail + ")") + "; nothing was changed");

  // The placement in force: the highest epoch any member holds.
  struct Known {
    runtime::Member member;
    bool knows = false;
    uint64_t epoch = 0;
    std::vector<std::string> ids;
  };
  std::vector<Known> known;
  bool kafka = false;  // created over Kafka: members taught the topic mark it so too
  for (const auto& m : configured) {
    v1::GetTopicRequest g;
    g.set_topic(name);
    g.set_local_only(true);
    v1::GetTopicResponse r;
    Status s = call_peer(peers, m, &Stub::GetTopic, g, &r, timeout);
    Known k{m};
    if (s.ok()) {
      k.knows = true;
      kafka = kafka || r.topic().kafka();
      k.epoch = std::max<uint64_t>(r.topic().placement_epoch(), 1);
      k.ids.assign(r.topic().placement().begin(), r.topic().placement().end());
      std::sort(k.ids.begin(), k.ids.end());
    } else if (s.code() == Code::kUnavailable || s.code() == Code::kDeadlineExceeded) {
      return Unavailable(where + ": member " + m.id.str() + " (" + m.address + ") is down (" + s.message() +
                         "); nothing was changed");
    } else if (s.code() != Code::kNotFound) {
      return s.with_context(where + ": asking " + m.id.str() + " for the topic's placement; nothing was changed");
    }
    known.push_back(std::move(k));
  }
  Placement current = *held();
  for (const auto& k : known)
    if (k.knows && k.epoch > current.epoch) {
      current.epoch = k.epoch;
      current.members.clear();
      for (const auto& id : k.ids) current.members.push_back({NodeId(id), ""});
    }
  for (const auto& k : known)
    if (k.knows && k.epoch == current.epoch && k.ids != current.ids())
      return FailedPrecondition(where + ": nodes disagree on placement epoch " + std::to_string(current.epoch) + " ([" +
                                join(k.ids) + "] on " + k.member.id.str() + ", [" + join(current.ids()) +
                                "] elsewhere); nothing was changed");

  Placement next;
  next.epoch = current.epoch + 1;
  for (const auto& m : configured) next.members.push_back({m.id, ""});
  for (const auto& id : current.ids()) resp->add_previous_members(id);
  resp->set_previous_epoch(current.epoch);
  for (const auto& id : next.ids()) resp->add_members(id);
  resp->set_epoch(current.epoch);

  struct Move {
    uint32_t bucket;
    runtime::Member from, to;
    uint64_t records = 0;
  };
  auto member_of = [&](const NodeId& id) -> const runtime::Member* {
    for (const auto& m : configured)
      if (m.id == id) return &m;
    return nullptr;
  };
  std::vector<Move> moves;
  for (uint32_t b = 0; b < num_buckets; ++b) {
    NodeId from = current.owner(name, b), to = next.owner(name, b);
    if (from == to) continue;
    const runtime::Member* f = member_of(from);
    if (!f)
      return FailedPrecondition(where + ": bucket " + std::to_string(b) + " lives on node " + from.str() +
                                ", which is not a configured member; add it back before moving its buckets; "
                                "nothing was changed");
    moves.push_back({b, *f, *member_of(to)});
  }
  auto report = [&] {
    for (const auto& mv : moves) {
      auto* o = resp->add_moves();
      o->set_bucket(mv.bucket);
      o->set_from(mv.from.id.str());
      o->set_to(mv.to.id.str());
      o->set_records(mv.records);
    }
  };

  if (req.dry_run()) {
    for (auto& mv : moves) {
      v1::StatsRequest sr;
      sr.set_topic(name);
      sr.add_buckets(mv.bucket);
      v1::StatsResponse st;
      RETURN_IF_ERROR(call_peer(peers, mv.from, &Stub::Stats, sr, &st, timeout).with_context(where));
      if (st.bucket_stats_json_size() == 1)
        if (auto v = parse_json(st.bucket_stats_json(0)); v.ok() && v->is_object())
          if (const Value* n = v->as_object().find("total_count"); n && n->is_int())
            mv.records = static_cast<uint64_t>(n->as_int());
    }
    report();
    return Status::OK();
  }

  // Every member learns the topic and the placement in force.
  for (const auto& k : known) {
    if (!k.knows) {
      v1::CreateTopicRequest c;
      to_wire(info, c.mutable_spec());
      for (const auto& id : current.ids()) c.mutable_spec()->add_placement(id);
      c.mutable_spec()->set_placement_epoch(current.epoch);
      c.mutable_spec()->set_kafka(kafka);
      c.set_local_only(true);
      v1::CreateTopicResponse cr;
      RETURN_IF_ERROR(call_peer(peers, k.member, &Stub::CreateTopic, c, &cr, timeout)
                          .with_context(where + ": teaching the topic"));
    } else if (k.epoch < current.epoch) {
      v1::SetPlacementRequest sp;
      sp.set_topic(name);
      sp.set_epoch(current.epoch);
      for (const auto& id : current.ids()) sp.add_members(id);
      v1::SetPlacementResponse spr;
      RETURN_IF_ERROR(call_peer(peers, k.member, &Stub::SetPlacement, sp, &spr, timeout)
                          .with_context(where + ": bringing the placement up to epoch " + std::to_string(current.epoch)));
    }
  }

  // Lifts the fences and deletes the copies; says which of those steps failed (a fence left on
  // refuses puts to that bucket until lifted, a copy left behind only takes disk space).
  auto undo_all = [&](const std::vector<size_t>& fenced) {
    std::string failed;
    auto note = [&failed](const Status& s, const std::string& step) {
      if (!s.ok()) failed += (failed.empty() ? "" : "; ") + step + ": " + s.to_string();
    };
    for (size_t i : fenced) {
      v1::FenceBucketRequest l;
      l.set_topic(name);
      l.set_bucket(moves[i].bucket);
      l.set_lift(true);
      v1::FenceBucketResponse lr;
      note(call_peer(peers, moves[i].from, &Stub::FenceBucket, l, &lr, timeout),
           "lifting the fence of bucket " + std::to_string(moves[i].bucket) + " on " + moves[i].from.id.str());
    }
    for (const auto& mv : moves) {
      v1::DropBucketsRequest d;
      d.set_topic(name);
      d.add_buckets(mv.bucket);
      v1::DropBucketsResponse dr;
      note(call_peer(peers, mv.to, &Stub::DropBuckets, d, &dr, timeout),
           "deleting the copy of bucket " + std::to_string(mv.bucket) + " on " + mv.to.id.str());
    }
    return failed;
  };
  auto undo = [&](const Status& why, const std::vector<size_t>& fenced) {
    std::string failed = undo_all(fenced);
    if (!failed.empty())
      return Status(why.code(), where + " failed before the switch; the old owners keep their buckets, but undoing "
                                "it failed (" + failed + "): " + why.message());
    return Status(why.code(), where + " failed before the switch; the old owners keep their buckets, fences are "
                              "lifted and copies deleted: " + why.message());
  };

  std::vector<size_t> fenced;
  if (!moves.empty()) {
    // Copy what is there (puts go on), then fence and copy the rest.
    for (const auto& mv : moves) {
      v1::CopyBucketRequest c;
      c.set_topic(name);
      c.set_bucket(mv.bucket);
      c.mutable_source()->set_id(mv.from.id.str());
      c.mutable_source()->set_address(mv.from.address);
      c.set_restart(true);
      v1::CopyBucketResponse cr;
      Status s = call_peer(peers, mv.to, &Stub::CopyBucket, c, &cr, kCopyTimeout);
      if (!s.ok()) return undo(s, fenced);
    }
    for (size_t i = 0; i < moves.size(); ++i) {
      Move& mv = moves[i];
      v1::FenceBucketRequest fr;
      fr.set_topic(name);
      fr.set_bucket(mv.bucket);
      fr.set_target(mv.to.id.str());
      v1::FenceBucketResponse fresp;
      Status s = call_peer(peers, mv.from, &Stub::FenceBucket, fr, &fresp, kFenceDrainTimeout + timeout);
      fenced.push_back(i);  // lifting an unset fence is harmless
      if (!s.ok()) return undo(s, fenced);
      mv.records = fresp.records();
      v1::CopyBucketRequest c;
      c.set_topic(name);
      c.set_bucket(mv.bucket);
      c.mutable_source()->set_id(mv.from.id.str());
      c.mutable_source()->set_address(mv.from.address);
      c.set_until(mv.records);
      *c.mutable_producers() = fresp.producers();
      v1::CopyBucketResponse cr;
      s = call_peer(peers, mv.to, &Stub::CopyBucket, c, &cr, kCopyTimeout);
      if (!s.ok()) return undo(s, fenced);
      if (cr.records() != mv.records)
        return undo(Corruption("bucket " + std::to_string(mv.bucket) + ": the copy on " + mv.to.id.str() + " has " +
                               std::to_string(cr.records()) + " records, the original on " + mv.from.id.str() +
                               " " + std::to_string(mv.records)),
                    fenced);
    }
    // Nothing may have reached an old owner since its fence (a restart lifts fences): check
    // every count again before anything switches.
    for (size_t i = 0; i < moves.size(); ++i) {
      const Move& mv = moves[i];
      v1::FenceBucketRequest fr;
      fr.set_topic(name);
      fr.set_bucket(mv.bucket);
      fr.set_target(mv.to.id.str());
      v1::FenceBucketResponse fresp;
      Status s = call_peer(peers, mv.from, &Stub::FenceBucket, fr, &fresp, kFenceDrainTimeout + timeout);
      if (!s.ok()) return undo(s, fenced);
      if (fresp.records() != mv.records)
        return undo(FailedPrecondition("bucket " + std::to_string(mv.bucket) + " on " + mv.from.id.str() + " holds " +
                                       std::to_string(fresp.records()) + " records, " + std::to_string(mv.records) +
                                       " were copied (was its fence lost in a restart?)"),
                    fenced);
    }
    report();
    if (req.rehearse()) {
      std::string failed = undo_all(fenced);
      if (!failed.empty())
        return Internal(where + ": the rehearsal went through, but undoing it failed: " + failed);
      return Status::OK();
    }
  } else if (req.rehearse()) {
    return Status::OK();
  }

  // Switch: the old owners first (fenced already, from now on they redirect), then the new
  // owners, then the rest. Until the first member has switched, a failure is undone.
  if (!moves.empty() || current.ids() != next.ids()) {
    std::vector<runtime::Member> order;
    auto add = [&](const runtime::Member& m) {
      for (const auto& o : order)
        if (o.id == m.id) return;
      order.push_back(m);
    };
    for (const auto& mv : moves) add(mv.from);
    for (const auto& mv : moves) add(mv.to);
    for (const auto& m : configured) add(m);
    std::vector<std::string> switched;
    for (const auto& m : order) {
      v1::SetPlacementRequest sp;
      sp.set_topic(name);
      sp.set_epoch(next.epoch);
      for (const auto& id : next.ids()) sp.add_members(id);
      for (const auto& mv : moves)
        if (mv.from.id == m.id) {
          auto* c = sp.add_expect();
          c->set_bucket(mv.bucket);
          c->set_offset(mv.records);
        }
      v1::SetPlacementResponse spr;
      Status s = call_peer(peers, m, &Stub::SetPlacement, sp, &spr, kFenceDrainTimeout + timeout);
      if (s.ok()) {
        switched.push_back(m.id.str());
        continue;
      }
      bool refused = s.code() != Code::kUnavailable && s.code() != Code::kDeadlineExceeded;
      if (switched.empty() && refused) return undo(s, fenced);
      return Status(s.code(), where + ": the switch to placement epoch " + std::to_string(next.epoch) +
                                  (switched.empty() ? std::string(" may not have reached any member")
                                                    : " reached " + join(switched)) +
                                  " but not " + m.id.str() + " (" + s.message() +
                                  "); the copies are kept and the old owners stay fenced: run the rebalance "
                                  "again to finish the switch");
    }
    resp->set_epoch(next.epoch);
  }

  // Delete: every member drops its copies of buckets it does not own (the old owners' copies,
  // and leftovers of interrupted rebalances).
  std::vector<std::string> failures;
  for (const auto& m : configured) {
    v1::DropBucketsRequest d;
    d.set_topic(name);
    d.set_not_owned(true);
    v1::DropBucketsResponse dr;
    Status s = call_peer(peers, m, &Stub::DropBuckets, d, &dr, timeout);
    if (!s.ok()) {
      failures.push_back(s.message());
      continue;
    }
    for (uint32_t b : dr.dropped()) resp->add_dropped(m.id.str() + ":" + std::to_string(b));
  }
  if (!failures.empty())
    return Status(Code::kUnavailable, where + ": the buckets moved (placement epoch " + std::to_string(resp->epoch()) +
                                          "), but deleting old copies failed: " + join(failures) +
                                          "; run the rebalance again to delete them");
  return Status::OK();
}

}  // namespace persisting::net
