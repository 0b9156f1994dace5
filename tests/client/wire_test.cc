// The client's wire formats (src/client/wire.h): properties strings, unique message ids, the
// records a pull returns (as the engine encodes them), zlib bodies, response codes as statuses.
#include "client/wire.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client_instance.h"
#include "engine/record.h"
#include "fmt/format.h"
#include "net/remoting/codes.h"
#include "stele/file_system.h"
#include "stele/store.h"
#include "testutil.h"

namespace stele::client {
namespace {

namespace rc = remoting::response;

constexpr char kSep1 = kNameValueSeparator;
constexpr char kSep2 = kPropertySeparator;

std::string RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// ---- Properties ----

TEST(ClientProperties, EncodesFieldsUserPropertiesAndExtrasInOrder) {
  Message m{.topic = "T", .body = "b", .tags = "TagA", .keys = "k1 k2"};
  m.properties = {{"a", "1"}, {"b", "x y"}};
  m.delay_level = 3;
  m.deliver_time_ms = 1700000000000;
  const std::string got = EncodeProperties(m, {{"UNIQ_KEY", "U1"}});
  const std::string want = fmt::format(
      "a{0}1{1}b{0}x y{1}TAGS{0}TagA{1}KEYS{0}k1 k2{1}DELAY{0}3{1}__STARTDELIVERTIME{0}"
      "1700000000000{1}UNIQ_KEY{0}U1{1}",
      kSep1, kSep2);
  EXPECT_EQ(got, want);
  EXPECT_EQ(EncodeProperties(Message{.topic = "T"}), "");
}

TEST(ClientProperties, RoundTrip) {
  Message m{.topic = "T", .body = "b", .tags = "A||B", .keys = "order-1 order-2"};
  m.properties = {{"user", "v"}, {"empty", ""}, {"unicode", "\xc3\xa9t\xc3\xa9"}};
  m.delay_level = 2;
  const auto back = DecodeProperties(EncodeProperties(m, {{"UNIQ_KEY", "ID"}, {"WAIT", "true"}}));
  const std::map<std::string, std::string> want = {{"user", "v"},
                                                   {"empty", ""},
                                                   {"unicode", "\xc3\xa9t\xc3\xa9"},
                                                   {"TAGS", "A||B"},
                                                   {"KEYS", "order-1 order-2"},
                                                   {"DELAY", "2"},
                                                   {"UNIQ_KEY", "ID"},
                                                   {"WAIT", "true"}};
  EXPECT_EQ(back, want);
}

// Each name must appear once on the wire: the broker's parser and the client's could otherwise
// pick different values of a duplicated name (first vs last).
TEST(ClientProperties, NoNameIsSentTwice) {
  Message m{.topic = "T", .body = "b", .tags = "field-tag", .keys = "field-key"};
  m.properties = {
      {"TAGS", "user-tag"}, {"KEYS", "user-key"}, {"UNIQ_KEY", "user-id"}, {"DELAY", "9"}};
  m.delay_level = 2;
  const std::string enc = EncodeProperties(m, {{"UNIQ_KEY", "extra-id"}});
  for (const char* name : {"TAGS", "KEYS", "UNIQ_KEY", "DELAY"}) {
    const std::string needle = fmt::format("{}{}", name, kSep1);
    size_t count = 0;
    for (size_t p = enc.find(needle); p != std::string::npos; p = enc.find(needle, p + 1)) {
      if (p == 0 || enc[p - 1] == kSep2) ++count;
    }
    EXPECT_EQ(count, 1u) << name << " in " << enc;
  }
  const auto back = DecodeProperties(enc);
  EXPECT_EQ(back.at("TAGS"), "field-tag");  // the message's own fields win over user properties
  EXPECT_EQ(back.at("KEYS"), "field-key");
  EXPECT_EQ(back.at("DELAY"), "2");
  EXPECT_EQ(back.at("UNIQ_KEY"), "extra-id");  // extras win over everything
  // The engine (what the broker indexes by) reads the same values.
  EXPECT_EQ(FindProperty(enc, "TAGS"), "field-tag");
  EXPECT_EQ(FindProperty(enc, "UNIQ_KEY"), "extra-id");
}

TEST(ClientProperties, DecodeIsLenient) {
  EXPECT_TRUE(DecodeProperties("").empty());
  EXPECT_EQ(DecodeProperties(fmt::format("a{}1", kSep1)),
            (std::map<std::string, std::string>{{"a", "1"}}));  // no trailing separator
  EXPECT_EQ(DecodeProperties(fmt::format("flag{}", kSep2)),
            (std::map<std::string, std::string>{{"flag", ""}}));  // no value
  EXPECT_TRUE(DecodeProperties(fmt::format("{0}{0}{0}", kSep2)).empty());
  EXPECT_EQ(DecodeProperties(fmt::format("a{0}1{1}a{0}2{1}", kSep1, kSep2)).at("a"), "2");
  EXPECT_EQ(DecodeProperties(fmt::format("a{0}x{0}y{1}", kSep1, kSep2)).at("a"),
            fmt::format("x{}y", kSep1));  // only the first separator splits
}

// ---- Unique ids ----

bool IsUpperHex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) || (c >= 'A' && c <= 'F');
  });
}

