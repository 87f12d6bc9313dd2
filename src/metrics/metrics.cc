#include "metrics/metrics.h"

#include <cmath>
#include <cstdio>

namespace persisting::metrics {
namespace {

std::string format_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.0f", v);
    return buf;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

void atomic_add(std::atomic<double>& a, double by) {
  double cur = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(cur, cur + by, std::memory_order_relaxed)) {
  }
}

std::string escape(const std::string& s, bool help) {
  std::string out;
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c == '"' && !help) out += "\\\"";
    else out += c;
  }
  return out;
}

}  // namespace

void Counter::add(double by) { atomic_add(v_, by); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  atomic_add(sum_, v);
  count_.fetch_add(1, std::memory_order_relaxed);
}

void Histogram::snapshot(std::vector<uint64_t>* cumulative, double* sum, uint64_t* count) const {
  cumulative->assign(bounds_.size() + 1, 0);
  uint64_t run = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    run += counts_[i].load(std::memory_order_relaxed);
    (*cumulative)[i] = run;
  }
  *sum = sum_.load(std::memory_order_relaxed);
  *count = run;  // the +Inf bucket must equal the count
}

std::vector<double> latency_bounds() {
  return {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

std::string render_labels(const Labels& labels, const std::string& extra) {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape(v, false) + "\"";
  }
  if (!extra.empty()) {
    if (!first) out += ',';
    out += extra;
  }
  out += '}';
  return out;
}

Registry::Family& Registry::family(const std::string& name, Type type, const std::string& help) {
  auto [it, inserted] = families_.try_emplace(name);
  if (inserted) {
    it->second.type = type;
    it->second.help = help;
  }
  return it->second;
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = family(name, Type::kCounter, help);
  std::string key = render_labels(labels);
  auto& slot = f.counters[key];
  if (!slot) {
    slot = std::make_unique<Counter>();
    f.labels[key] = labels;
  }
  return *slot;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = family(name, Type::kGauge, help);
  std::string key = render_labels(labels);
  auto& slot = f.gauges[key];
  if (!slot) {
    slot = std::make_unique<Gauge>();
    f.labels[key] = labels;
  }
  return *slot;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, const Labels& labels,
                               std::vector<double> bounds) {
  std::lock_guard<std::mutex> lock(mu_);
  Family& f = family(name, Type::kHistogram, help);
  std::string key = render_labels(labels);
  auto& slot = f.histograms[key];
  if (!slot) {
    slot = std::make_unique<Histogram>(std::move(bounds));
    f.labels[key] = labels;
  }
  return *slot;
}

void Registry::remove_series(const std::string& key, const std::string& value) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [name, f] : families_) {
    for (auto it = f.labels.begin(); it != f.labels.end();) {
      bool match = false;
      for (const auto& [k, v] : it->second) match = match || (k == key && v == value);
      if (match) {
        f.counters.erase(it->first);
        f.gauges.erase(it->first);
        f.histograms.erase(it->first);
        it = f.labels.erase(it);
      } else {
        ++it;
      }
    }
  }
}

void Registry::set_scrape_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  hook_ = std::move(hook);
}

std::string Registry::render() {
  std::function<void()> hook;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hook = hook_;
  }
  if (hook) hook();
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    const char* type = f.type == Type::kCounter ? "counter" : f.type == Type::kGauge ? "gauge" : "histogram";
    out += "# HELP " + name + " " + escape(f.help, true) + "\n";
    out += "# TYPE " + name + " " + type + "\n";
    for (const auto& [key, c] : f.counters) out += name + key + " " + format_value(c->value()) + "\n";
    for (const auto& [key, g] : f.gauges) out += name + key + " " + format_value(g->value()) + "\n";
    for (const auto& [key, h] : f.histograms) {
      std::vector<uint64_t> cum;
      double sum;
      uint64_t count;
      h->snapshot(&cum, &sum, &count);
      const Labels& labels = f.labels.at(key);
      for (size_t i = 0; i < h->bounds().size(); ++i)
        out += name + "_bucket" + render_labels(labels, "le=\"" + format_value(h->bounds()[i]) + "\"") + " " +
               std::to_string(cum[i]) + "\n";
      out += name + "_bucket" + render_labels(labels, "le=\"+Inf\"") + " " + std::to_string(cum.back()) + "\n";
      out += name + "_sum" + key + " " + format_value(sum) + "\n";
      out += name + "_count" + key + " " + std::to_string(count) + "\n";
    }
  }
  return out;
}

}  // namespace persisting::metrics
