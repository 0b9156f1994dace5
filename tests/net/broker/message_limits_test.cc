// Message limits as RocketMQ enforces them: a table per rule, each case on both sides of its limit.
#include "net/broker/state/message_limits.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <string>

namespace stele::broker {
namespace {

std::string Props(std::initializer_list<std::pair<std::string, std::string>> kv) {
  std::string s;
  for (const auto& [k, v] : kv) s += fmt::format("{}\x01{}\x02", k, v);
  return s;
}

TEST(MessageLimitsTest, Tags) {
  MessageLimits l;
  EXPECT_TRUE(ValidateTag("TagA", l).ok());
  EXPECT_TRUE(ValidateTag(std::string(16 * 1024, 't'), l).ok());
  EXPECT_FALSE(ValidateTag(std::string(16 * 1024 + 1, 't'), l).ok());
  EXPECT_FALSE(ValidateTag("", l).ok());
  EXPECT_FALSE(ValidateTag("a|b", l).ok());
  EXPECT_FALSE(ValidateTag(std::string("a\0b", 3), l).ok());
  EXPECT_FALSE(ValidateTag("a\nb", l).ok());
  EXPECT_NE(ValidateTag("a|b", l).message().find("'|'"), std::string::npos);
}

TEST(MessageLimitsTest, Keys) {
  MessageLimits l;
  EXPECT_TRUE(ValidateKeys("k1 k2", l).ok());
  EXPECT_TRUE(ValidateKeys(std::string(16 * 1024, 'k'), l).ok());
  EXPECT_FALSE(ValidateKeys(std::string(16 * 1024 + 1, 'k'), l).ok());
  EXPECT_FALSE(ValidateKeys(std::string("k\0", 2), l).ok());
}

TEST(MessageLimitsTest, UserProperties) {
  MessageLimits l;
  using P = std::vector<std::pair<std::string_view, std::string_view>>;
  EXPECT_TRUE(ValidateUserProperties(P{{"a", "1"}, {"region", "eu"}}, l).ok());
  const std::string big(16 * 1024, 'v'), bigger(16 * 1024 + 1, 'v');
  EXPECT_TRUE(ValidateUserProperties(P{{"a", big}}, l).ok());
  EXPECT_FALSE(ValidateUserProperties(P{{"a", bigger}}, l).ok());
  EXPECT_FALSE(ValidateUserProperties(P{{"UNIQ_KEY", "x"}}, l).ok());
  EXPECT_FALSE(ValidateUserProperties(P{{"TAGS", "x"}}, l).ok());
  EXPECT_FALSE(ValidateUserProperties(P{{"", "x"}}, l).ok());
  EXPECT_FALSE(ValidateUserProperties(P{{"a", std::string_view("x\0y", 3)}}, l).ok());
  std::vector<std::string> names;
  for (int i = 0; i < 129; ++i) names.push_back(fmt::format("p{}", i));
  P many;
  for (int i = 0; i < 128; ++i) many.emplace_back(names[i], "v");
  EXPECT_TRUE(ValidateUserProperties(many, l).ok());
  many.emplace_back(names[128], "v");
  EXPECT_FALSE(ValidateUserProperties(many, l).ok());
}

TEST(MessageLimitsTest, ReservedNames) {
  for (const char* n : {"UNIQ_KEY", "KEYS", "TAGS", "DELAY", "TIMER_DELIVER_MS",
                        "__STARTDELIVERTIME", "__transactionId__", "REAL_TOPIC", "PGROUP"}) {
    EXPECT_TRUE(IsReservedPropertyName(n)) << n;
  }
  for (const char* n : {"a", "region", "uniq_key", "KEYS2", ""}) {
    EXPECT_FALSE(IsReservedPropertyName(n)) << n;
  }
}

TEST(MessageLimitsTest, RemotingPropertiesString) {
  MessageLimits l;
  // What clients send: system and user properties in one string, with or without the trailing
  // separator.
  EXPECT_TRUE(
      ValidateRemotingProperties(Props({{"UNIQ_KEY", "AB"}, {"WAIT", "true"}, {"TAGS", "TagA"}}), l)
          .ok());
  EXPECT_TRUE(ValidateRemotingProperties("TAGS\x01TagA", l).ok());
  EXPECT_TRUE(ValidateRemotingProperties("", l).ok());
  EXPECT_FALSE(ValidateRemotingProperties(Props({{"TAGS", "A|B"}}), l).ok());
  EXPECT_FALSE(
      ValidateRemotingProperties(Props({{"KEYS", std::string(16 * 1024 + 1, 'k')}}), l).ok());
  EXPECT_FALSE(ValidateRemotingProperties(Props({{"a", std::string(16 * 1024 + 1, 'v')}}), l).ok());
  EXPECT_FALSE(ValidateRemotingProperties(std::string("a\x01x\0y\x02", 6), l).ok());
  std::string many;
  for (int i = 0; i < 128; ++i) many += Props({{fmt::format("p{}", i), "v"}});
  EXPECT_TRUE(
      ValidateRemotingProperties(many + Props({{"UNIQ_KEY", "x"}, {"WAIT", "true"}}), l).ok());
  EXPECT_FALSE(ValidateRemotingProperties(many + Props({{"p128", "v"}}), l).ok());
  // The log stores the properties' length in 16 bits.
  std::string huge;
  for (int i = 0; huge.size() <= 32767; ++i)
    huge += Props({{fmt::format("k{}", i), std::string(1000, 'v')}});
  EXPECT_FALSE(ValidateRemotingProperties(huge, l).ok());
}

}  // namespace
}  // namespace stele::broker