TEST(ClientUniqueId, FormatEmbedsIpAndPid) {
  UniqueIdGenerator gen;
  const std::string id = gen.Next();
  ASSERT_EQ(id.size(), 32u);
  EXPECT_TRUE(IsUpperHex(id)) << id;
  const auto ip = HostAddress::Parse(LocalIp() + ":0");
  ASSERT_TRUE(ip.ok());
  EXPECT_EQ(id.substr(0, 8),
            fmt::format("{:02X}{:02X}{:02X}{:02X}", ip->ip[0], ip->ip[1], ip->ip[2], ip->ip[3]));
  EXPECT_EQ(id.substr(8, 4), fmt::format("{:04X}", static_cast<uint16_t>(getpid())));
  // The fixed part is per generator; another generator differs in its random hash.
  UniqueIdGenerator other;
  EXPECT_EQ(gen.Next().substr(0, 20), id.substr(0, 20));
  EXPECT_NE(other.Next().substr(12, 8), id.substr(12, 8));
}

TEST(ClientUniqueId, TimePartAdvancesWithTheClock) {
  UniqueIdGenerator gen;
  auto time_part = [](const std::string& id) { return std::stoull(id.substr(20, 8), nullptr, 16); };
  const uint64_t t0 = time_part(gen.Next());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // measuring the clock, not waiting
  const uint64_t t1 = time_part(gen.Next());
  EXPECT_GE(t1, t0 + 20);
  EXPECT_LT(t1, t0 + 20 + 10000);
  EXPECT_LT(t1, 31ull * 24 * 3600 * 1000 + 3600 * 1000);  // ms since the start of the month
}

TEST(ClientUniqueId, UniqueOver100kIds) {
  UniqueIdGenerator gen;
  std::set<std::string> seen;
  for (int i = 0; i < 100000; ++i) {
    const std::string id = gen.Next();
    ASSERT_EQ(id.size(), 32u);
    ASSERT_TRUE(seen.insert(id).second) << "duplicate id " << id << " after " << i;
  }
}

TEST(ClientUniqueId, UniqueAcrossThreads) {
  constexpr int kThreads = 4, kEach = 20000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) ids[t].push_back(GlobalIdGenerator().Next());
    });
  }
  for (auto& t : ts) t.join();
  std::set<std::string> seen;
  for (const auto& v : ids) seen.insert(v.begin(), v.end());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kThreads * kEach));
}

// ---- Records (as the engine writes them) ----

struct Rec {
  std::string bytes;
  int64_t offset = 0;
};

Rec MakeRecord(const stele::Message& m, int64_t queue_offset, int64_t physical_offset) {
  engine::EncodeParams p{.max_body_size = 4 << 20,
                         .prop_crc = true,
                         .store_host = *HostAddress::Parse("127.0.0.1:10911")};
  engine::PreparedRecord rec;
  EXPECT_TRUE(engine::PrepareRecord(m, p, 1700000000000, &rec).ok());
  engine::FinalizeRecord(&rec, queue_offset, physical_offset, 1700000000456);
  return {rec.buf, physical_offset};
}

