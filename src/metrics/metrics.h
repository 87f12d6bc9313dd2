// Metrics: counters, gauges and histograms, each a family with a name, help text and labelled
// series, rendered in the Prometheus text exposition format (version 0.0.4).
//
// Updating a series is lock-free (atomics); creating one takes the registry lock, so callers
// keep the reference they get (it stays valid for the registry's lifetime). Values that live
// elsewhere (bucket stats) are copied in by a scrape hook just before rendering.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace persisting::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double by = 1) { add(by); }
  // For counters mirrored from a source that counts itself (a bucket's total_count).
  void set_total(double v) { v_.store(v, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  void add(double by);
  std::atomic<double> v_{0};
};

class Gauge {
 public:
  void set(double v) { v_.store(v, std::memory_order_relaxed); }
  double value() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> v_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Cumulative counts per bound (then +Inf), sum, count: a consistent-enough snapshot.
  void snapshot(std::vector<uint64_t>* cumulative, double* sum, uint64_t* count) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Latency bounds in seconds, 50 us .. 10 s.
std::vector<double> latency_bounds();

class Registry {
 public:
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, const Labels& labels = {},
                       std::vector<double> bounds = latency_bounds());
  // Forgets series whose labels contain (key, value) (a closed bucket's).
  void remove_series(const std::string& key, const std::string& value);

  // Runs before every render() (copy external values into gauges).
  void set_scrape_hook(std::function<void()> hook);
  std::string render();

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::map<std::string, std::unique_ptr<Counter>> counters;  // key: rendered labels
    std::map<std::string, std::unique_ptr<Gauge>> gauges;
    std::map<std::string, std::unique_ptr<Histogram>> histograms;
    std::map<std::string, Labels> labels;
  };
  Family& family(const std::string& name, Type type, const std::string& help);

  std::mutex mu_;
  std::map<std::string, Family> families_;
  std::function<void()> hook_;
};

// `{a="x",b="y"}` with Prometheus escaping; "" for no labels. extra is appended (le="...").
std::string render_labels(const Labels& labels, const std::string& extra = "");

}  // namespace persisting::metrics
