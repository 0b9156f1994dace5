// Embedding Stele as a durable multi-topic queue with a consumer that survives kill -9 without
// losing or repeating a message.
//
//   durable_queue DATA_DIR [--messages N] [--topics T]
//
// A producer thread appends N numbered messages to queue 0 of each of T topics (DurableQueue0,
// DurableQueue1, ...) with SYNC_FLUSH. A consumer thread reads them with Get() and
// WaitForMessages() and "processes" each one by appending a line to DATA_DIR/consumed.log. The
// program exits 0 once all N x T messages are produced and processed. Kill it at any moment and run
// it again: it carries on where it stopped, and consumed.log ends up with every message exactly
// once, in order. DATA_DIR/store/ holds the store itself.
//
// Why the consumer's offset lives in its output. A consumer that keeps its offset apart from its
// effect makes two writes per message, and a crash between them either repeats the message (effect
// written, offset not) or loses it (offset written, effect not). Exactly-once needs the two to
// commit together. Here the effect of a message is the line "topic queue_id queue_offset seq",
// and that line is also the commit of offset queue_offset + 1: on start the consumer reads
// consumed.log back and resumes each queue after its last line. A batch of lines goes out in one
// write() followed by fdatasync(). Whatever a crash leaves behind, effect and offset agree:
//   - killed after the write(): the lines are in the page cache and count as committed;
//   - killed inside the write(): a torn last line (no '\n') is cut off on restart and its message
//     processed again; its effect never completed;
//   - power loss: lines not yet fdatasync'ed vanish together with the offsets they commit.
// An effect that lives elsewhere (a database row) gets the same property by storing the offset in
// the same transaction, or by being idempotent per (topic, queue, queue offset).
//
// Why the producer needs no state of its own. It makes seq equal to the queue offset and on start
// continues from NextQueueOffset(): the commit log is the record of what was sent. A message that
// was appended but not yet acknowledged when the process died is still in the log (kill -9 does
// not drop the page cache), so it is not sent twice, and no number is skipped. Get() can return a
// message before its fdatasync completes; after a power loss that drops such a message the producer
// re-sends the same seq at the same queue offset, so the consumer's committed offset stays correct.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "stele/store.h"

namespace {

constexpr int32_t kQueueId = 0;
constexpr int32_t kBatch = 64;  // messages per Get, and so per write() + fdatasync()
constexpr int kMaxTopics = 1000;

absl::Status Errno(std::string_view what, const std::string& path, int err = errno) {
  return absl::InternalError(std::string(what) + " " + path + ": " + std::strerror(err));
}

std::string TopicName(int t) { return "DurableQueue" + std::to_string(t); }
std::string TagsOf(int64_t seq) { return seq % 2 == 0 ? "even" : "odd"; }
std::string KeysOf(int t, int64_t seq) {
  return "order-" + std::to_string(t) + "-" + std::to_string(seq);
}

std::optional<int64_t> ParseInt(std::string_view s) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

// Makes a directory entry durable (a new file's name, or a truncation's metadata).
absl::Status SyncDir(const std::string& dir) {
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return Errno("open", dir);
  const int err = fsync(fd) == 0 ? 0 : errno;
  close(fd);
  return err == 0 ? absl::OkStatus() : Errno("fsync", dir, err);
}

// consumed.log: the consumer's output and its committed offsets, one line per processed message.
class ConsumedLog {
 public:
  ConsumedLog(std::string dir, int topics)
      : dir_(std::move(dir)), path_(dir_ + "/consumed.log"), committed_(topics, 0) {}
  ~ConsumedLog() {
    if (fd_ >= 0) close(fd_);
  }