TEST(ClientDecodeMessages, DecodesEngineRecords) {
  std::string props;
  AppendProperty(&props, "UNIQ_KEY", "0A0000010001000000000000000000FF");
  AppendProperty(&props, "user", "v");
  const stele::Message m1{.topic = "TopicA",
                          .queue_id = 3,
                          .body = "hello",
                          .properties = props,
                          .tags = "TagA",
                          .keys = "k1 k2",
                          .flag = 7,
                          .born_timestamp_ms = 1700000000001,
                          .born_host = *HostAddress::Parse("10.0.0.2:4567"),
                          .reconsume_times = 2};
  const Rec r1 = MakeRecord(m1, 42, 1000);
  const std::string big(20000, 'z');
  auto zipped = Deflate(big, 5);
  ASSERT_TRUE(zipped.ok());
  const stele::Message m2{
      .topic = "TopicA", .queue_id = 3, .body = *zipped, .sys_flag = sysflag::kCompressed};
  const Rec r2 = MakeRecord(m2, 43, 1000 + static_cast<int64_t>(r1.bytes.size()));

  auto got = DecodeMessages(r1.bytes + r2.bytes, "broker-a");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 2u);
  const MessageExt& a = (*got)[0];
  EXPECT_EQ(a.topic, "TopicA");
  EXPECT_EQ(a.body, "hello");
  EXPECT_EQ(a.tags, "TagA");
  EXPECT_EQ(a.keys, "k1 k2");
  ASSERT_NE(a.Property("user"), nullptr);
  EXPECT_EQ(*a.Property("user"), "v");
  EXPECT_EQ(a.msg_id, "0A0000010001000000000000000000FF");
  EXPECT_EQ(a.offset_msg_id, OffsetMsgId(*HostAddress::Parse("127.0.0.1:10911"), 1000));
  EXPECT_EQ(a.broker_name, "broker-a");
  EXPECT_EQ(a.queue_id, 3);
  EXPECT_EQ(a.queue_offset, 42);
  EXPECT_EQ(a.commit_log_offset, 1000);
  EXPECT_EQ(a.flag, 7);
  EXPECT_EQ(a.reconsume_times, 2);
  EXPECT_EQ(a.born_timestamp, 1700000000001);
  EXPECT_EQ(a.store_timestamp, 1700000000456);
  EXPECT_EQ(a.born_host, "10.0.0.2:4567");
  EXPECT_EQ(a.store_host, "127.0.0.1:10911");
  EXPECT_EQ(a.queue(), (MessageQueue{"TopicA", "broker-a", 3}));

  const MessageExt& b = (*got)[1];
  EXPECT_EQ(b.body, big);  // inflated
  EXPECT_EQ(b.sys_flag & sysflag::kCompressed, 0);
  EXPECT_EQ(b.queue_offset, 43);
  EXPECT_EQ(b.msg_id, b.offset_msg_id);  // no UNIQ_KEY: the offset id stands in
  EXPECT_EQ(b.commit_log_offset, 1000 + static_cast<int64_t>(r1.bytes.size()));

  auto none = DecodeMessages("", "b");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST(ClientDecodeMessages, DecodesWhatARealStoreReturns) {
  testing::TempDir dir;
  auto store = Store::Open(testing::SmallOptions(dir.path(), NewMemFileSystem()));
  ASSERT_TRUE(store.ok()) << store.status();
  std::string props;
  AppendProperty(&props, "UNIQ_KEY", "ABC");
  std::string body;
  std::vector<AppendResult> appended;
  for (int i = 0; i < 5; ++i) {
    const std::string text = fmt::format("message {}", i);
    auto r = (*store)->Append(stele::Message{
        .topic = "StoreTopic", .queue_id = 1, .body = text, .properties = props, .tags = "T"});
    ASSERT_TRUE(r.ok()) << r.status();
    appended.push_back(*r);
    auto rec = (*store)->Read(r->wrote_offset);
    ASSERT_TRUE(rec.ok());
    body += std::string(rec->bytes);
  }
  auto got = DecodeMessages(body, "b");
  ASSERT_TRUE(got.ok()) << got.status();
  ASSERT_EQ(got->size(), 5u);
  for (int i = 0; i < 5; ++i) {
    const MessageExt& m = (*got)[static_cast<size_t>(i)];
    EXPECT_EQ(m.body, fmt::format("message {}", i));
    EXPECT_EQ(m.queue_offset, appended[static_cast<size_t>(i)].queue_offset);
    EXPECT_EQ(m.offset_msg_id, appended[static_cast<size_t>(i)].msg_id);
    EXPECT_EQ(m.commit_log_offset, appended[static_cast<size_t>(i)].wrote_offset);
    EXPECT_EQ(m.tags, "T");
    EXPECT_EQ(m.msg_id, "ABC");
  }
  ASSERT_TRUE((*store)->Close().ok());
}

