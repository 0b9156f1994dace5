#include "index/cleaner.h"

#include <time.h>

#include "common/clock.h"
#include "common/logging.h"
#include "common/status.h"

namespace stele::index {

Cleaner::Cleaner(CommitLog* log, QueueStore* queues, IndexService* idx, FileSystem* fs,
                 std::string commit_log_dir, const StoreOptions& opts)
    : log_(log),
      queues_(queues),
      idx_(idx),
      fs_(fs),
      cl_dir_(std::move(commit_log_dir)),
      opts_(opts) {
  // Validate() already accepted it.
  hours_ = ParseDeleteWhen(opts.delete_when).value_or(std::vector<int>{4});
}

Cleaner::~Cleaner() { Stop(); }

int64_t Cleaner::Now() const { return opts_.clock_ms ? opts_.clock_ms() : NowMs(); }

double Cleaner::UsedRatio() {
  auto r = fs_->SpaceUsedRatio(cl_dir_);
  return r.ok() ? *r : -1;
}

absl::StatusOr<CleanReport> Cleaner::RunOnce(bool manual) {
  std::lock_guard<std::mutex> run(run_mu_);
  CleanReport rep;
  const int64_t now = Now();
  rep.disk_used_ratio = UsedRatio();
  const double used = rep.disk_used_ratio * 100;
  const bool force = rep.disk_used_ratio >= 0 && used > opts_.disk_space_clean_forcibly_ratio &&
                     opts_.clean_file_forcibly_enable;
  const bool full = rep.disk_used_ratio >= 0 && used > opts_.disk_space_warning_level_ratio;
  const bool space = rep.disk_used_ratio >= 0 && used > opts_.disk_max_used_space_ratio;
  if (full != disk_full_.load()) {
    if (full) {
      log::Error("disk {:.1f}% full (> diskSpaceWarningLevelRatio {}%): refusing appends", used,
                 opts_.disk_space_warning_level_ratio);
    } else {
      log::Info("disk {:.1f}% full: accepting appends again", used);
    }
    disk_full_.store(full);
  }
  struct tm lt;
  const time_t secs = static_cast<time_t>(now / 1000);
  localtime_r(&secs, &lt);
  const bool time_up = std::find(hours_.begin(), hours_.end(), lt.tm_hour) != hours_.end();
  if (manual) {
    rep.why = "manual";
  } else if (force) {
    rep.why = "disk above diskSpaceCleanForciblyRatio";
  } else if (space) {
    rep.why = "disk above diskMaxUsedSpaceRatio";
  } else if (time_up) {
    rep.why = "deleteWhen";
  }

  if (!rep.why.empty()) {
    const int64_t reserved_ms = int64_t{opts_.file_reserved_time_hours} * 3600 * 1000;
    const int64_t active = log_->ActiveSegmentStart();
    const std::vector<int64_t> starts = log_->SegmentStarts();
    int64_t delete_before = -1;
    int n = 0;
    for (size_t i = 0; i + 1 < starts.size() && n < opts_.delete_file_batch_max; ++i) {
      if (starts[i] >= active) break;
      bool expired = force;
      if (!expired) {
        // The first message of the next segment is at least as new as this one's newest.
        auto ts = log_->SegmentFirstTimestamp(starts[i + 1]);
        if (!ts.ok()) break;
        expired = now - *ts >= reserved_ms;
      }
      if (!expired) break;  // oldest first, no holes
      delete_before = starts[i] + log_->segment_size();
      ++n;
    }
    if (delete_before > 0) {
      STELE_ASSIGN_OR_RETURN(rep.segments_deleted, log_->DeleteSegmentsBefore(delete_before));
      if (rep.segments_deleted > 0) {
        log::Info("retention ({}): deleted {} commit-log segment(s); the log now starts at {}",
                  rep.why, rep.segments_deleted, log_->MinOffset());
      }
    }
  }
  // Derived files wholly below the log's start (also after a restart that found old ones).
  const int64_t min = log_->MinOffset();
  STELE_ASSIGN_OR_RETURN(rep.queue_files_deleted, queues_->DeleteBelow(min));
  if (idx_ != nullptr) {
    STELE_ASSIGN_OR_RETURN(rep.index_files_deleted, idx_->DeleteFilesBelow(min));
  }
  if (rep.segments_deleted > 0 && full) {
    rep.disk_used_ratio = UsedRatio();
    const bool still = rep.disk_used_ratio * 100 > opts_.disk_space_warning_level_ratio;
    if (!still)
      log::Info("disk {:.1f}% full after cleaning: accepting appends again",
                rep.disk_used_ratio * 100);
    disk_full_.store(still);
  }
  rep.disk_full = disk_full_.load();
  return rep;
}

void Cleaner::Start() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = false;
  }
  thread_ = std::thread([this] { Loop(); });
}

void Cleaner::Stop() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Cleaner::Loop() {
  std::string last_error;
  std::unique_lock<std::mutex> l(mu_);
  while (!stop_) {
    cv_.wait_for(l, std::chrono::milliseconds(opts_.clean_resource_interval_ms),
                 [&] { return stop_; });
    if (stop_) break;
    l.unlock();
    auto r = RunOnce(/*manual=*/false);
    if (!r.ok() && r.status().ToString() != last_error) {
      last_error = r.status().ToString();
      log::Error("retention pass failed: {}", last_error);
    } else if (r.ok()) {
      last_error.clear();
    }
    l.lock();
  }
}

}  // namespace stele::index
