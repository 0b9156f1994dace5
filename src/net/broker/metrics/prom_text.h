// Writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): one "# HELP" and one "# TYPE"
// line per metric family, then its samples. Label values are escaped (\\, \", \n), HELP text too
// (\\, \n); counters end in _total; histograms get cumulative _bucket{le=...} lines ending with
// le="+Inf", then _sum and _count.
//
// The writer does not reorder: the caller adds every sample of a family right after its Family()
// call, which is what the format requires (a family's samples must not be split up).
//
// Thread safety: none; one writer per scrape.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stele::broker::metrics {

using Label = std::pair<std::string_view, std::string_view>;
using Labels = std::vector<Label>;

enum class MetricType { kCounter, kGauge, kHistogram };

class PromText {
 public:
  // Starts a family: `name` must match [a-zA-Z_:][a-zA-Z0-9_:]* (asserted in debug builds).
  void Family(std::string_view name, MetricType type, std::string_view help);
  // One sample of the current counter or gauge family.
  void Sample(const Labels& labels, double value);
  void Sample(const Labels& labels, int64_t value);
  // One labelled histogram of the current family: `bounds` ascending upper bounds (without +Inf),
  // `counts[i]` the observations in (bounds[i-1], bounds[i]] and counts[bounds.size()] those above
  // the last bound, i.e. NOT cumulative; the writer accumulates them.
  void Histogram(const Labels& labels, std::span<const double> bounds,
                 std::span<const uint64_t> counts, double sum);

  const std::string& text() const { return out_; }
  std::string Take() { return std::move(out_); }

  // Exposed for tests.
  static std::string EscapeLabelValue(std::string_view v);
  static std::string EscapeHelp(std::string_view v);
  static std::string FormatValue(double v);
  static bool ValidName(std::string_view name);

 private:
  void Line(std::string_view suffix, const Labels& labels, const Label* extra,
            std::string_view value);

  std::string out_;
  std::string family_;
};

}  // namespace stele::broker::metrics
