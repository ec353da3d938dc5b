// A temp directory of plain files that imitates a cgroup directory, for the writers.
#pragma once

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <string>

#include "base/file.h"
#include "cgroup/util.h"

namespace skiff::cgroup::testing {

class FakeCgroup {
 public:
  FakeCgroup() {
    char tmpl[] = "/tmp/skiff-cgtest-XXXXXX";
    path_ = ::mkdtemp(tmpl);
    fd_.reset(::open(path_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  }
  ~FakeCgroup() { (void)RemoveAll(path_); }
  FakeCgroup(const FakeCgroup&) = delete;
  FakeCgroup& operator=(const FakeCgroup&) = delete;

  // Makes name with content (the kernel's file would exist already).
  void Make(const std::string& name, const std::string& content = "") {
    (void)WriteFileAtomic(path_ + "/" + name, content);
  }
  std::string Get(const std::string& name) const {
    auto r = ReadFile(path_ + "/" + name);
    return r.ok() ? *r : "<missing>";
  }
  bool Has(const std::string& name) const { return PathExists(path_ + "/" + name); }
  CgroupDir dir() const { return {fd_.get(), path_}; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  UniqueFd fd_;
};

}  // namespace skiff::cgroup::testing
