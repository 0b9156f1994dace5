#include "net/broker/publish_window.h"

#include <cassert>

#include "common/clock.h"
#include "fmt/format.h"

namespace stele::broker {

PublishWindow::PublishWindow(int64_t window_ms, size_t max_entries, std::function<int64_t()> clock)
    : window_ms_(window_ms), max_entries_(max_entries), clock_(std::move(clock)) {
  assert(window_ms_ > 0 && max_entries_ > 0);
}

std::string PublishWindow::Key(std::string_view topic, std::string_view uniq_key) {
  if (uniq_key.empty()) return {};
  // '\x01' cannot occur in a valid topic name, so the pair maps to one key only.
  return fmt::format("{}\x01{}", topic, uniq_key);
}

int64_t PublishWindow::Now() const { return clock_ ? clock_() : NowMs(); }

size_t PublishWindow::size() const {
  std::lock_guard<std::mutex> l(mu_);
  return entries_.size();
}

void PublishWindow::TrimLocked(int64_t now) {
  while (!age_.empty() && (age_.front().time_ms <= now - window_ms_ || done_ > max_entries_)) {
    const Aged& a = age_.front();
    auto it = entries_.find(a.key);
    if (it != entries_.end() && !it->second.pending && it->second.seq == a.seq) {
      entries_.erase(it);
      --done_;
    }
    age_.pop_front();
  }
}

void PublishWindow::AddDoneLocked(Entry& e, const std::string& key, int64_t time_ms) {
  e.pending = false;
  e.seq = next_seq_++;
  e.time_ms = time_ms;
  age_.push_back(Aged{e.seq, time_ms, key});
  ++done_;
}

PublishWindow::Claim PublishWindow::Begin(const std::string& key, Waiter waiter,
                                          PublishRecord* out) {
  std::lock_guard<std::mutex> l(mu_);
  const int64_t now = Now();
  TrimLocked(now);
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) return Claim::kFirst;  // a new entry is pending
  if (e.pending) {
    e.waiters.push_back(std::move(waiter));
    return Claim::kWaiting;
  }
  if (e.time_ms > now - window_ms_) {
    *out = e.record;
    return Claim::kDuplicate;
  }
  // Expired but not yet trimmed (its age_ element is behind a younger one): claim it afresh.
  e.pending = true;
  e.seq = 0;
  --done_;
  return Claim::kFirst;
}

void PublishWindow::Complete(const std::string& key, absl::StatusOr<PublishRecord> r) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard<std::mutex> l(mu_);
    auto it = entries_.find(key);
    assert(it != entries_.end() && it->second.pending);
    if (it == entries_.end()) return;
    waiters.swap(it->second.waiters);
    if (r.ok()) {
      it->second.record = *r;
      AddDoneLocked(it->second, key, Now());
      TrimLocked(Now());
    } else {
      entries_.erase(it);
    }
  }
  for (Waiter& w : waiters) w(r);
}

void PublishWindow::Restore(const std::string& key, const PublishRecord& r, int64_t store_ms) {
  std::lock_guard<std::mutex> l(mu_);
  auto [it, inserted] = entries_.try_emplace(key);
  if (!inserted) return;
  it->second.record = r;
  AddDoneLocked(it->second, key, store_ms);
  TrimLocked(Now());
}

}  // namespace stele::broker
