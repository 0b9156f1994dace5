// Temporary skeleton: PopService wired into the broker; the implementation follows.
#include "net/broker/pop_service.h"

#include "net/broker/broker_controller.h"

namespace stele::broker {
namespace {

class PopServiceImpl final : public PopService {
 public:
  explicit PopServiceImpl(BrokerController& b) : b_(b) {}
  absl::Status Start() override { return absl::OkStatus(); }
  void Stop() override {}
  void PopAsync(PopRequest, std::chrono::steady_clock::time_point, PopCallback done) override {
    done(absl::UnimplementedError("pop is not implemented yet"));
  }
  absl::Status Ack(const std::string&, const std::string&, const std::string&) override {
    return absl::UnimplementedError("pop is not implemented yet");
  }
  absl::StatusOr<std::string> ChangeInvisibleDuration(const std::string&, const std::string&,
                                                      const std::string&,
                                                      std::chrono::milliseconds) override {
    return absl::UnimplementedError("pop is not implemented yet");
  }
  absl::Status ForwardToDeadLetter(const std::string&, const std::string&,
                                   const std::string&) override {
    return absl::UnimplementedError("pop is not implemented yet");
  }
  int64_t InFlight(const std::string&, const std::string&) const override { return 0; }

 private:
  [[maybe_unused]] BrokerController& b_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PopService>> PopService::Create(BrokerController& broker) {
  return std::unique_ptr<PopService>(new PopServiceImpl(broker));
}

}  // namespace stele::broker
