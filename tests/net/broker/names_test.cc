// Topic and group name validation (RocketMQ's TopicValidator), which also keeps names that become
// file names from escaping their directory.
#include "net/broker/state/names.h"

#include <gtest/gtest.h>

#include <string>

namespace stele::broker {
namespace {

TEST(NamesTest, AcceptsRocketMqNames) {
  for (const std::string& t :
       std::vector<std::string>{"TopicTest", "%RETRY%group", "%DLQ%g", "a|b", "A-_9", "TBW102",
                                std::string(kMaxTopicLength, 'x')}) {
    EXPECT_TRUE(ValidateTopic(t).ok()) << t;
  }
  EXPECT_TRUE(ValidateGroup(std::string(kMaxGroupLength, 'g')).ok());
  EXPECT_TRUE(ValidateInternalTopic(RetryTopic(std::string(200, 'g'))).ok());
}

TEST(NamesTest, RejectsPathTraversalAndBadNames) {
  const std::string nul("a\0b", 3);
  for (std::string t : {std::string("../x"), std::string("a/b"), std::string("."),
                        std::string(".."), std::string(""), std::string("a\\b"), std::string("a b"),
                        std::string("t\n"), std::string("t\xc3\xb3pico"),
                        std::string("/etc/passwd"), nul, std::string(kMaxTopicLength + 1, 'x')}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ValidateTopic(t))) << t;
    EXPECT_FALSE(ValidateInternalTopic(t).ok() && t.size() <= kMaxTopicLength) << t;
  }
  EXPECT_FALSE(ValidateGroup("../g").ok());
  EXPECT_FALSE(ValidateGroup("").ok());
  EXPECT_FALSE(ValidateGroup(std::string(kMaxGroupLength + 1, 'g')).ok());
  EXPECT_FALSE(ValidateInternalTopic(std::string(kMaxInternalTopicLength + 1, 't')).ok());
  // A group name that is valid but makes a retry topic longer than a file name allows.
  EXPECT_FALSE(ValidateInternalTopic(RetryTopic(std::string(kMaxGroupLength, 'g'))).ok());
}

TEST(NamesTest, ErrorsNameTheValueAndTruncateLongOnes) {
  absl::Status s = ValidateTopic("../x");
  EXPECT_NE(std::string(StatusMessage(s)).find("'../x'"), std::string::npos) << s;
  std::string huge(100000, 'y');
  huge += '/';
  s = ValidateTopic(huge);
  ASSERT_FALSE(s.ok());
  EXPECT_LT(StatusMessage(s).size(), 300u) << s;
  EXPECT_NE(std::string(StatusMessage(s)).find("(100001 chars)"), std::string::npos) << s;
  s = ValidateGroup(std::string(300, 'g'));
  EXPECT_NE(std::string(StatusMessage(s)).find("longer than 255"), std::string::npos) << s;
}

TEST(NamesTest, ShortForMessageEscapesControlBytes) {
  EXPECT_EQ(ShortForMessage("a\nb\x01\\"), "a\\x0ab\\x01\\x5c");
  EXPECT_EQ(ShortForMessage("plain"), "plain");
}

TEST(NamesTest, SystemAndNotAllowedSendTopics) {
  for (auto t : {kScheduleTopic, kTransHalfTopic, kTransOpHalfTopic, kTransCheckMaxTimeTopic,
                 kSelfTestTopic, kOffsetMovedEventTopic, kScheduleTopicV2}) {
    EXPECT_TRUE(IsNotAllowedSendTopic(t)) << t;
    EXPECT_TRUE(IsSystemTopic(t)) << t;
  }
  // System topics a client may still send to.
  for (auto t : {kAutoCreateTopicKeyTopic, kTraceTopic, kBenchmarkTopic}) {
    EXPECT_FALSE(IsNotAllowedSendTopic(t)) << t;
    EXPECT_TRUE(IsSystemTopic(t)) << t;
  }
  EXPECT_TRUE(IsSystemTopic("rmq_sys_anything"));
  EXPECT_FALSE(IsSystemTopic("TopicTest"));
  EXPECT_FALSE(IsNotAllowedSendTopic("TopicTest"));
  EXPECT_EQ(SystemTopics().size(), 10u);
}

TEST(NamesTest, RetryAndDlqTopics) {
  EXPECT_EQ(RetryTopic("g1"), "%RETRY%g1");
  EXPECT_EQ(DlqTopic("g1"), "%DLQ%g1");
  EXPECT_TRUE(IsRetryTopic("%RETRY%g1"));
  EXPECT_FALSE(IsRetryTopic("%DLQ%g1"));
  EXPECT_TRUE(IsDlqTopic("%DLQ%g1"));
  EXPECT_EQ(kAutoCreateTopicKeyTopic, "TBW102");
}

TEST(NamesTest, PermBits) {
  EXPECT_TRUE(IsReadable(6) && IsWriteable(6) && !IsInherited(6));
  EXPECT_TRUE(IsInherited(7));
  EXPECT_FALSE(IsWriteable(kPermRead));
  EXPECT_EQ(kPermAll, 15);
}

}  // namespace
}  // namespace stele::broker
