#include "workload.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>
#include <unordered_map>

#include "common/clock.h"
#include "engine/record.h"
#include "net/remoting/codes.h"
#include "stele/message.h"
#include "testutil.h"

namespace stele::testing {
namespace {

using remoting::RemotingClient;
using remoting::RemotingCommand;
namespace code = remoting::request;
namespace rc = remoting::response;

// A SYNC_FLUSH reply waits for fdatasync (the broker's own bound is syncFlushTimeout = 5 s); an
// attempt without a reply after this long counts as not acknowledged.
constexpr std::chrono::milliseconds kSendTimeout{8000};
constexpr std::chrono::milliseconds kPullTimeout{10000};
// Pause after a failed attempt, so a producer does not spin while the broker is down.
constexpr std::chrono::milliseconds kRetryPause{2};
constexpr uint32_t kMinBody = 64;
constexpr uint32_t kMaxBody = 8192;
constexpr int64_t kPullBatch = 32;
constexpr int kMaxPullRetries = 100;  // PULL_RETRY_IMMEDIATELY or transport errors in a row
constexpr size_t kMaxDetails = 20;

// The commit-log offset in an offset msgId (IPv4 store host: 8 hex digits of address, 8 of port,
// 16 of offset); -1 if it is not one.
int64_t OffsetOfMsgId(std::string_view id) {
  uint64_t off = 0;
  if (id.size() != 32) return -1;
  auto [p, ec] = std::from_chars(id.data() + 16, id.data() + 32, off, 16);
  return ec == std::errc() && p == id.data() + 32 ? static_cast<int64_t>(off) : -1;
}

int64_t FieldInt(const RemotingCommand& r, std::string_view key, int64_t dflt) {
  auto v = r.IntOr(key, dflt);
  return v.ok() ? *v : dflt;
}

}  // namespace

SendWorkload::SendWorkload(std::string addr, uint64_t seed, int threads,
                           std::vector<std::string> topics, int queues)
    : seed_(seed),
      threads_(threads),
      topics_(std::move(topics)),
      queues_(queues),
      addr_(std::move(addr)),
      sent_(static_cast<size_t>(threads)) {}

SendWorkload::~SendWorkload() { Stop(); }

void SendWorkload::Start() {
  for (int t = 0; t < threads_; ++t) workers_.emplace_back([this, t] { Run(t); });
}

void SendWorkload::Stop() {
  stop_ = true;
  for (auto& w : workers_) w.join();
  workers_.clear();
}

void SendWorkload::SetAddr(std::string addr) {
  std::lock_guard<std::mutex> l(addr_mu_);
  addr_ = std::move(addr);
}

std::string SendWorkload::addr() const {
  std::lock_guard<std::mutex> l(addr_mu_);
  return addr_;
}

std::string SendWorkload::Key(int thread, uint64_t seq) const {
  return fmt::format("s{}-t{}-{}", seed_, thread, seq);
}

std::string SendWorkload::Body(int thread, uint64_t seq, uint32_t size) const {
  return testing::Body(seed_ * 1000 + static_cast<uint64_t>(thread), seq, size);
}

int SendWorkload::TopicOf(int thread, uint64_t seq) const {
  return static_cast<int>((static_cast<uint64_t>(thread) + seq) % topics_.size());
}

std::vector<SentMessage> SendWorkload::messages() const {
  std::vector<SentMessage> all;
  for (const auto& v : sent_) all.insert(all.end(), v.begin(), v.end());
  return all;
}

void SendWorkload::Run(int thread) {
  RemotingClient client(remoting::ClientOptions{.io_threads = 1,
                                                .connect_timeout = std::chrono::milliseconds(2000),
                                                .name = fmt::format("producer-{}", thread)});
  std::mt19937_64 rng(seed_ * 7919 + static_cast<uint64_t>(thread));
  std::vector<SentMessage>& mine = sent_[static_cast<size_t>(thread)];
  for (uint64_t seq = 0; !stop_; ++seq) {
    SentMessage m{.thread = thread,
                  .seq = seq,
                  .size = kMinBody + static_cast<uint32_t>(rng() % (kMaxBody - kMinBody + 1))};
    const std::string key = Key(thread, seq);
    const std::string body = Body(thread, seq, m.size);
    const std::string& topic = topics_[static_cast<size_t>(TopicOf(thread, seq))];
    const auto queue = static_cast<int64_t>(seq % static_cast<uint64_t>(queues_));
    std::string props;
    AppendProperty(&props, "KEYS", key);
    while (!stop_ && !m.acked) {
      RemotingCommand req = RemotingCommand::Request(code::kSendMessageV2);
      req.Set("a", "crash_producer");
      req.Set("b", topic);
      req.Set("c", "TBW102");
      req.Set("d", int64_t{queues_});
      req.Set("e", queue);
      req.Set("f", int64_t{0});
      req.Set("g", NowMs());
      req.Set("h", int64_t{0});
      req.Set("i", props);
      req.Set("j", int64_t{0});
      req.Set("k", "false");
      req.body = body;
      ++attempts_;
      ++inflight_;
      auto r = client.InvokeSync(addr(), std::move(req), kSendTimeout);
      --inflight_;
      if (r.ok() && r->code == rc::kSuccess) {
        m.acked = true;
        if (const std::string* id = r->Field("msgId")) m.msg_id = *id;
        m.queue_id = static_cast<int32_t>(FieldInt(*r, "queueId", -1));
        m.queue_offset = FieldInt(*r, "queueOffset", -1);
        const int64_t off = OffsetOfMsgId(m.msg_id);
        for (int64_t cur = max_acked_offset_.load();
             off > cur && !max_acked_offset_.compare_exchange_weak(cur, off);) {
        }
        ++acked_;
        break;
      }
      ++m.unacked_attempts;
      if (!r.ok()) {
        ++transport_failures_;
      } else if (r->code == rc::kFlushDiskTimeout) {
        ++flush_timeouts_;
      } else {
        ++error_replies_;
      }
      std::this_thread::sleep_for(kRetryPause);
    }
    if (m.acked || m.unacked_attempts > 0) mine.push_back(std::move(m));
  }
  client.Shutdown();
}

absl::Status CreateTopic(RemotingClient& client, const std::string& addr, const std::string& topic,
                         int queues) {
  RemotingCommand req = RemotingCommand::Request(code::kUpdateAndCreateTopic);
  req.Set("topic", topic);
  req.Set("defaultTopic", "TBW102");
  req.Set("readQueueNums", int64_t{queues});
  req.Set("writeQueueNums", int64_t{queues});
  req.Set("perm", int64_t{6});
  req.Set("topicFilterType", "SINGLE_TAG");
  req.Set("topicSysFlag", int64_t{0});
  req.Set("order", "false");
  auto r = client.InvokeSync(addr, std::move(req), kPullTimeout);
  if (!r.ok()) return r.status();
  if (r->code != rc::kSuccess) {
    return absl::InternalError(fmt::format("UPDATE_AND_CREATE_TOPIC {} answered {}: {}", topic,
                                           r->code, r->remark.value_or("")));
  }
  return absl::OkStatus();
}

std::string VerifyReport::Summary() const {
  return fmt::format(
      "{} acknowledged: {} lost, {} misplaced or altered; {} records stored ({} kept copies of "
      "unacknowledged attempts, {} duplicates of a key); {} keys stored more often than sent, "
      "{} repeated msgIds, {} queue-offset holes, {} foreign or corrupt records, {} pull problems; "
      "the records reach commit-log offset {}",
      acked, lost, wrong, stored, unacked_kept, duplicates, over_stored, repeated_ids, holes,
      foreign, pull_problems, log_end);
}

namespace {

// What the queues held for one msgId.
struct Found {
  size_t msg = SIZE_MAX;  // index into the workload's messages, SIZE_MAX if not ours
  int topic = 0;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
};

class Verifier {
 public:
  Verifier(const SendWorkload& w, RemotingClient& client, std::string addr)
      : w_(w), client_(client), addr_(std::move(addr)), msgs_(w.messages()) {
    copies_.assign(msgs_.size(), 0);
    for (size_t i = 0; i < msgs_.size(); ++i) {
      by_key_.emplace(w_.Key(msgs_[i].thread, msgs_[i].seq), i);
    }
  }