  // Opens (creating) the file and recovers the committed offsets from it. A torn tail (a last line
  // without '\n', or unparsable bytes with nothing valid after them) is cut off. Anything else
  // that is wrong (a damaged line followed by valid ones, a gap or a repeat) is refused: carrying
  // on could repeat or lose messages.
  absl::Status Open() {
    fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd_ < 0) return Errno("open", path_);
    if (absl::Status st = SyncDir(dir_); !st.ok()) return st;
    std::string data;
    char buf[1 << 16];
    for (ssize_t n; (n = pread(fd_, buf, sizeof buf, static_cast<off_t>(data.size()))) != 0;) {
      if (n < 0) return Errno("read", path_);
      data.append(buf, static_cast<size_t>(n));
    }
    size_t good = 0;  // end of the last valid line
    for (size_t pos = 0, nl; (nl = data.find('\n', pos)) != std::string::npos; pos = nl + 1) {
      const auto line = Parse(std::string_view(data).substr(pos, nl - pos));
      if (!line) {
        // Damaged. Only a torn tail may be cut off: nothing valid may follow it.
        for (size_t p = nl + 1, q; (q = data.find('\n', p)) != std::string::npos; p = q + 1) {
          if (Parse(std::string_view(data).substr(p, q - p))) {
            return absl::DataLossError(path_ + ": damaged line at byte " + std::to_string(pos) +
                                       " is followed by valid ones; refusing to guess");
          }
        }
        break;
      }
      // Lines of a queue are consecutive; anything else is a repeated or lost message.
      // (A previous run may have had more topics than this one.)
      if (line->topic >= static_cast<int>(committed_.size())) committed_.resize(line->topic + 1);
      int64_t& committed = committed_[line->topic];
      if (line->queue_offset != committed || line->seq != line->queue_offset) {
        return absl::DataLossError(path_ + ": line at byte " + std::to_string(pos) +
                                   " is out of sequence; expected queue offset " +
                                   std::to_string(committed));
      }
      committed = line->queue_offset + 1;
      good = nl + 1;
    }
    if (good < data.size()) {
      std::printf("consumer: cutting %zu bytes of torn tail off %s\n", data.size() - good,
                  path_.c_str());
      if (ftruncate(fd_, static_cast<off_t>(good)) != 0) return Errno("truncate", path_);
      if (fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    }
    return absl::OkStatus();
  }

  // The queue offset to consume next for topic t: one past its last committed line.
  int64_t committed(int t) const { return committed_[t]; }

