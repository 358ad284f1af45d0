#include "frontend/script/bench.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "backends/backend.h"
#include "frontend/script/interrupt.h"

namespace soma::script {

namespace {

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string fmt_ms(double v) {
  char buf[32];
  if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else if (v >= 1)
    std::snprintf(buf, sizeof buf, "%.3f", v);
  else
    std::snprintf(buf, sizeof buf, "%.4f", v);
  return buf;
}

}  // namespace

std::vector<BenchResult> bench(Session& session, const Tensor& t, const std::string& name,
                               const BenchOptions& options, const Location& loc) {
  std::vector<std::string> backends = options.backends.empty() ? backend_names() : options.backends;
  std::vector<BenchResult> results;
  for (const std::string& be : backends) {
    BenchResult r;
    r.name = name;
    r.backend = be;
    try {
      CompileOptions co;
      co.backend = be;
      auto t0 = std::chrono::steady_clock::now();
      Compiled c = soma::compile({t}, co);
      r.compile_ms = ms_since(t0);
      Feeds feeds = session.feeds_for(c, loc, /*random_for_missing=*/true);
      for (int i = 0; i < options.warmup; ++i) {
        check_interrupt();
        c.run(feeds);
      }
      std::vector<double> times;
      for (int i = 0; i < options.runs; ++i) {
        check_interrupt();
        auto r0 = std::chrono::steady_clock::now();
        c.run(feeds);
        times.push_back(ms_since(r0));
      }
      std::sort(times.begin(), times.end());
      r.runs = options.runs;
      if (!times.empty()) {
        size_t n = times.size();
        r.run_ms_median = n % 2 ? times[n / 2] : (times[n / 2 - 1] + times[n / 2]) / 2;
        r.run_ms_min = times.front();
      }
    } catch (const ScriptError&) {
      throw;
    } catch (const Error& e) {
      r.error = e.what();
    }
    results.push_back(r);
  }
  return results;
}

std::string bench_table(const std::vector<BenchResult>& results, const BenchOptions& options) {
  std::string name = results.empty() ? "" : results[0].name;
  std::string out = "bench " + name + ": " + std::to_string(options.runs) + " run" +
                    (options.runs == 1 ? "" : "s") + " after " + std::to_string(options.warmup) +
                    " warm-up run" + (options.warmup == 1 ? "" : "s") + "\n";
  char line[256];
  std::snprintf(line, sizeof line, "%-16s %12s %15s %12s\n", "backend", "compile ms",
                "run ms median", "run ms min");
  out += line;
  for (const BenchResult& r : results) {
    if (!r.error.empty()) {
      std::string err = r.error.substr(0, r.error.find('\n'));
      out += r.backend + std::string(r.backend.size() < 16 ? 17 - r.backend.size() : 1, ' ') +
             "failed: " + err + "\n";
      continue;
    }
    std::snprintf(line, sizeof line, "%-16s %12s %15s %12s\n", r.backend.c_str(),
                  fmt_ms(r.compile_ms).c_str(), fmt_ms(r.run_ms_median).c_str(),
                  fmt_ms(r.run_ms_min).c_str());
    out += line;
  }
  return out;
}

std::string bench_json(const BenchResult& r) {
  bool ok = r.error.empty();
  std::string s = "{\"name\": " + json_string(r.name) + ", \"backend\": " + json_string(r.backend) +
                  ", \"compile_ms\": " + (ok ? json_number(r.compile_ms) : "null") +
                  ", \"run_ms_median\": " + (ok ? json_number(r.run_ms_median) : "null") +
                  ", \"run_ms_min\": " + (ok ? json_number(r.run_ms_min) : "null") +
                  ", \"runs\": " + std::to_string(ok ? r.runs : 0);
  if (!ok) s += ", \"error\": " + json_string(r.error);
  return s + "}";
}

}  // namespace soma::script