  VerifyReport Run() {
    for (int t = 0; t < static_cast<int>(w_.topics().size()); ++t) {
      for (int32_t q = 0; q < w_.queues(); ++q) PullQueue(t, q);
    }
    CheckMessages();
    return std::move(r_);
  }

 private:
  void Detail(int64_t* counter, std::string line) {
    ++*counter;
    if (r_.details.size() < kMaxDetails) r_.details.push_back(std::move(line));
  }

  void PullQueue(int topic, int32_t queue) {
    const std::string& name = w_.topics()[static_cast<size_t>(topic)];
    int64_t offset = 0;
    int retries = 0;
    while (true) {
      RemotingCommand req = RemotingCommand::Request(code::kPullMessage);
      req.Set("consumerGroup", "crash_consumer");
      req.Set("topic", name);
      req.Set("queueId", int64_t{queue});
      req.Set("queueOffset", offset);
      req.Set("maxMsgNums", kPullBatch);
      req.Set("sysFlag", int64_t{4});  // subscription given, no suspend, no commit
      req.Set("commitOffset", int64_t{0});
      req.Set("suspendTimeoutMillis", int64_t{0});
      req.Set("subscription", "*");
      req.Set("subVersion", int64_t{0});
      auto resp = client_.InvokeSync(addr_, std::move(req), kPullTimeout);
      const std::string where = fmt::format("{}/{} at queue offset {}", name, queue, offset);
      if (!resp.ok() || resp->code == rc::kPullRetryImmediately) {
        if (++retries <= kMaxPullRetries) continue;
        Detail(&r_.pull_problems,
               fmt::format("pull {}: gave up after {} retries ({})", where, kMaxPullRetries,
                           resp.ok() ? "PULL_RETRY_IMMEDIATELY" : resp.status().ToString()));
        return;
      }
      retries = 0;
      if (resp->code == rc::kPullNotFound) {
        const int64_t max = FieldInt(*resp, "maxOffset", -1);
        if (max != offset) {
          Detail(
              &r_.pull_problems,
              fmt::format("pull {}: PULL_NOT_FOUND but the queue's max offset is {}", where, max));
        }
        return;  // the end of the queue
      }
      if (resp->code != rc::kSuccess) {
        Detail(&r_.pull_problems,
               fmt::format("pull {}: code {} {}", where, resp->code, resp->remark.value_or("")));
        return;
      }
      std::string_view body = resp->body;
      int64_t expect = offset;
      while (!body.empty()) {
        MessageView m;
        std::string why;
        if (engine::DecodeRecord(body.data(), body.size(), /*check_crc=*/true, &m, &why) !=
            engine::DecodeResult::kOk) {
          Detail(&r_.pull_problems, fmt::format("pull {}: undecodable record: {}", where, why));
          return;
        }
        if (m.queue_offset != expect) {
          Detail(&r_.holes, fmt::format("{}/{}: record at queue offset {}, expected {}", name,
                                        queue, m.queue_offset, expect));
        }
        expect = m.queue_offset + 1;
        OnRecord(topic, queue, m);
        body.remove_prefix(m.total_size);
      }
      const int64_t next = FieldInt(*resp, "nextBeginOffset", -1);
      if (next != expect) {
        Detail(&r_.holes, fmt::format("pull {}: nextBeginOffset {} but the records end before {}",
                                      where, next, expect));
      }
      if (next <= offset) {
        Detail(&r_.pull_problems,
               fmt::format("pull {}: nextBeginOffset {} does not advance", where, next));
        return;
      }
      offset = next;
    }
  }