TEST(ClientDecodeMessages, TruncatedOrGarbageIsInvalidArgument) {
  const Rec r = MakeRecord(stele::Message{.topic = "T", .body = "some body"}, 0, 0);
  const Rec r2 = MakeRecord(stele::Message{.topic = "T", .body = "second"}, 1,
                            static_cast<int64_t>(r.bytes.size()));
  const std::string two = r.bytes + r2.bytes;
  // Cut anywhere inside the second record: the whole batch is refused.
  for (size_t cut : {size_t{1}, size_t{4}, size_t{30}, r2.bytes.size() - 1}) {
    auto got = DecodeMessages(std::string_view(two).substr(0, two.size() - cut), "b");
    EXPECT_TRUE(absl::IsInvalidArgument(got.status())) << "cut " << cut << ": " << got.status();
  }
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeMessages("garbage!", "b").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeMessages(std::string(200, '\0'), "b").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeMessages(RandomBytes(500, 1), "b").status()));

  // A body that claims to be compressed but is not zlib, or is cut short.
  const Rec bad = MakeRecord(
      stele::Message{.topic = "T", .body = "not zlib at all", .sys_flag = sysflag::kCompressed}, 0,
      0);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeMessages(bad.bytes, "b").status()));
  auto zipped = Deflate(std::string(5000, 'q'), 5);
  ASSERT_TRUE(zipped.ok());
  const std::string half = zipped->substr(0, zipped->size() / 2);
  const Rec cut = MakeRecord(
      stele::Message{.topic = "T", .body = half, .sys_flag = sysflag::kCompressed}, 0, 0);
  EXPECT_TRUE(absl::IsInvalidArgument(DecodeMessages(cut.bytes, "b").status()));
}

// ---- zlib ----

TEST(ClientZlib, RoundTrip) {
  const std::vector<std::string> inputs = {"", "a", std::string(100000, 'x'),
                                           RandomBytes(100000, 7),
                                           RandomBytes(70000, 8) + std::string(70000, '\0')};
  for (const std::string& in : inputs) {
    for (int level : {1, 5, 9}) {
      auto z = Deflate(in, level);
      ASSERT_TRUE(z.ok()) << z.status();
      auto back = Inflate(*z, in.size());
      ASSERT_TRUE(back.ok()) << back.status() << " size " << in.size();
      EXPECT_EQ(*back, in);
    }
  }
  auto z = Deflate(std::string(100000, 'x'), 5);
  ASSERT_TRUE(z.ok());
  EXPECT_LT(z->size(), 1000u);
}

TEST(ClientZlib, InflateStopsAtMaxOut) {
  for (size_t n : {size_t{1}, size_t{100}, size_t{65536}, size_t{65537}, size_t{300000}}) {
    auto z = Deflate(std::string(n, 'y'), 5);
    ASSERT_TRUE(z.ok());
    EXPECT_TRUE(Inflate(*z, n).ok()) << n;
    EXPECT_TRUE(absl::IsInvalidArgument(Inflate(*z, n - 1).status())) << n;
  }
  // A small body that would inflate to 16 MB is refused long before that.
  auto bomb = Deflate(std::string(16u << 20, '\0'), 9);
  ASSERT_TRUE(bomb.ok());
  EXPECT_LT(bomb->size(), 100000u);
  auto r = Inflate(*bomb, 1u << 20);
  EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << r.status();
}

