// Where a registry's TLS trust comes from, as Docker and podman keep it: the system's CA
// bundle, plus the files of a per-registry directory. /etc/containers/certs.d/<host:port>
// (podman) and /etc/docker/certs.d/<host:port> (Docker) by default; `--cert-dir DIR` uses
// DIR alone, as podman's flag does. In such a directory, every *.crt is a CA certificate
// (PEM); a *.cert with the *.key of the same name is a client certificate (Docker's
// client.cert / client.key).
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace skiff::image {

struct TlsFiles {
  std::string ca_pem;  // the CA certificates found, concatenated ("" when none)
  std::vector<std::string> ca_files;
  std::string client_cert, client_key;  // paths, or "" for none
};

// The directories searched for host ("host" or "host:port"): cert_dir when given, else the
// two certs.d directories (missing ones are skipped by LoadTlsFiles).
std::vector<std::string> CertDirs(const std::string& host, const std::string& cert_dir);

// Reads the directories in order. A *.cert without its *.key (or the other way round) is an
// error, as in Docker; the first pair found is the client certificate.
Result<TlsFiles> LoadTlsFiles(const std::vector<std::string>& dirs);

}  // namespace skiff::image
