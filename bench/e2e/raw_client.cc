#include "raw_client.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/bytes.h"
#include "common/clock.h"
#include "common/status.h"
#include "fmt/format.h"
#include "net/remoting/codec.h"
#include "net/remoting/codes.h"

namespace stele::e2e {

using remoting::RemotingCommand;
using remoting::SerializeType;

namespace {

absl::Status Errno(std::string_view what) {
  return absl::UnavailableError(fmt::format("{}: {}", what, std::strerror(errno)));
}

// The decimal number at `p` (optionally negative); false if there is none.
bool ParseInt(std::string_view s, size_t p, int32_t* out) {
  bool neg = false;
  if (p < s.size() && s[p] == '-') {
    neg = true;
    ++p;
  }
  if (p >= s.size() || s[p] < '0' || s[p] > '9') return false;
  int64_t v = 0;
  while (p < s.size() && s[p] >= '0' && s[p] <= '9' && v < (int64_t{1} << 40)) {
    v = v * 10 + (s[p++] - '0');
  }
  *out = static_cast<int32_t>(neg ? -v : v);
  return true;
}

// The integer value of top-level key `key` ("\"code\":") in a JSON header. extFields values are
// strings and a remark's quotes are escaped, so the pattern followed by a digit only matches the
// header's own fields.
bool JsonIntField(std::string_view h, std::string_view key, int32_t* out) {
  for (size_t p = h.find(key); p != std::string_view::npos; p = h.find(key, p + 1)) {
    if (ParseInt(h, p + key.size(), out)) return true;
  }
  return false;
}

}  // namespace

RemotingCommand SendRequest(const SendSpec& s) {
  RemotingCommand req = RemotingCommand::Request(remoting::request::kSendMessageV2);
  req.language = remoting::LanguageCode::kJava;
  req.serialize_type = s.type;
  req.Set("a", s.group);
  req.Set("b", s.topic);
  req.Set("c", "TBW102");
  req.Set("d", int64_t{s.default_queue_nums});
  req.Set("e", int64_t{s.queue_id});
  req.Set("f", int64_t{0});
  req.Set("g", NowMs());
  req.Set("h", int64_t{0});
  req.Set("i", s.properties);
  req.Set("j", int64_t{0});
  req.Set("k", "false");
  req.Set("m", "false");
  req.body = std::string(s.body);
  return req;
}

absl::StatusOr<SendFrame> MakeSendFrame(const SendSpec& spec) {
  RemotingCommand req = SendRequest(spec);
  req.opaque = kOpaqueBase;
  SendFrame f;
  f.binary = spec.type == SerializeType::kRocketMq;
  f.bytes = remoting::EncodeFrame(req);
  if (f.binary) {
    f.opaque_pos = 8 + 2 + 1 + 2;  // length, header word; then code, language, version
  } else {
    const std::string key = fmt::format("\"opaque\":{}", kOpaqueBase);
    const size_t p = f.bytes.find(key);
    if (p == std::string::npos) return absl::InternalError("no opaque in the encoded JSON header");
    f.opaque_pos = p + key.size() - 10;
  }
  f.uniq_pos = FindUniqKey(f.bytes);
  if (f.uniq_pos == std::string::npos) {
    return absl::InternalError("no UNIQ_KEY placeholder in the encoded frame");
  }
  return f;
}

void SendFrame::AppendTo(std::string* out, int32_t opaque, uint32_t worker, uint64_t seq) const {
  const size_t off = out->size();
  out->append(bytes);
  char* p = out->data() + off;
  if (binary) {
    StoreBe32(p + opaque_pos, static_cast<uint32_t>(opaque));
  } else {
    char* d = p + opaque_pos;
    for (int i = 9; i >= 0; --i) {
      d[i] = static_cast<char>('0' + opaque % 10);
      opaque /= 10;
    }
  }
  StampUniqKey(p + uniq_pos, worker, seq);
}

ResponseHead PeekResponse(std::string_view frame) {
  ResponseHead r;
  if (frame.size() < 4) return r;
  const uint32_t word = LoadBe32(frame.data());
  const uint32_t hlen = word & 0xFFFFFF;
  if (hlen > frame.size() - 4) return r;
  const std::string_view h = frame.substr(4, hlen);
  int32_t flag = 0;
  if ((word >> 24) == static_cast<uint32_t>(SerializeType::kRocketMq)) {
    if (h.size() < 13) return r;
    r.code = static_cast<int16_t>(LoadBe16(h.data()));
    r.opaque = static_cast<int32_t>(LoadBe32(h.data() + 5));
    flag = static_cast<int32_t>(LoadBe32(h.data() + 9));
  } else if (!JsonIntField(h, "\"code\":", &r.code) || !JsonIntField(h, "\"opaque\":", &r.opaque) ||
             !JsonIntField(h, "\"flag\":", &flag)) {
    return r;
  }
  r.ok = (flag & remoting::kFlagResponse) != 0;
  return r;
}

absl::StatusOr<std::unique_ptr<RawConnection>> RawConnection::Connect(
    const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(fmt::format("'{}' is not host:port", host_port));
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), host_port.c_str() + colon + 1, &hints, &res); rc != 0) {
    return absl::UnavailableError(fmt::format("resolve {}: {}", host_port, gai_strerror(rc)));
  }
  int fd = -1;
  absl::Status err = absl::UnavailableError("no address");
  for (addrinfo* a = res; a != nullptr; a = a->ai_next) {
    fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, a->ai_addr, a->ai_addrlen) == 0) break;
    err = Errno(fmt::format("connect {}", host_port));
    ::close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) return err;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  return std::unique_ptr<RawConnection>(new RawConnection(fd));
}

