// Java .properties parsing as broker.conf and namesrv.conf use it.
#include "net/broker/state/properties_file.h"

#include <gtest/gtest.h>

#include <string>

#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

TEST(PropertiesTest, SeparatorsCommentsBlanksAndOverrides) {
  auto props = ParseProperties(
      "# a comment\n"
      "! also a comment\n"
      "\n"
      "  brokerName = broker-a  \n"
      "listenPort:10911\n"
      "\tnamesrvAddr 127.0.0.1:9876\n"
      "flag\n"
      "brokerName=broker-b\n"
      "empty=\n");
  ASSERT_TRUE(props.ok()) << props.status();
  std::vector<Property> want = {
      {"listenPort", "10911", 5},
      {"namesrvAddr", "127.0.0.1:9876", 6},
      {"flag", "", 7},
      {"brokerName", "broker-b", 8},  // the later definition wins, at its own line
      {"empty", "", 9},
  };
  EXPECT_EQ(*props, want);
}

TEST(PropertiesTest, ContinuationEscapesCrlfAndBom) {
  auto props = ParseProperties(
      "\xEF\xBB\xBFkey1 = a\\\r\n"
      "      b\r\n"
      "path=C\\:\\\\store\r\n"
      "key\\ with\\ spaces=v\\u00e9\\t!\r\n"
      "odd=ends with backslash\\\\\r\n"
      "next=1");
  ASSERT_TRUE(props.ok()) << props.status();
  ASSERT_EQ(props->size(), 5u);
  EXPECT_EQ((*props)[0], (Property{"key1", "ab", 1}));
  EXPECT_EQ((*props)[1], (Property{"path", "C:\\store", 3}));
  EXPECT_EQ((*props)[2], (Property{"key with spaces", "v\xC3\xA9\t!", 4}));
  EXPECT_EQ((*props)[3], (Property{"odd", "ends with backslash\\", 5}));
  EXPECT_EQ((*props)[4], (Property{"next", "1", 6}));
}

TEST(PropertiesTest, EmptyKeyIsAnErrorNamingTheLine) {
  auto props = ParseProperties("a=1\n\n=value\n");
  ASSERT_TRUE(absl::IsInvalidArgument(props.status()));
  EXPECT_NE(std::string(StatusMessage(props.status())).find("line 3"), std::string::npos)
      << props.status();
  EXPECT_FALSE(ParseProperties(": x").ok());
}

TEST(PropertiesTest, BadUnicodeEscapeIsAnError) {
  auto props = ParseProperties("a=ok\nb=\\u12\n");
  ASSERT_FALSE(props.ok());
  EXPECT_NE(std::string(StatusMessage(props.status())).find("line 2"), std::string::npos);
}

TEST(PropertiesTest, EmptyAndCommentOnlyTexts) {
  EXPECT_TRUE(ParseProperties("")->empty());
  EXPECT_TRUE(ParseProperties("# only\n   \n!x\n")->empty());
}

}  // namespace
}  // namespace stele::broker
