#include "net/broker/metrics/prom_text.h"

#include <cassert>
#include <cmath>

#include "fmt/format.h"

namespace stele::broker::metrics {

bool PromText::ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::string PromText::EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::string PromText::EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string PromText::FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integral values print without an exponent or a fraction, so that counters read naturally.
  if (v == std::floor(v) && std::fabs(v) < 1e15) return fmt::format("{}", static_cast<int64_t>(v));
  return fmt::format("{}", v);
}

void PromText::Family(std::string_view name, MetricType type, std::string_view help) {
  assert(ValidName(name));
  family_ = std::string(name);
  const char* t = type == MetricType::kCounter ? "counter"
                  : type == MetricType::kGauge ? "gauge"
                                               : "histogram";
  out_.append("# HELP ").append(name).append(" ").append(EscapeHelp(help)).append("\n");
  out_.append("# TYPE ").append(name).append(" ").append(t).append("\n");
}

void PromText::Line(std::string_view suffix, const Labels& labels, const Label* extra,
                    std::string_view value) {
  out_.append(family_).append(suffix);
  if (!labels.empty() || extra != nullptr) {
    out_.push_back('{');
    bool first = true;
    auto add = [&](const Label& l) {
      assert(ValidName(l.first) && l.first.find(':') == std::string_view::npos);
      if (!first) out_.push_back(',');
      first = false;
      out_.append(l.first).append("=\"").append(EscapeLabelValue(l.second)).append("\"");
    };
    for (const Label& l : labels) add(l);
    if (extra != nullptr) add(*extra);
    out_.push_back('}');
  }
  out_.push_back(' ');
  out_.append(value).push_back('\n');
}

void PromText::Sample(const Labels& labels, double value) {
  Line("", labels, nullptr, FormatValue(value));
}

void PromText::Sample(const Labels& labels, int64_t value) {
  Line("", labels, nullptr, fmt::format("{}", value));
}

void PromText::Histogram(const Labels& labels, std::span<const double> bounds,
                         std::span<const uint64_t> counts, double sum) {
  assert(counts.size() == bounds.size() + 1);
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le = i < bounds.size() ? FormatValue(bounds[i]) : std::string("+Inf");
    const Label extra{"le", le};
    Line("_bucket", labels, &extra, fmt::format("{}", cumulative));
  }
  Line("_sum", labels, nullptr, FormatValue(sum));
  Line("_count", labels, nullptr, fmt::format("{}", cumulative));
}

}  // namespace stele::broker::metrics
