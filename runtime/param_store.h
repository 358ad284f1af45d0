// ParamStore: the persistent values of a model's parameters (and optimizer state), by name.
// Executables read parameters from it and write updates back into the same storage, so every
// executable compiled against one store (a training step, predict, evaluate) sees one set of
// weights.
//
// Copies held elsewhere. An executable may keep the newest value of a parameter outside the host
// Array — a GPU backend keeps parameters in device memory across runs and updates them there.
// After changing its copy it calls mark_host_stale(name, fetch): the host Array is then stale, and
// the next host read through get() calls `fetch` once to bring it up to date. A host write
// (set, assign, erase) drops the mark: the host value is the newest again.
//
// Versions. Every change of a parameter — a host write or a mark_host_stale — gives it a new
// version(name), unique within the store (a fetch changes no version: the value is the same). A
// holder of a copy remembers the version its copy equals; when version(name) differs, the newest
// value is elsewhere and the holder refreshes its copy from get(name).
//
// Threads. Every member takes the store's lock, so concurrent calls are safe and a stale
// parameter is fetched once. get() returns a reference: reading it while another thread writes
// the parameter (set, assign, or a run of an executable that updates it) is a race, as with any
// shared Array. A fetch function must not call back into the store.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/array.h"

namespace soma {

class ParamStore {
 public:
  // Copies the newest value of a parameter into `host`, its host Array (same dtype and shape).
  using Fetch = std::function<void(Array& host)>;

  ParamStore() = default;
  ParamStore(const ParamStore&) = delete;
  ParamStore& operator=(const ParamStore&) = delete;

  bool has(const std::string& name) const;
  // The host value, brought up to date first when a newer copy is held elsewhere. Throws
  // NameError naming the parameter when it is missing.
  Array& get(const std::string& name);
  const Array& get(const std::string& name) const;
  // The host Array as it is, without fetching: for its dtype and shape, or for a holder of the
  // newest copy; its values may be stale.
  const Array& peek(const std::string& name) const;
  // Adds or replaces a parameter's value.
  void set(const std::string& name, Array value);
  // Overwrites the existing storage of `name` with `value` (same dtype and shape required), so
  // that every holder of the old Array sees the new values. Assigning the parameter's own storage
  // copies nothing: it declares that the host changed it in place.
  void assign(const std::string& name, const Array& value);
  void erase(const std::string& name);
  std::vector<std::string> names() const;

  // Bumped on every change of any parameter.
  uint64_t version() const;
  // The version of one parameter (see above). Throws NameError when it is missing.
  uint64_t version(const std::string& name) const;

  // Records that the newest value of `name` is now held elsewhere: gives the parameter a new
  // version and returns it; `fetch` replaces any earlier one and is called by the next get().
  uint64_t mark_host_stale(const std::string& name, Fetch fetch);
  // Whether the host Array holds the newest value.
  bool host_current(const std::string& name) const;
  // Brings every stale host copy up to date.
  void sync_host() const;
  // How many fetches have run (host copies brought up to date).
  int64_t fetch_count() const;

 private:
  struct Entry {
    Array value;
    uint64_t version = 0;
    Fetch fetch;  // set while the host copy is stale
  };
  Entry& entry(const std::string& name) const;  // with mu_ held
  Fetch refresh(Entry& e) const;                // with mu_ held; returns the fetch it ran, if any
  uint64_t bump();                              // with mu_ held

  mutable std::mutex mu_;
  mutable std::map<std::string, Entry> values_;
  uint64_t version_ = 0;
  mutable int64_t fetches_ = 0;
};

}  // namespace soma
