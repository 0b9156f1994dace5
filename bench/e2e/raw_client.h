// A lean, blocking client for RocketMQ's remoting protocol, for load generation.
//
// The benchmark shares two CPUs with the broker it measures, so every microsecond the load
// generator spends is taken from the broker. This client therefore encodes each queue's
// SEND_MESSAGE_V2 frame once (with the project's own codec) and, per message, only copies it and
// patches the opaque and the UNIQ_KEY in place; it reads responses with one recv() for as many
// frames as have arrived and takes only the code and opaque from each header (PeekResponse).
// Per acknowledged message that is one write and about one read on the client side.
// (`stele_e2e_bench --client=remoting` uses the project's RemotingClient instead.)
//
// Thread safety: a RawConnection belongs to one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "e2e_common.h"
#include "net/remoting/command.h"

namespace stele::e2e {

// Opaques of in-flight sends are kOpaqueBase + slot: ten decimal digits for every slot < 1e9, so a
// JSON header's "opaque" value has a fixed width and can be patched in place.
constexpr int32_t kOpaqueBase = 1000000000;

// What a producer sends to one queue.
struct SendSpec {
  std::string topic;
  std::string group = "e2e_bench_producer";
  int32_t queue_id = 0;
  int32_t default_queue_nums = 8;
  std::string_view body;
  std::string properties;  // BenchProperties(): holds the UNIQ_KEY placeholder
  remoting::SerializeType type = remoting::SerializeType::kJson;
};

// The SEND_MESSAGE_V2 request a RocketMQ producer sends (short header names a..m, as mqadmin).
remoting::RemotingCommand SendRequest(const SendSpec& spec);

// A pre-encoded SEND_MESSAGE_V2 frame (length prefix included).
struct SendFrame {
  std::string bytes;
  size_t opaque_pos = 0;  // JSON: ten digit characters; binary header: int32 big-endian
  bool binary = false;
  size_t uniq_pos = 0;  // kUniqKeyLen characters of the UNIQ_KEY value
  // Appends a copy to `out` with `opaque` and the unique key of message (worker, seq).
  void AppendTo(std::string* out, int32_t opaque, uint32_t worker, uint64_t seq) const;
};
absl::StatusOr<SendFrame> MakeSendFrame(const SendSpec& spec);

// The code and opaque of a response frame (the bytes after the length prefix) without decoding
// the whole header. ok = false when it is not a well-formed response.
struct ResponseHead {
  bool ok = false;
  int32_t code = 0;
  int32_t opaque = 0;
};
ResponseHead PeekResponse(std::string_view frame);

class RawConnection {
 public:
  // Connects to "host:port" (TCP_NODELAY, as RocketMQ's Netty client). A refused connection fails
  // at once (the ready mode polls with it).
  static absl::StatusOr<std::unique_ptr<RawConnection>> Connect(const std::string& host_port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  absl::Status WriteAll(std::string_view data);
  // Waits for input until `deadline` (nullopt: blocks, up to a 10 s receive timeout), reads once,
  // and calls `fn` with each complete frame now buffered (the bytes after its length prefix,
  // valid during the call). OK without any call when the deadline passes first.
  absl::Status ReadFrames(std::optional<Clock::time_point> deadline,
                          const std::function<void(std::string_view)>& fn);
  // Reads until one whole frame has arrived and decodes it. For one request at a time: frames
  // buffered after the first are dropped.
  absl::StatusOr<remoting::RemotingCommand> ReadCommand();

 private:
  explicit RawConnection(int fd);
  // Calls fn for each complete buffered frame; an error for a malformed length.
  absl::Status ParseFrames(const std::function<void(std::string_view)>& fn, size_t* frames);

  int fd_;
  std::vector<char> buf_;
  size_t start_ = 0;  // buffered bytes are buf_[start_, start_ + len_)
  size_t len_ = 0;
};

}  // namespace stele::e2e