  void OnRecord(int topic, int32_t queue, const MessageView& m) {
    ++r_.stored;
    r_.log_end = std::max(r_.log_end, m.physical_offset + m.total_size);
    const std::string id = m.OffsetMsgId();
    const std::string key(m.Property("KEYS").value_or(""));
    auto k = by_key_.find(key);
    Found f{.topic = topic, .queue_id = m.queue_id, .queue_offset = m.queue_offset};
    if (k == by_key_.end()) {
      Detail(&r_.foreign, fmt::format("record {} at {}/{}:{} has key '{}', which no producer sent",
                                      id, topic, queue, m.queue_offset, key));
    } else {
      const SentMessage& s = msgs_[k->second];
      if (m.body != w_.Body(s.thread, s.seq, s.size) || m.queue_id != queue ||
          w_.TopicOf(s.thread, s.seq) != topic) {
        Detail(&r_.foreign, fmt::format("record {} (key {}) has a different body, topic or queue "
                                        "than was sent",
                                        id, key));
      } else {
        f.msg = k->second;
        ++copies_[k->second];
      }
    }
    if (!found_.emplace(id, f).second) {
      Detail(&r_.repeated_ids, fmt::format("msgId {} read twice from the queues", id));
    }
  }

  void CheckMessages() {
    for (size_t i = 0; i < msgs_.size(); ++i) {
      const SentMessage& s = msgs_[i];
      const std::string key = w_.Key(s.thread, s.seq);
      const int copies = copies_[i];
      const int sent = s.unacked_attempts + (s.acked ? 1 : 0);
      if (copies > sent) {
        Detail(&r_.over_stored,
               fmt::format("key {} stored {} times but sent {} times", key, copies, sent));
      }
      if (copies > 1) r_.duplicates += copies - 1;
      r_.unacked_kept += copies - (s.acked && copies > 0 ? 1 : 0);
      if (!s.acked) continue;
      ++r_.acked;
      auto f = found_.find(s.msg_id);
      if (f == found_.end()) {
        Detail(&r_.lost, fmt::format("acknowledged {} (key {}, queue {} offset {}) is missing",
                                     s.msg_id, key, s.queue_id, s.queue_offset));
        continue;
      }
      const Found& got = f->second;
      const auto want_queue = static_cast<int32_t>(s.seq % static_cast<uint64_t>(w_.queues()));
      if (got.msg != i || got.queue_id != s.queue_id || got.queue_offset != s.queue_offset ||
          s.queue_id != want_queue) {
        Detail(&r_.wrong,
               fmt::format("acknowledged {} (key {}) was reported at queue {} offset {} (sent to "
                           "queue {}); the queues hold {} there at queue {} offset {}",
                           s.msg_id, key, s.queue_id, s.queue_offset, want_queue,
                           got.msg == SIZE_MAX ? std::string("another message")
                                               : w_.Key(msgs_[got.msg].thread, msgs_[got.msg].seq),
                           got.queue_id, got.queue_offset));
      }
    }
  }

  const SendWorkload& w_;
  RemotingClient& client_;
  const std::string addr_;
  const std::vector<SentMessage> msgs_;
  std::unordered_map<std::string, size_t> by_key_;
  std::vector<int> copies_;
  std::unordered_map<std::string, Found> found_;
  VerifyReport r_;
};

}  // namespace

VerifyReport VerifyAll(const SendWorkload& w, RemotingClient& client, const std::string& addr) {
  return Verifier(w, client, addr).Run();
}

}  // namespace stele::testing
