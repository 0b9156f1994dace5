// Raw TCP peers that send bad or oddly split frames: the server closes only the offending
// connection, and a well-behaved client on another connection keeps getting answers.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>

#include "frame_util.h"
#include "net/remoting/codec.h"
#include "transport_fixture.h"

namespace stele::remoting::testing {
namespace {

// A blocking POSIX socket to 127.0.0.1:port with a receive timeout of kWait.
class RawConn {
 public:
  explicit RawConn(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    timeval tv{.tv_sec = std::chrono::seconds(kWait).count(), .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~RawConn() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }
  bool Send(std::string_view b) {
    while (!b.empty()) {
      const ssize_t n = ::send(fd_, b.data(), b.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      b.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads exactly n bytes; false on EOF, error or timeout.
  bool Recv(size_t n, std::string* out) {
    out->clear();
    char buf[4096];
    while (out->size() < n) {
      const ssize_t r = ::recv(fd_, buf, std::min(sizeof(buf), n - out->size()), 0);
      if (r <= 0) return false;
      out->append(buf, static_cast<size_t>(r));
    }
    return true;
  }
  absl::StatusOr<RemotingCommand> RecvFrame() {
    std::string prefix, rest;
    if (!Recv(4, &prefix)) return absl::UnavailableError("no frame");
    auto len = DecodeFrameLength(prefix.data());
    if (!len.ok()) return len.status();
    if (!Recv(*len, &rest)) return absl::UnavailableError("truncated frame");
    return DecodeFrameBody(rest);
  }
  // True once the server closed the connection (EOF or reset); false on timeout or data.
  bool WaitClosed() {
    char c;
    const ssize_t r = ::recv(fd_, &c, 1, 0);
    return r == 0 || (r < 0 && (errno == ECONNRESET || errno == EPIPE));
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

class TransportAbuse : public TransportTest {
 protected:
  // Sends `bytes` on a raw connection and expects the server to hang up on it, while a request
  // the good client had in flight and a new one still get answers.
  void ExpectDisconnected(std::string_view bytes, std::string_view what) {
    SCOPED_TRACE(what);
    auto held = InvokeAsync(Req(kHold), kWait);
    ASSERT_TRUE(log_.WaitUntil([&] { return log_.held.size() == 1; }));
    {
      RawConn bad(server_->port());
      ASSERT_TRUE(bad.ok());
      bad.Send(bytes);  // the server may hang up before all of it is sent
      EXPECT_TRUE(bad.WaitClosed());
    }
    log_.held[0](response::kSuccess);
    ASSERT_EQ(held.wait_for(kWait), std::future_status::ready);
    EXPECT_TRUE(held.get().ok());
    auto r = client_.InvokeSync(addr_, Req(kEcho, SerializeType::kRocketMq), kWait);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->code, response::kSuccess);
    ASSERT_TRUE(log_.WaitUntil([&] { return log_.closed.size() == 1; }));
  }
};

TEST_F(TransportAbuse, HugeLength) { ExpectDisconnected(Be32(0x7FFFFFFF), "length 0x7FFFFFFF"); }
TEST_F(TransportAbuse, LengthAllOnes) { ExpectDisconnected(Be32(0xFFFFFFFF), "length -1"); }
TEST_F(TransportAbuse, LengthJustOverLimit) {
  ExpectDisconnected(Be32(kMaxFrameSize + 1), "16 MiB + 1");
}
TEST_F(TransportAbuse, LengthZero) { ExpectDisconnected(Be32(0), "length 0"); }
TEST_F(TransportAbuse, LengthThree) { ExpectDisconnected(Be32(3) + "abc", "length 3"); }
TEST_F(TransportAbuse, GarbageJsonHeader) {
  ExpectDisconnected(MakeFrame(0, "this is not json"), "garbage JSON");
}
TEST_F(TransportAbuse, JsonArrayHeader) { ExpectDisconnected(MakeFrame(0, "[1,2,3]"), "array"); }
TEST_F(TransportAbuse, UnknownSerializeType) {
  ExpectDisconnected(MakeFrame(2, R"({"code":1000})"), "type 2");
}
TEST_F(TransportAbuse, HeaderLongerThanFrame) {
  std::string f = MakeFrame(0, R"({"code":1000})");
  f[7] = static_cast<char>(f[7] + 1);  // header length one past the frame
  ExpectDisconnected(f, "header length > frame");
}
TEST_F(TransportAbuse, TruncatedBinaryHeader) {
  ExpectDisconnected(MakeFrame(1, std::string("\x03\xe8\x00\x01", 4)), "binary header cut");
}
TEST_F(TransportAbuse, RandomBytes) {
  std::string junk;
  uint32_t x = 12345;
  for (int i = 0; i < 4096; ++i)
    junk.push_back(static_cast<char>((x = x * 1103515245 + 12345) >> 24));
  junk[0] = 0x00;  // a plausible length so the header decoder sees the junk
  junk[1] = 0x00;
  junk[2] = 0x0F;
  junk[3] = 0xFC;
  ExpectDisconnected(junk, "random bytes");
}
TEST_F(TransportAbuse, GoodFrameThenGarbage) {
  ExpectDisconnected(MakeFrame(0, R"({"code":1000})") + MakeFrame(0, "{"), "good then bad");
}

// A peer that declares the largest legal frame and then stalls does not block anyone else; its
// close is noticed.
TEST_F(TransportAbuse, StalledLargeFrame) {
  auto slow = std::make_unique<RawConn>(server_->port());
  ASSERT_TRUE(slow->ok());
  ASSERT_TRUE(slow->Send(Be32(kMaxFrameSize) + Be32(20) + std::string(1000, 'x')));
  auto r = client_.InvokeSync(addr_, Req(kEcho), kWait);
  ASSERT_TRUE(r.ok()) << r.status();
  {
    std::lock_guard<std::mutex> l(log_.mu);
    EXPECT_TRUE(log_.closed.empty());
  }
  slow.reset();
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.closed.size() == 1; }));
}

// Peak resident memory of this process in KiB (VmHWM), after resetting the peak to the current
// size; -1 if /proc does not support it.
long PeakRssKib(bool reset) {
  if (reset) {
    std::ofstream("/proc/self/clear_refs") << "5";
  }
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// Memory follows the bytes a peer sent, not the length it declared: eight connections that each
// promise a 16 MiB frame and send 12 bytes must not make the server hold 8 x 16 MiB
// (reliability.md P1-3: "the server does not pre-allocate 500 x 16 MiB").
TEST_F(TransportAbuse, DeclaredLengthIsNotPreallocated) {
  constexpr int kConns = 8;
  const long before = PeakRssKib(/*reset=*/true);
  if (before < 0) GTEST_SKIP() << "no VmHWM";
  {
    std::vector<std::unique_ptr<RawConn>> conns;
    for (int i = 0; i < kConns; ++i) {
      conns.push_back(std::make_unique<RawConn>(server_->port()));
      ASSERT_TRUE(conns.back()->ok());
      ASSERT_TRUE(conns.back()->Send(Be32(kMaxFrameSize) + Be32(20) + "abcd"));
    }
  }  // closed: each server strand handles the 12 bytes before it sees the EOF
  ASSERT_TRUE(log_.WaitUntil([&] { return log_.closed.size() == kConns; }));
  const long grown_kib = PeakRssKib(false) - before;
  EXPECT_LT(grown_kib, 8 * 1024) << "peak RSS grew by " << grown_kib / 1024 << " MiB";
}

// The golden ali-ons request, one byte per send(): framing must not depend on read boundaries.
// 105 has no handler here, so the reply is REQUEST_CODE_NOT_SUPPORTED, in JSON (type byte 0),
// with ali-ons's opaque.
TEST_F(TransportAbuse, ByteByByteAliOnsFrame) {
  const std::string frame = ReadGolden("route_request.bin");
  ASSERT_FALSE(frame.empty());
  RawConn c(server_->port());
  ASSERT_TRUE(c.ok());
  for (char b : frame) ASSERT_TRUE(c.Send(std::string_view(&b, 1)));
  std::string prefix, rest;
  ASSERT_TRUE(c.Recv(8, &prefix));
  EXPECT_EQ(static_cast<uint8_t>(prefix[4]), 0) << "JSON reply to a JSON request";
  ASSERT_TRUE(c.Recv(LoadBe32(prefix.data()) - 4, &rest));
  auto resp = DecodeFrameBody(prefix.substr(4) + rest);
  ASSERT_TRUE(resp.ok()) << resp.status();
  EXPECT_EQ(resp->code, response::kRequestCodeNotSupported);
  EXPECT_EQ(resp->opaque, DecodeWhole(frame)->opaque);
  EXPECT_TRUE(resp->is_response());
}

// Several frames in one send(), mixed serializations: all answered, in order, on one connection.
TEST_F(TransportAbuse, CoalescedFrames) {
  std::string batch;
  for (int i = 0; i < 20; ++i) {
    RemotingCommand req = Req(kEcho, i % 2 ? SerializeType::kRocketMq : SerializeType::kJson);
    req.opaque = 100 + i;
    req.body = std::string(static_cast<size_t>(i) * 1000, 'b');
    batch += EncodeFrame(req);
  }
  RawConn c(server_->port());
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Send(batch));
  for (int i = 0; i < 20; ++i) {
    auto r = c.RecvFrame();
    ASSERT_TRUE(r.ok()) << i << ": " << r.status();
    EXPECT_EQ(r->opaque, 100 + i);
    EXPECT_EQ(r->body.size(), static_cast<size_t>(i) * 1000);
    EXPECT_EQ(r->serialize_type, i % 2 ? SerializeType::kRocketMq : SerializeType::kJson);
  }
}

}  // namespace
}  // namespace stele::remoting::testing