RawConnection::RawConnection(int fd) : fd_(fd), buf_(256 * 1024) {}

RawConnection::~RawConnection() { ::close(fd_); }

absl::Status RawConnection::WriteAll(std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("send");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status RawConnection::ParseFrames(const std::function<void(std::string_view)>& fn,
                                        size_t* frames) {
  while (len_ >= 4) {
    auto flen = remoting::DecodeFrameLength(buf_.data() + start_);
    if (!flen.ok()) return flen.status();
    const size_t need = 4 + static_cast<size_t>(*flen);
    if (len_ < need) {
      if (buf_.size() < need) {  // make room for the whole frame
        std::memmove(buf_.data(), buf_.data() + start_, len_);
        start_ = 0;
        buf_.resize(need + 64 * 1024);
      }
      break;
    }
    fn(std::string_view(buf_.data() + start_ + 4, *flen));
    ++*frames;
    start_ += need;
    len_ -= need;
  }
  if (len_ == 0) start_ = 0;
  return absl::OkStatus();
}

absl::Status RawConnection::ReadFrames(std::optional<Clock::time_point> deadline,
                                       const std::function<void(std::string_view)>& fn) {
  if (deadline) {
    const auto left = *deadline - Clock::now();
    if (left > Clock::duration::zero()) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      timespec ts{.tv_sec = ns / 1000000000, .tv_nsec = ns % 1000000000};
      pollfd p{.fd = fd_, .events = POLLIN, .revents = 0};
      const int rc = ::ppoll(&p, 1, &ts, nullptr);
      if (rc < 0 && errno != EINTR) return Errno("ppoll");
      if (rc <= 0) return absl::OkStatus();
    }
  }
  if (buf_.size() - start_ - len_ < 16 * 1024) {
    std::memmove(buf_.data(), buf_.data() + start_, len_);
    start_ = 0;
    if (buf_.size() - len_ < 16 * 1024) buf_.resize(len_ + 64 * 1024);
  }
  const int flags = deadline ? MSG_DONTWAIT : 0;
  const ssize_t n = ::recv(fd_, buf_.data() + start_ + len_, buf_.size() - start_ - len_, flags);
  if (n == 0) return absl::UnavailableError("connection closed by the broker");
  if (n < 0) {
    if (errno == EINTR || (deadline && (errno == EAGAIN || errno == EWOULDBLOCK))) {
      return absl::OkStatus();
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return absl::DeadlineExceededError("no response within the 10 s receive timeout");
    }
    return Errno("recv");
  }
  len_ += static_cast<size_t>(n);
  size_t frames = 0;
  return ParseFrames(fn, &frames);
}

absl::StatusOr<RemotingCommand> RawConnection::ReadCommand() {
  std::optional<absl::StatusOr<RemotingCommand>> got;
  auto take = [&got](std::string_view frame) {
    if (!got) got = remoting::DecodeFrameBody(frame);
  };
  size_t frames = 0;
  STELE_RETURN_IF_ERROR(ParseFrames(take, &frames));
  while (!got) STELE_RETURN_IF_ERROR(ReadFrames(std::nullopt, take));
  return std::move(*got);
}

}  // namespace stele::e2e
