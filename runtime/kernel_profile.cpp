#include "runtime/kernel_profile.h"
#include "runtime/env.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <iomanip>
#include <mutex>
#include <sstream>

namespace soma::profile {

struct ProgramProfile::Entry {
  std::string program;
  std::vector<std::string> kernels;
  std::vector<int64_t> calls, nanos;
};

namespace {

struct Report {
  std::mutex mu;
  std::deque<ProgramProfile::Entry> entries;  // stable addresses
};

Report& global_report() {
  static Report* r = [] {
    auto* rep = new Report;  // never destroyed: programs may outlive static destruction order
    std::atexit([] {
      std::string s = report();
      if (!s.empty()) std::fputs(s.c_str(), stderr);
    });
    return rep;
  }();
  return *r;
}

}  // namespace

bool enabled() {
  static const bool on = [] { return env_flag("SOMA_PROFILE", false); }();
  return on;
}

ProgramProfile::ProgramProfile(std::string program, std::vector<std::string> kernels) {
  Report& r = global_report();
  std::lock_guard<std::mutex> lock(r.mu);
  r.entries.push_back(Entry{std::move(program), std::move(kernels), {}, {}});
  entry_ = &r.entries.back();
  entry_->calls.assign(entry_->kernels.size(), 0);
  entry_->nanos.assign(entry_->kernels.size(), 0);
}

void ProgramProfile::add(size_t kernel, std::chrono::nanoseconds t) {
  if (kernel >= entry_->calls.size()) return;
  std::lock_guard<std::mutex> lock(global_report().mu);
  entry_->calls[kernel] += 1;
  entry_->nanos[kernel] += t.count();
}

std::string report() {
  Report& r = global_report();
  std::lock_guard<std::mutex> lock(r.mu);
  struct Row {
    const std::string *program, *kernel;
    int64_t calls, nanos;
  };
  std::vector<Row> rows;
  int64_t total = 0;
  for (const auto& e : r.entries)
    for (size_t k = 0; k < e.kernels.size(); ++k)
      if (e.calls[k]) {
        rows.push_back({&e.program, &e.kernels[k], e.calls[k], e.nanos[k]});
        total += e.nanos[k];
      }
  if (rows.empty()) return {};
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.nanos > b.nanos; });
  std::ostringstream os;
  os << "soma kernel profile (SOMA_PROFILE): " << std::fixed << std::setprecision(3)
     << static_cast<double>(total) * 1e-9 << " s in kernels\n";
  os << std::setw(8) << "total ms" << std::setw(8) << "share" << std::setw(10) << "calls"
     << std::setw(11) << "mean us"
     << "  program / kernel\n";
  for (const Row& row : rows) {
    os << std::setw(8) << std::setprecision(1) << static_cast<double>(row.nanos) * 1e-6
       << std::setw(7) << std::setprecision(1)
       << 100.0 * static_cast<double>(row.nanos) / static_cast<double>(total) << "%"
       << std::setw(10) << row.calls << std::setw(11) << std::setprecision(1)
       << static_cast<double>(row.nanos) * 1e-3 / static_cast<double>(row.calls) << "  "
       << *row.program << " / " << *row.kernel << "\n";
  }
  return os.str();
}

}  // namespace soma::profile