TEST(ClientZlib, CorruptInputIsInvalidArgument) {
  EXPECT_TRUE(absl::IsInvalidArgument(Inflate("", 100).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Inflate("plain text", 100).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(Inflate(RandomBytes(1000, 3), 1 << 20).status()));
  auto z = Deflate(RandomBytes(10000, 4), 5);
  ASSERT_TRUE(z.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(Inflate(z->substr(0, z->size() - 1), 1 << 20).status()));
  std::string flipped = *z;
  flipped[flipped.size() / 2] ^= 0x55;
  EXPECT_FALSE(Inflate(flipped, 1 << 20).ok());
}

// ---- Response codes ----

TEST(ClientResponseError, CarriesTheCodeAndAName) {
  absl::Status s = ResponseError(rc::kTopicNotExist, "topic[X] not exist", "send to broker-a");
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_EQ(s.message(), "send to broker-a: TOPIC_NOT_EXIST (17): topic[X] not exist");
  EXPECT_EQ(RocketMqCode(s), rc::kTopicNotExist);

  struct Case {
    int32_t code;
    absl::StatusCode want;
    std::string_view name;
  };
  for (const Case& c :
       {Case{rc::kSystemBusy, absl::StatusCode::kResourceExhausted, "SYSTEM_BUSY"},
        Case{rc::kSystemError, absl::StatusCode::kInternal, "SYSTEM_ERROR"},
        Case{rc::kNoPermission, absl::StatusCode::kPermissionDenied, "NO_PERMISSION"},
        Case{rc::kMessageIllegal, absl::StatusCode::kInvalidArgument, "MESSAGE_ILLEGAL"},
        Case{rc::kServiceNotAvailable, absl::StatusCode::kUnavailable, "SERVICE_NOT_AVAILABLE"},
        Case{rc::kRequestCodeNotSupported, absl::StatusCode::kUnimplemented,
             "REQUEST_CODE_NOT_SUPPORTED"},
        Case{9999, absl::StatusCode::kInternal, "UNKNOWN_CODE"}}) {
    absl::Status e = ResponseError(c.code, "why");
    EXPECT_EQ(e.code(), c.want) << c.code;
    EXPECT_EQ(e.message(), fmt::format("{} ({}): why", c.name, c.code));
    EXPECT_EQ(ResponseCodeName(c.code), c.name);
    EXPECT_EQ(RocketMqCode(e), c.code);
  }
  EXPECT_EQ(RocketMqCode(absl::OkStatus()), std::nullopt);
  EXPECT_EQ(RocketMqCode(absl::UnavailableError("connection reset")), std::nullopt);
}

TEST(ClientResponseError, ExpectSuccess) {
  remoting::RemotingCommand ok;
  ok.code = rc::kSuccess;
  ok.body = "payload";
  auto r = ExpectSuccess(ok, "ctx");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "payload");

  remoting::RemotingCommand busy;
  busy.code = rc::kSystemBusy;
  busy.remark = "too many";
  r = ExpectSuccess(busy, "pull");
  EXPECT_TRUE(absl::IsResourceExhausted(r.status()));
  EXPECT_EQ(r.status().message(), "pull: SYSTEM_BUSY (2): too many");
  EXPECT_EQ(RocketMqCode(r.status()), rc::kSystemBusy);

  r = ExpectSuccess(absl::DeadlineExceededError("no answer in 3000 ms"), "pull");
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status()));
  EXPECT_EQ(r.status().message(), "pull: no answer in 3000 ms");
  EXPECT_EQ(RocketMqCode(r.status()), std::nullopt);
}

TEST(ClientMessage, SmallHelpers) {
  EXPECT_EQ((MessageQueue{"T", "broker-a", 3}).ToString(), "T@broker-a#3");
  EXPECT_LT((MessageQueue{"T", "a", 3}), (MessageQueue{"T", "b", 0}));
  EXPECT_EQ(SendStatusName(SendStatus::kSendOk), "SEND_OK");
  EXPECT_EQ(SendStatusName(SendStatus::kFlushDiskTimeout), "FLUSH_DISK_TIMEOUT");
  Message m{.topic = "T"};
  m.properties["x"] = "1";
  ASSERT_NE(m.Property("x"), nullptr);
  EXPECT_EQ(*m.Property("x"), "1");
  EXPECT_EQ(m.Property("y"), nullptr);
  const std::string ip = LocalIp();
  EXPECT_TRUE(HostAddress::Parse(ip + ":1").ok()) << ip;
}

}  // namespace
}  // namespace stele::client
