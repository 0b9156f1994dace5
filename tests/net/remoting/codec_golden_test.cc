// Decodes frames that a real client (ali-ons 3.12.0) produced, and checks that our responses have
// the shape ali-ons can read. Fixtures: golden/README.md.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fmt/format.h"
#include "frame_util.h"
#include "net/remoting/codec.h"
#include "net/remoting/codes.h"
#include "testutil.h"

namespace stele::remoting {
namespace {

using testing::DecodeWhole;
using testing::ReadGolden;

RemotingCommand DecodeGolden(const std::string& name) {
  const std::string frame = ReadGolden(name);
  EXPECT_GT(frame.size(), 8u) << "missing fixture " << name;
  auto cmd = DecodeWhole(frame);
  EXPECT_TRUE(cmd.ok()) << name << ": " << cmd.status();
  return cmd.ok() ? *std::move(cmd) : RemotingCommand{};
}

// What every ali-ons request has in common.
void ExpectAliOnsRequest(const RemotingCommand& c, int32_t code) {
  EXPECT_EQ(c.code, code);
  EXPECT_EQ(c.language, LanguageCode::kJava);
  EXPECT_EQ(c.version, 121);
  EXPECT_EQ(c.flag, 0);  // never ONEWAY, even for "oneway" calls
  EXPECT_FALSE(c.is_response());
  EXPECT_FALSE(c.remark.has_value());
  EXPECT_EQ(c.serialize_type, SerializeType::kJson);
  EXPECT_GT(c.opaque, 0);
}

TEST(CodecGolden, RouteRequestCapturedFromAliOns) {
  const RemotingCommand c = DecodeGolden("route_request.bin");
  ExpectAliOnsRequest(c, request::kGetRouteinfoByTopic);
  EXPECT_EQ(c.ext_fields.size(), 1u);
  EXPECT_EQ(*c.Field("topic"), "TopicTest");
  EXPECT_TRUE(c.body.empty());
}

TEST(CodecGolden, SendCapturedFromAliOns) {
  const RemotingCommand c = DecodeGolden("send_captured.bin");
  ExpectAliOnsRequest(c, request::kSendMessageV2);
  EXPECT_EQ(*c.Field("a"), "GID_golden");
  EXPECT_EQ(*c.Field("b"), "TopicTest");
  EXPECT_EQ(*c.Field("c"), "TBW102");
  EXPECT_EQ(*c.Field("d"), "4");
  EXPECT_EQ(*c.Field("k"), "false");
  EXPECT_EQ(*c.Field("i"), "TAGS\x01TagA\x02");
  EXPECT_GT(*c.RequireInt("g"), 1'600'000'000'000);  // bornTimestamp, a JSON number
  EXPECT_EQ(c.Field("l"), nullptr);                  // undefined: dropped by ali-ons
  EXPECT_EQ(c.body, "hello golden");
}

TEST(CodecGolden, HeartbeatCapturedFromAliOns) {
  const RemotingCommand c = DecodeGolden("heartbeat_captured.bin");
  ExpectAliOnsRequest(c, request::kHeartBeat);
  EXPECT_TRUE(c.ext_fields.empty());
  auto body = nlohmann::json::parse(c.body);
  EXPECT_EQ(body["producerDataSet"][0]["groupName"], "GID_golden");
  EXPECT_TRUE(body["clientID"].is_string());
}

TEST(CodecGolden, SendV2NumbersAndBooleansBecomeStrings) {
  const RemotingCommand c = DecodeGolden("send_v2.bin");
  ExpectAliOnsRequest(c, request::kSendMessageV2);
  EXPECT_EQ(c.opaque, 7);
  const std::map<std::string, std::string, std::less<>> want = {
      {"a", "GID_golden"},
      {"b", "TopicTest"},
      {"c", "TBW102"},
      {"d", "4"},
      {"e", "3"},
      {"f", "0"},
      {"g", "1700000000000"},
      {"h", "0"},
      {"i",
       "UNIQ_KEY\x01"
       "ABC\x02WAIT\x01true\x02TAGS\x01TagA\x02"},
      {"j", "0"},
      {"k", "false"},
  };
  EXPECT_EQ(c.ext_fields, want);
  EXPECT_EQ(c.body, std::string("hi\0\x01\xff\0\x7f", 7));
  EXPECT_EQ(*c.RequireInt("e"), 3);
  EXPECT_EQ(*c.RequireInt("g"), 1700000000000);
  EXPECT_EQ(*c.BoolOr("k", true), false);
}

TEST(CodecGolden, HeartbeatBody) {
  const RemotingCommand c = DecodeGolden("heartbeat.bin");
  ExpectAliOnsRequest(c, request::kHeartBeat);
  EXPECT_EQ(c.opaque, 8);
  EXPECT_TRUE(c.ext_fields.empty());
  auto body = nlohmann::json::parse(c.body);
  EXPECT_EQ(body["clientID"], "192.168.1.5@4242");
  EXPECT_EQ(body["consumerDataSet"][0]["subscriptionDataSet"][1]["topic"], "%RETRY%GID_x");
}

TEST(CodecGolden, PullMessage) {
  const RemotingCommand c = DecodeGolden("pull.bin");
  ExpectAliOnsRequest(c, request::kPullMessage);
  EXPECT_EQ(c.opaque, 9);
  EXPECT_EQ(*c.Field("consumerGroup"), "GID_x");
  EXPECT_EQ(*c.Field("topic"), "TopicTest");
  EXPECT_EQ(*c.RequireInt("queueId"), 2);
  EXPECT_EQ(*c.RequireInt("queueOffset"), 1234567890123);
  EXPECT_EQ(*c.RequireInt("maxMsgNums"), 32);
  EXPECT_EQ(*c.RequireInt("sysFlag"), 3);
  EXPECT_EQ(*c.RequireInt("commitOffset"), 1234567890000);
  EXPECT_EQ(*c.RequireInt("suspendTimeoutMillis"), 15000);
  EXPECT_EQ(*c.RequireInt("subVersion"), 1700000000000);
  EXPECT_EQ(c.Field("subscription"), nullptr);  // null: dropped by ali-ons
  EXPECT_EQ(c.ext_fields.size(), 9u);
  EXPECT_TRUE(c.body.empty());
}

TEST(CodecGolden, UpdateConsumerOffsetIsNotFlaggedOneway) {
  const RemotingCommand c = DecodeGolden("update_offset.bin");
  ExpectAliOnsRequest(c, request::kUpdateConsumerOffset);
  EXPECT_FALSE(c.is_oneway());
  EXPECT_EQ(c.opaque, 10);
  EXPECT_EQ(*c.RequireInt("commitOffset"), 42);
  EXPECT_EQ(*c.RequireInt("queueId"), 0);
}

RemotingCommand SendResponse(const RemotingCommand& req) {
  RemotingCommand resp = RemotingCommand::ResponseTo(req, response::kSuccess);
  resp.Set("msgId", "7F00000100002A9F0000000000001234");
  resp.Set("queueId", 3);
  resp.Set("queueOffset", int64_t{1} << 40);
  return resp;
}

// ali-ons reads the header length as readInt32BE(4) without masking the type byte, then
// JSON.parses the header and reads extFields.
TEST(CodecGolden, ResponseToAliOnsIsPlainJson) {
  const RemotingCommand req = DecodeGolden("send_v2.bin");
  const std::string frame = EncodeFrame(SendResponse(req));
  ASSERT_GE(frame.size(), 8u);
  EXPECT_EQ(LoadBe32(frame.data()), frame.size() - 4);
  const uint32_t word = LoadBe32(frame.data() + 4);
  EXPECT_EQ(word >> 24, 0u) << "a JSON reply must have serialize type byte 0";
  ASSERT_LE(word, frame.size() - 8);
  auto h = nlohmann::json::parse(frame.substr(8, word));
  EXPECT_EQ(h["code"], 0);
  EXPECT_EQ(h["opaque"], 7);
  EXPECT_EQ(h["flag"].get<int>() & kFlagResponse, kFlagResponse);
  EXPECT_EQ(h["extFields"]["queueId"], "3");
  EXPECT_EQ(h["extFields"]["queueOffset"], "1099511627776");
  EXPECT_EQ(frame.size(), 8 + word);  // no body
}

// The real parser: ali-ons's own RemotingCommand.decode on our bytes (skipped without node).
TEST(CodecGolden, AliOnsDecodesOurResponse) {
  const char* env = std::getenv("ALI_ONS_NODE_PATH");
  const std::string node_path = env != nullptr ? env : "/tmp/npmtest/node_modules";
  if (!std::filesystem::exists(node_path + "/ali-ons") || std::system("node -v >/dev/null 2>&1")) {
    GTEST_SKIP() << "node or ali-ons not installed (set ALI_ONS_NODE_PATH)";
  }
  stele::testing::TempDir dir;
  const std::string file = dir.path() + "/resp.bin";
  RemotingCommand resp = SendResponse(DecodeGolden("send_v2.bin"));
  resp.remark = "é ok";
  resp.body = std::string("\0body", 5);
  {
    std::ofstream out(file, std::ios::binary);
    const std::string f = EncodeFrame(resp);
    out.write(f.data(), static_cast<std::streamsize>(f.size()));
  }
  const std::string script =
      "const R=require('ali-ons/lib/protocol/command/remoting_command');"
      "const c=R.decode(require('fs').readFileSync(process.argv[1]));"
      "const h=c.decodeCommandCustomHeader();"
      "process.stdout.write([c.code,c.opaque,c.isResponseType,c.remark,h.msgId,"
      "Number(h.queueId),Number(h.queueOffset),c.body.length].join('|'));";
  const std::string cmd =
      fmt::format("NODE_PATH='{}' node -e \"{}\" '{}'", node_path, script, file);
  FILE* p = popen(cmd.c_str(), "r");
  ASSERT_NE(p, nullptr);
  std::string out;
  char buf[256];
  while (size_t n = fread(buf, 1, sizeof(buf), p)) out.append(buf, n);
  ASSERT_EQ(pclose(p), 0) << out;
  EXPECT_EQ(out, "0|7|true|é ok|7F00000100002A9F0000000000001234|3|1099511627776|5");
}

}  // namespace
}  // namespace stele::remoting