  // Commits `lines` (whole lines for topic t, ending at offset `next`) with one write + fdatasync.
  absl::Status Commit(int t, const std::string& lines, int64_t next) {
    for (size_t done = 0; done < lines.size();) {
      ssize_t n = write(fd_, lines.data() + done, lines.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Errno("write", path_);
      done += static_cast<size_t>(n);
    }
    if (fdatasync(fd_) != 0) return Errno("fdatasync", path_);
    committed_[t] = next;
    return absl::OkStatus();
  }

 private:
  struct Line {
    int topic;
    int64_t queue_offset, seq;
  };
  // "DurableQueue<t> <queue_id> <queue_offset> <seq>"
  std::optional<Line> Parse(std::string_view s) const {
    std::vector<std::string_view> f;
    for (size_t p = 0; p <= s.size();) {
      size_t sp = std::min(s.find(' ', p), s.size());
      f.push_back(s.substr(p, sp - p));
      p = sp + 1;
    }
    constexpr std::string_view kPrefix = "DurableQueue";
    if (f.size() != 4 || !f[0].starts_with(kPrefix)) return std::nullopt;
    auto t = ParseInt(f[0].substr(kPrefix.size()));
    auto q = ParseInt(f[1]), qo = ParseInt(f[2]), seq = ParseInt(f[3]);
    if (!t || !q || !qo || !seq || *t < 0 || *t >= kMaxTopics || *q != kQueueId) {
      return std::nullopt;
    }
    return Line{static_cast<int>(*t), *qo, *seq};
  }

  const std::string dir_, path_;
  std::vector<int64_t> committed_;
  int fd_ = -1;
};

struct Config {
  std::string dir;
  int64_t messages = 1000;
  int topics = 3;
};

// Appends seq = NextQueueOffset .. messages-1 to every topic, round-robin over the topics in the
// order the consumer expects (the topic furthest behind first).
absl::Status Produce(stele::Store& store, const Config& cfg, const std::atomic<bool>& stop) {
  std::vector<int64_t> next(cfg.topics);
  for (int t = 0; t < cfg.topics; ++t) {
    next[t] = store.NextQueueOffset(TopicName(t), kQueueId);
    // The log's last message must carry the number just before: seq == queue offset.
    if (next[t] > 0) {
      auto last = store.Get(TopicName(t), kQueueId, next[t] - 1, {.max_messages = 1});
      if (!last.ok() || last->messages.empty() ||
          ParseInt(last->messages[0].msg.body) != next[t] - 1) {
        return absl::DataLossError("the last message of " + TopicName(t) + " is not seq " +
                                   std::to_string(next[t] - 1));
      }
    }
    std::printf("producer: %s resumes at seq %lld\n", TopicName(t).c_str(),
                static_cast<long long>(next[t]));
  }
  const int64_t every = std::max<int64_t>(1, cfg.messages / 5);
  while (!stop.load()) {
    const int t = static_cast<int>(std::min_element(next.begin(), next.end()) - next.begin());
    const int64_t seq = next[t];
    if (seq >= cfg.messages) break;
    const std::string topic = TopicName(t), body = std::to_string(seq), tags = TagsOf(seq),
                      keys = KeysOf(t, seq);
    auto r = store.Append(stele::Message{
        .topic = topic, .queue_id = kQueueId, .body = body, .tags = tags, .keys = keys});
    if (!r.ok()) return r.status();
    if (r->status != stele::PutMessageStatus::kPutOk) {
      // Stored but not confirmed durable in time; under SYNC_FLUSH that is a failing disk.
      return absl::UnavailableError(std::string(stele::PutMessageStatusName(r->status)));
    }
    if (r->queue_offset != seq) {
      return absl::InternalError("seq " + body + " of " + topic + " got queue offset " +
                                 std::to_string(r->queue_offset) + ": another producer?");
    }
    ++next[t];
    if (next[t] % every == 0 || next[t] == cfg.messages) {
      std::printf("producer: %s %lld/%lld appended (msgId %s)\n", topic.c_str(),
                  static_cast<long long>(next[t]), static_cast<long long>(cfg.messages),
                  r->msg_id.c_str());
    }
  }
  return absl::OkStatus();
}

// Consumes every topic's queue 0 from its committed offset until all hold `messages`.
absl::Status Consume(stele::Store& store, const Config& cfg, ConsumedLog& log,
                     const std::atomic<bool>& stop) {
  for (int t = 0; t < cfg.topics; ++t) {
    std::printf("consumer: %s resumes at queue offset %lld\n", TopicName(t).c_str(),
                static_cast<long long>(log.committed(t)));
  }
  const int64_t every = std::max<int64_t>(1, cfg.messages / 5);
  std::string lines;
  while (!stop.load()) {
    bool progressed = false, done = true;
    for (int t = 0; t < cfg.topics; ++t) {
      const int64_t from = log.committed(t);
      if (from >= cfg.messages) continue;
      done = false;
      const std::string topic = TopicName(t);
      auto got = store.Get(topic, kQueueId, from, {.max_messages = kBatch});
      if (!got.ok()) return got.status();
      using S = stele::GetMessageStatus;
      if (got->status != S::kFound) {
        // Nothing new yet; anything else means messages this consumer needs are gone.
        if (got->status == S::kOffsetOverflowOne || got->status == S::kNoMatchedLogicQueue ||
            got->status == S::kNoMessageInQueue || got->status == S::kOffsetOverflowBadly) {
          continue;
        }
        return absl::DataLossError(topic + " at " + std::to_string(from) + ": " +
                                   std::string(stele::GetMessageStatusName(got->status)));
      }
      // "Process" the batch: check each message, then commit all of their lines at once.
      lines.clear();
      int64_t next = from;
      for (const stele::RecordRef& rec : got->messages) {
        const stele::MessageView& m = rec.msg;
        const auto seq = ParseInt(m.body);
        if (m.queue_offset != next || seq != next ||
            m.Property(stele::kPropertyTags) != TagsOf(next) ||
            m.Property(stele::kPropertyKeys) != KeysOf(t, next)) {
          return absl::DataLossError(topic + ": unexpected message at queue offset " +
                                     std::to_string(next));
        }
        if (next >= cfg.messages) break;  // more than this run asked for: leave them
        lines += topic + " " + std::to_string(kQueueId) + " " + std::to_string(next) + " " +
                 std::to_string(*seq) + "\n";
        ++next;
      }
      if (next == from) continue;
      if (absl::Status st = log.Commit(t, lines, next); !st.ok()) return st;
      progressed = true;
      if (next / every != from / every || next == cfg.messages) {
        std::printf("consumer: %s %lld/%lld committed\n", topic.c_str(),
                    static_cast<long long>(next), static_cast<long long>(cfg.messages));
      }
    }
    if (done) return absl::OkStatus();
    if (progressed) continue;
    // Nothing anywhere: sleep until the next message arrives. The producer fills the topic that is
    // furthest behind first, so that is where it will land. (With independent producers, use one
    // consumer thread per queue, or SetArrivalListener to wake a single one.) The timeout only
    // lets the loop notice `stop`.
    int w = 0;
    for (int t = 1; t < cfg.topics; ++t) {
      if (log.committed(t) < log.committed(w)) w = t;
    }
    store.WaitForMessages(TopicName(w), kQueueId, log.committed(w), std::chrono::seconds(1));
  }
  return absl::OkStatus();
}

int Usage() {
  std::fprintf(stderr, "usage: durable_queue DATA_DIR [--messages N] [--topics T]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Config cfg;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if ((a == "--messages" || a == "--topics") && i + 1 < argc) {
      auto v = ParseInt(argv[++i]);
      if (!v || *v < 1 || *v > (a == "--topics" ? kMaxTopics : 1000000000)) return Usage();
      if (a == "--topics") {
        cfg.topics = static_cast<int>(*v);
      } else {
        cfg.messages = *v;
      }
    } else if (!a.starts_with("--") && cfg.dir.empty()) {
      cfg.dir = a;
    } else {
      return Usage();
    }
  }
  if (cfg.dir.empty()) return Usage();
  if (mkdir(cfg.dir.c_str(), 0755) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "%s\n", Errno("mkdir", cfg.dir).ToString().c_str());
    return 1;
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);  // progress lines appear at once, even in a pipe

