#include "grpc_test_fixture.h"

#include <thread>

#include "common/clock.h"
#include "engine/record.h"
#include "fmt/format.h"
#include "net/broker/state/topic_config_manager.h"
#include "net/remoting/codes.h"
#include "stele/file_system.h"

namespace stele::rpc::testing {

bool WaitUntil(const std::function<bool()>& pred, std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

int64_t GrpcTest::TopicCount() {
  int64_t n = 0;
  for (int q = 0; q < 4; ++q) n += broker_->store().MaxQueueOffset(kTopic, q);
  return n;
}

void GrpcTest::SetUp() {
  broker::BrokerConfig c;
  c.store_path_root_dir = dir_.path();
  c.broker_ip1 = "127.0.0.1";
  c.bind_address = "127.0.0.1";
  c.listen_port = 0;
  c.grpc_server_port = 0;
  c.auto_create_topic_enable = false;  // unknown topics stay unknown
  c.store = stele::testing::SmallOptions(dir_.path(), NewPosixFileSystem());
  c.store.max_message_size = kMaxMessageSize;
  // Unresolved transactions are checked back quickly.
  c.transaction_check_interval_ms = 100;
  c.transaction_timeout_ms = 300;
  Tune(c);
  const absl::Status fin = c.Finalize();
  ASSERT_TRUE(fin.ok()) << fin;
  auto b = broker::BrokerController::Create(std::move(c));
  ASSERT_TRUE(b.ok()) << b.status();
  broker_ = std::move(*b);
  ASSERT_TRUE(broker_->Start().ok());
  broker::TopicConfig t;
  t.topic_name = kTopic;
  t.read_queue_nums = 4;
  t.write_queue_nums = 4;
  ASSERT_TRUE(broker_->topics().CreateOrUpdate(t).ok());

  endpoint_ = std::make_unique<GrpcEndpoint>(*broker_, TestOptions());
  ASSERT_TRUE(endpoint_->Start(0).ok());
  ASSERT_GT(endpoint_->port(), 0);
  channel_ = grpc::CreateChannel(fmt::format("127.0.0.1:{}", endpoint_->port()),
                                 grpc::InsecureChannelCredentials());
  stub_ = v2::MessagingService::NewStub(channel_);
}

void GrpcTest::TearDown() {
  remoting_.Shutdown();
  if (endpoint_) endpoint_->Stop();
  if (broker_) broker_->Shutdown();
}

std::unique_ptr<grpc::ClientContext> GrpcTest::Ctx(const std::string& client_id,
                                                   std::chrono::milliseconds timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!client_id.empty()) ctx->AddMetadata("x-mq-client-id", client_id);
  ctx->AddMetadata("x-mq-protocol", "v2");
  ctx->AddMetadata("x-mq-language", "CPP");
  ctx->AddMetadata("x-mq-client-version", "5.0.0");
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
  return ctx;
}

v2::Resource GrpcTest::Res(const std::string& name) {
  v2::Resource r;
  r.set_name(name);
  return r;
}

v2::Message GrpcTest::Msg(const std::string& body, const std::string& topic) {
  v2::Message m;
  *m.mutable_topic() = Res(topic);
  m.set_body(body);
  auto* sp = m.mutable_system_properties();
  sp->set_message_id(fmt::format("01TEST{:08X}{:016X}", ++next_id_, NowMs()));
  sp->set_body_encoding(v2::IDENTITY);
  sp->set_message_type(v2::NORMAL);
  sp->set_born_host("test-host");
  return m;
}

v2::SendMessageResponse GrpcTest::Send(const std::vector<v2::Message>& msgs) {
  v2::SendMessageRequest req;
  for (const auto& m : msgs) *req.add_messages() = m;
  v2::SendMessageResponse resp;
  auto ctx = Ctx();
  grpc::Status s = stub_->SendMessage(ctx.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

std::vector<v2::ReceiveMessageResponse> GrpcTest::Receive(int batch, int64_t invisible_ms,
                                                          int64_t polling_ms,
                                                          const std::string& group) {
  v2::ReceiveMessageRequest req;
  *req.mutable_group() = Res(group);
  *req.mutable_message_queue()->mutable_topic() = Res(kTopic);
  req.mutable_message_queue()->set_id(0);
  req.mutable_filter_expression()->set_type(v2::TAG);
  req.mutable_filter_expression()->set_expression("*");
  req.set_batch_size(batch);
  req.mutable_invisible_duration()->set_seconds(invisible_ms / 1000);
  req.mutable_invisible_duration()->set_nanos(static_cast<int32_t>(invisible_ms % 1000) * 1000000);
  req.mutable_long_polling_timeout()->set_seconds(polling_ms / 1000);
  req.mutable_long_polling_timeout()->set_nanos(static_cast<int32_t>(polling_ms % 1000) * 1000000);
  auto ctx = Ctx("test-client", std::chrono::milliseconds(polling_ms + 10000));
  auto reader = stub_->ReceiveMessage(ctx.get(), req);
  std::vector<v2::ReceiveMessageResponse> out;
  v2::ReceiveMessageResponse r;
  while (reader->Read(&r)) out.push_back(r);
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  return out;
}

std::vector<v2::Message> GrpcTest::Messages(const std::vector<v2::ReceiveMessageResponse>& rs) {
  std::vector<v2::Message> out;
  for (const auto& r : rs) {
    if (r.has_message()) out.push_back(r.message());
  }
  return out;
}

v2::AckMessageResponse GrpcTest::Ack(const v2::Message& m, const std::string& group) {
  v2::AckMessageRequest req;
  *req.mutable_group() = Res(group);
  *req.mutable_topic() = m.topic();
  auto* e = req.add_entries();
  e->set_message_id(m.system_properties().message_id());
  e->set_receipt_handle(m.system_properties().receipt_handle());
  v2::AckMessageResponse resp;
  auto ctx = Ctx();
  grpc::Status s = stub_->AckMessage(ctx.get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return resp;
}

std::vector<MessageView> GrpcTest::RemotingPull(int queue_id, std::string* keep) {
  auto req = remoting::RemotingCommand::Request(remoting::request::kPullMessage);
  req.Set("consumerGroup", "RemotingGroup");
  req.Set("topic", kTopic);
  req.Set("queueId", fmt::format("{}", queue_id));
  req.Set("queueOffset", "0");
  req.Set("maxMsgNums", "32");
  req.Set("sysFlag", "4");
  req.Set("commitOffset", "0");
  req.Set("suspendTimeoutMillis", "0");
  req.Set("subscription", "*");
  req.Set("subVersion", "0");
  auto resp = remoting_.InvokeSync(fmt::format("127.0.0.1:{}", broker_->port()), std::move(req),
                                   std::chrono::seconds(10));
  std::vector<MessageView> out;
  if (!resp.ok() || resp->code != remoting::response::kSuccess) return out;
  *keep = std::move(resp->body);
  size_t pos = 0;
  while (pos < keep->size()) {
    MessageView v;
    std::string why;
    if (engine::DecodeRecord(keep->data() + pos, keep->size() - pos, true, &v, &why) !=
        engine::DecodeResult::kOk) {
      ADD_FAILURE() << why;
      break;
    }
    out.push_back(v);
    pos += v.total_size;
  }
  return out;
}

remoting::RemotingCommand GrpcTest::RemotingSend(const std::string& body, const std::string& props,
                                                 int sys_flag) {
  auto req = remoting::RemotingCommand::Request(remoting::request::kSendMessageV2);
  req.Set("a", "RemotingProducer");
  req.Set("b", kTopic);
  req.Set("c", "TBW102");
  req.Set("d", "4");
  req.Set("e", "1");
  req.Set("f", fmt::format("{}", sys_flag));
  req.Set("g", fmt::format("{}", NowMs()));
  req.Set("h", "0");
  req.Set("i", props);
  req.Set("j", "0");
  req.Set("k", "false");
  req.body = body;
  auto resp = remoting_.InvokeSync(fmt::format("127.0.0.1:{}", broker_->port()), std::move(req),
                                   std::chrono::seconds(10));
  EXPECT_TRUE(resp.ok()) << resp.status();
  return resp.ok() ? *std::move(resp) : remoting::RemotingCommand{};
}

}  // namespace stele::rpc::testing
