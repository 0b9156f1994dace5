#include "net/broker/transaction_service.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <future>
#include <memory>
#include <utility>

#include "common/clock.h"
#include "common/logging.h"
#include "engine/record.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/state/names.h"
#include "net/remoting/codes.h"

namespace stele::broker {
namespace {

bool ParseInt64(std::string_view s, int64_t* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The real topic and queue a half names. InvalidArgument when they are missing or unusable.
absl::Status RealDestination(const MessageView& half, std::string* topic, int32_t* queue_id) {
  auto t = half.Property(kPropRealTopic);
  auto q = half.Property(kPropRealQueueId);
  if (!t || !q) return absl::InvalidArgumentError("the half message has no REAL_TOPIC or REAL_QID");
  *topic = std::string(*t);
  if (absl::Status s = ValidateInternalTopic(*topic); !s.ok()) return s;
  if (*topic == kTransHalfTopic || *topic == kTransOpHalfTopic) {
    return absl::InvalidArgumentError("the half message's REAL_TOPIC is a transaction topic");
  }
  int64_t qid = -1;
  if (!ParseInt64(*q, &qid) || qid < 0 || qid >= kMaxQueueNums) {
    return absl::InvalidArgumentError(
        fmt::format("the half message's REAL_QID '{}' is not a queue id", ShortForMessage(*q)));
  }
  *queue_id = static_cast<int32_t>(qid);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<OutgoingMessage> CommittedMessage(const MessageView& half) {
  OutgoingMessage m = OutgoingMessage::FromStored(half);
  STELE_RETURN_IF_ERROR(RealDestination(half, &m.topic, &m.queue_id));
  m.properties.Remove(kPropRealTopic);
  m.properties.Remove(kPropRealQueueId);
  m.properties.Remove(kPropTransactionPrepared);
  m.sys_flag = (m.sys_flag & ~sysflag::kTransactionMask) | sysflag::kTransactionCommitType;
  m.prepared_transaction_offset = half.physical_offset;
  return m;
}

OutgoingMessage OpMessage(const MessageView& half, const HostAddress& broker_host) {
  OutgoingMessage m;
  m.topic = std::string(kTransOpHalfTopic);
  m.queue_id = half.queue_id;
  m.body = fmt::format("{}", half.queue_offset);
  m.properties.Set(kPropertyTags, kOpRemoveTag);
  m.born_timestamp = NowMs();
  m.born_host = broker_host;
  return m;
}

absl::StatusOr<std::string> CheckBody(const MessageView& half) {
  std::string topic;
  int32_t queue_id = 0;
  STELE_RETURN_IF_ERROR(RealDestination(half, &topic, &queue_id));
  Properties props = Properties::Parse(half.properties);
  props.Remove(kPropertyCrc32);
  const std::string& raw = props.Serialize();
  const Message m{.topic = topic,
                  .queue_id = queue_id,
                  .body = half.body,
                  .properties = raw,
                  .flag = half.flag,
                  .sys_flag = half.sys_flag,
                  .born_timestamp_ms = half.born_timestamp,
                  .born_host = half.born_host,
                  .reconsume_times = half.reconsume_times,
                  .prepared_transaction_offset = half.prepared_transaction_offset};
  engine::EncodeParams p;
  p.max_body_size = UINT32_MAX;
  p.prop_crc = false;
  p.store_host = half.store_host;
  engine::PreparedRecord rec;
  STELE_RETURN_IF_ERROR(engine::PrepareRecord(m, p, half.store_timestamp, &rec));
  engine::FinalizeRecord(&rec, half.queue_offset, half.physical_offset, half.store_timestamp);
  return std::move(rec.buf);
}

TransactionService::TransactionService(BrokerController& b) : b_(b) {}

TransactionService::~TransactionService() { Stop(); }

void TransactionService::Start() {
  thread_.Start([this] { Prepare(); },
                [this] {
                  Pass();
                  passes_.fetch_add(1);
                  return b_.config().transaction_check_interval_ms;
                },
                b_.config().transaction_check_interval_ms);
}

void TransactionService::Prepare() {
  // Missing progress starts at the queue's first offset (RocketMQ's getConsumeOffset); progress
  // past the queue's end means records were lost in a machine crash after it was persisted.
  auto load = [&](std::string_view topic, int64_t* committed) {
    const int64_t min = b_.store().MinQueueOffset(topic, 0);
    const int64_t next = b_.store().NextQueueOffset(topic, 0);
    int64_t offset = b_.offsets().Query(kTransactionGroup, topic, 0).value_or(min);
    *committed = offset;
    if (offset > next) {
      log::Warn("transactions: {} progress {} is past the queue's end {}; records were lost", topic,
                offset, next);
      offset = next;
    }
    return std::max(offset, min);
  };
  head_ = load(kTransHalfTopic, &committed_half_);
  op_read_ = load(kTransOpHalfTopic, &committed_op_);
  CommitProgress();
}

void TransactionService::Stop() {
  if (thread_.Stop()) CommitProgress();
}

void TransactionService::Pass() {
  const int64_t now = NowMs();
  // Copies put back by this pass land past `end`; they wait for the next pass.
  const int64_t end = b_.store().MaxQueueOffset(kTransHalfTopic, 0);
  if (!ReadOps()) {
    CommitProgress();
    return;
  }
  GetOptions opts;
  opts.max_messages = kBatch;
  bool more = true;
  while (more && head_ < end && !thread_.stopping()) {
    auto got = b_.store().Get(kTransHalfTopic, 0, head_, opts);
    if (!got.ok()) {
      log::Error("transactions: reading the half queue failed: {}", StatusMessage(got.status()));
      break;
    }
    if (got->status == GetMessageStatus::kOffsetTooSmall) {
      log::Warn("transactions: half messages {}..{} were deleted before they were resolved", head_,
                got->next_begin_offset - 1);
      AdvanceHead(got->next_begin_offset);
      continue;
    }
    if (got->status != GetMessageStatus::kFound) {
      if (got->next_begin_offset <= head_) break;
      log::Warn("transactions: half offsets {}..{} could not be read ({}); skipped", head_,
                got->next_begin_offset - 1, GetMessageStatusName(got->status));
      AdvanceHead(got->next_begin_offset);
      continue;
    }
    for (const RecordRef& rec : got->messages) {
      const int64_t offset = rec.msg.queue_offset;
      if (offset >= end || thread_.stopping()) {
        more = false;
        break;
      }
      if (!removed_.contains(offset)) {
        const Outcome o = Resolve(rec.msg, now);
        if (o != Outcome::kDone) {
          more = false;
          break;
        }
      }
      AdvanceHead(offset + 1);
    }
  }
  CommitProgress();
}

bool TransactionService::ReadOps() {
  GetOptions opts;
  opts.max_messages = kBatch;
  while (!thread_.stopping()) {
    if (removed_.size() >= kMaxTrackedOps) {
      if (ShouldWarn()) {
        log::Warn("transactions: {} op records wait for half offset {}; checks are paused",
                  removed_.size(), head_);
      }
      return false;
    }
    auto got = b_.store().Get(kTransOpHalfTopic, 0, op_read_, opts);
    if (!got.ok()) {
      log::Error("transactions: reading the op queue failed: {}", StatusMessage(got.status()));
      return false;
    }
    if (got->status == GetMessageStatus::kOffsetTooSmall) {
      log::Warn("transactions: op records {}..{} were deleted before they were read", op_read_,
                got->next_begin_offset - 1);
      op_read_ = got->next_begin_offset;
      continue;
    }
    if (got->status != GetMessageStatus::kFound) {
      if (got->next_begin_offset <= op_read_) return true;  // caught up
      op_read_ = got->next_begin_offset;
      continue;
    }
    for (const RecordRef& rec : got->messages) {
      ApplyOp(rec.msg);
      op_read_ = rec.msg.queue_offset + 1;
    }
    op_read_ = std::max(op_read_, got->next_begin_offset);
  }
  return false;
}

void TransactionService::ApplyOp(const MessageView& op) {
  if (op.Property(kPropertyTags) != kOpRemoveTag) {
    log::Warn("transactions: op record {} is not tagged '{}'; ignored", op.queue_offset,
              kOpRemoveTag);
    return;
  }
  int refs = 0;
  std::string_view rest = op.body;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    const std::string_view item = Trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    if (item.empty()) continue;
    int64_t half = 0;
    if (!ParseInt64(item, &half) || half < 0) {
      log::Warn("transactions: op record {} names '{}', not a half offset; ignored",
                op.queue_offset, ShortForMessage(item));
      continue;
    }
    // Below head_: already passed. Already named: a second END_TRANSACTION for the same half.
    if (half < head_ || removed_.contains(half)) continue;
    removed_.emplace(half, op.queue_offset);
    ++refs;
  }
  if (refs > 0) op_refs_[op.queue_offset] = refs;
}

TransactionService::Outcome TransactionService::Resolve(const MessageView& half, int64_t now_ms) {
  const BrokerConfig& c = b_.config();
  int64_t times = 0;  // checks so far
  if (auto t = half.Property(kPropCheckTimes); t && !ParseInt64(*t, &times)) times = 0;
  if (half.Property(kPropCheckTimes) && times >= c.transaction_check_max) {
    // RocketMQ's resolveDiscardMsg: kept (for an operator) in TRANS_CHECK_MAX_TIME_TOPIC.
    const std::string topic(kTransCheckMaxTimeTopic);
    if (!b_.topics().Find(topic)) {
      TopicConfig t;
      t.topic_name = topic;
      t.read_queue_nums = t.write_queue_nums = 1;
      t.perm = kPermRead | kPermWrite;
      if (absl::Status s = b_.topics().CreateOrUpdate(t); s.ok()) b_.RegisterSoon();
    }
    OutgoingMessage m = OutgoingMessage::FromStored(half);
    m.topic = topic;
    m.queue_id = 0;
    m.properties.Remove(kPropDelayLevel);  // keep REAL_TOPIC: the writer would overwrite it
    auto r = PutAndWait(std::move(m));
    if (!r.ok()) {
      if (ShouldWarn()) {
        log::Warn("transactions: discarding half {} failed, will retry: {}", half.queue_offset,
                  StatusMessage(r.status()));
      }
      return Outcome::kFailed;
    }
    log::Warn(
        "transactions: half message {} (commit-log offset {}) was checked {} times; moved "
        "to {}",
        half.queue_offset, half.physical_offset, times, topic);
    return Outcome::kDone;
  }

  int64_t timeout = c.transaction_timeout_ms;
  int64_t immunity = 0;
  if (auto s = half.Property(kPropCheckImmunitySeconds); s && ParseInt64(*s, &immunity)) {
    if (immunity != -1) timeout = immunity * 1000;
  }
  const int64_t age = now_ms - half.born_timestamp;
  // A half born "in the future" (a skewed client clock) is checked at once, as RocketMQ does.
  if (age >= 0 && age < timeout) return Outcome::kNotDue;

  // RocketMQ's putBackHalfMsgQueue: the check names a copy at the queue's end, so that this
  // offset can be passed now and the copy checked again next pass if still unresolved.
  OutgoingMessage copy = OutgoingMessage::FromStored(half);
  copy.topic = std::string(kTransHalfTopic);
  copy.queue_id = half.queue_id;
  copy.properties.Set(kPropCheckTimes, fmt::format("{}", times + 1));
  auto r = PutAndWait(std::move(copy));
  if (!r.ok()) {
    if (ShouldWarn()) {
      log::Warn("transactions: putting back half {} for a check failed, will retry: {}",
                half.queue_offset, StatusMessage(r.status()));
    }
    return Outcome::kFailed;
  }
  auto stored = b_.store().Read(r->wrote_offset);
  if (!stored.ok()) {
    log::Error("transactions: reading back the check copy at {} failed: {}", r->wrote_offset,
               StatusMessage(stored.status()));
    return Outcome::kDone;  // the copy is in the queue; the next pass checks it
  }
  SendCheck(stored->msg);
  return Outcome::kDone;
}

void TransactionService::SetCheckHook(CheckHook hook) {
  std::lock_guard<std::mutex> l(hook_mu_);
  hook_ = std::move(hook);
}

void TransactionService::SendCheck(const MessageView& copy) {
  auto group = copy.Property(kPropProducerGroup);
  auto channel_id = group ? b_.producers().FindChannelOfGroup(*group) : std::nullopt;
  remoting::ChannelPtr ch = channel_id ? b_.server().FindChannel(*channel_id) : nullptr;
  if (ch == nullptr) {
    std::lock_guard<std::mutex> l(hook_mu_);
    if (hook_ && hook_(copy)) return;
  }
  if (!group) {
    if (ShouldWarn()) {
      log::Warn(
          "transactions: half {} names no producer group (PGROUP) and no gRPC producer "
          "is connected to check it",
          copy.queue_offset);
    }
    return;
  }
  if (ch == nullptr) {
    if (ShouldWarn()) {
      log::Warn("transactions: no producer of group {} is connected to check half {}",
                ShortForMessage(*group), copy.queue_offset);
    }
    return;
  }
  auto body = CheckBody(copy);
  if (!body.ok()) {
    log::Error("transactions: half {} cannot be checked: {}", copy.queue_offset,
               StatusMessage(body.status()));
    return;
  }
  remoting::RemotingCommand req =
      remoting::RemotingCommand::Request(remoting::request::kCheckTransactionState);
  if (auto t = copy.Property(kPropRealTopic)) req.Set("topic", *t);
  req.Set("tranStateTableOffset", copy.queue_offset);
  req.Set("commitLogOffset", copy.physical_offset);
  if (auto id = copy.Property(kPropertyUniqKey)) {
    req.Set("msgId", *id);
    req.Set("transactionId", *id);
  }
  req.Set("offsetMsgId", copy.OffsetMsgId());
  req.Set("bname", b_.config().broker_name);
  req.body = *std::move(body);
  ch->InvokeOneway(std::move(req));
}

absl::StatusOr<AppendResult> TransactionService::PutAndWait(OutgoingMessage m) {
  auto p = std::make_shared<std::promise<absl::StatusOr<AppendResult>>>();
  auto f = p->get_future();
  b_.writer().Put(std::move(m),
                  [p](absl::StatusOr<AppendResult> r) { p->set_value(std::move(r)); });
  return f.get();
}

void TransactionService::AdvanceHead(int64_t offset) {
  for (auto it = removed_.begin(); it != removed_.end() && it->first < offset;) {
    auto r = op_refs_.find(it->second);
    if (r != op_refs_.end() && --r->second == 0) op_refs_.erase(r);
    it = removed_.erase(it);
  }
  head_ = std::max(head_, offset);
}

void TransactionService::CommitProgress() {
  const int64_t op = op_refs_.empty() ? op_read_ : std::min(op_read_, op_refs_.begin()->first);
  // The half offset first: a snapshot taken between the two commits then pairs a newer half
  // offset with an older op offset, which only re-reads op records. Unchanged progress is not
  // committed, so a broker that never saw a transaction keeps no CID_SYS_RMQ_TRANS offsets.
  auto commit = [&](std::string_view topic, int64_t offset, int64_t* committed) {
    if (offset == *committed) return;
    if (absl::Status s = b_.offsets().Commit(kTransactionGroup, topic, 0, offset); !s.ok()) {
      log::Error("transactions: committing {} progress failed: {}", topic, StatusMessage(s));
      return;
    }
    *committed = offset;
  };
  commit(kTransHalfTopic, head_, &committed_half_);
  commit(kTransOpHalfTopic, op, &committed_op_);
  half_offset_ = head_;
  op_offset_ = op;
}

bool TransactionService::ShouldWarn() {
  const int64_t now = SteadyMs();
  if (now - last_warn_ms_ < kWarnIntervalMs) return false;
  last_warn_ms_ = now;
  return true;
}

}  // namespace stele::broker
