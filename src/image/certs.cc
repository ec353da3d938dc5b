#include "image/certs.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "base/file.h"

namespace skiff::image {

namespace {

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() > suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The names in dir, sorted; an empty list for a directory that does not exist.
Result<std::vector<std::string>> Names(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return out;
    return Errno("open certificate directory %s", dir.c_str());
  }
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::vector<std::string> CertDirs(const std::string& host, const std::string& cert_dir) {
  if (!cert_dir.empty()) return {cert_dir};
  return {"/etc/containers/certs.d/" + host, "/etc/docker/certs.d/" + host};
}

Result<TlsFiles> LoadTlsFiles(const std::vector<std::string>& dirs) {
  TlsFiles out;
  for (const auto& dir : dirs) {
    std::vector<std::string> names = TRY(Names(dir));
    auto has = [&](const std::string& n) {
      return std::binary_search(names.begin(), names.end(), n);
    };
    for (const auto& n : names) {
      std::string path = dir + "/" + n;
      if (EndsWith(n, ".crt")) {
        std::string pem = TRY(ReadFile(path).Wrap("CA certificate"));
        if (!pem.empty() && pem.back() != '\n') pem += '\n';
        out.ca_pem += pem;
        out.ca_files.push_back(path);
      } else if (EndsWith(n, ".cert")) {
        std::string key = n.substr(0, n.size() - 5) + ".key";
        if (!has(key))
          return MakeError(ENOENT, "client certificate %s: no key %s beside it", path.c_str(),
                           key.c_str());
        if (out.client_cert.empty()) {
          out.client_cert = path;
          out.client_key = dir + "/" + key;
        }
      } else if (EndsWith(n, ".key")) {
        std::string cert = n.substr(0, n.size() - 4) + ".cert";
        if (!has(cert))
          return MakeError(ENOENT, "client key %s: no certificate %s beside it", path.c_str(),
                           cert.c_str());
      }
    }
  }
  return out;
}

}  // namespace skiff::image