  stele::StoreOptions opts;
  opts.store_path_root_dir = cfg.dir + "/store";
  opts.flush_disk_type = stele::FlushDiskType::kSyncFlush;  // an OK append is on disk
  opts.mapped_file_size_commit_log = 16ull << 20;           // small segments for a demo
  opts.max_hash_slot_num = 100000;                          // a small key index (~8 MiB)
  opts.max_index_num = 400000;
  auto store = stele::Store::Open(opts);
  if (!store.ok()) {
    std::fprintf(stderr, "open %s: %s\n", opts.store_path_root_dir.c_str(),
                 store.status().ToString().c_str());
    return 1;
  }
  const stele::RecoveryReport& rep = (*store)->recovery_report();
  std::printf("store: opened %s, log ends at %lld (%s)\n", opts.store_path_root_dir.c_str(),
              static_cast<long long>(rep.end_offset),
              rep.clean_shutdown ? "closed cleanly last time" : "new, or recovered after a crash");

  ConsumedLog log(cfg.dir, cfg.topics);
  if (absl::Status st = log.Open(); !st.ok()) {
    std::fprintf(stderr, "consumer: %s\n", st.ToString().c_str());
    return 1;
  }

  // Either thread failing stops the other; the store is closed only after both are joined.
  std::atomic<bool> stop{false};
  absl::Status produced, consumed;
  std::thread producer([&] {
    produced = Produce(**store, cfg, stop);
    if (!produced.ok()) stop = true;
  });
  std::thread consumer([&] {
    consumed = Consume(**store, cfg, log, stop);
    if (!consumed.ok()) stop = true;
  });
  producer.join();
  consumer.join();
  absl::Status closed = (*store)->Close();
  for (const auto& [who, st] : {std::pair{"producer", produced}, std::pair{"consumer", consumed},
                                std::pair{"close", closed}}) {
    if (!st.ok()) {
      std::fprintf(stderr, "%s: %s\n", who, st.ToString().c_str());
      return 1;
    }
  }
  std::printf("done: %lld messages x %d topics produced and consumed exactly once\n",
              static_cast<long long>(cfg.messages), cfg.topics);
  return 0;
}
