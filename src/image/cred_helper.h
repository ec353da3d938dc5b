// Docker's credential helpers: `credHelpers` (per registry) and `credsStore` (for all) in
// ~/.docker/config.json name a program docker-credential-<name>, found in $PATH, that keeps
// the secrets (a keychain, pass, a cloud's token service). skiff runs `<program> get` with the
// server on stdin and reads {"ServerURL", "Username", "Secret"} from its stdout, as Docker
// does (docker-credential-helpers' protocol).
#pragma once

#include <optional>
#include <string>

#include "base/error.h"
#include "image/auth.h"

namespace skiff::image {

// The credential helper/store for docker.io is asked about "https://index.docker.io/v1/", as
// docker login stores it; every other registry by its host[:port].
std::string HelperServerName(const std::string& registry);

// Runs docker-credential-<helper> get. std::nullopt when the helper says it has no
// credentials for server ("credentials not found in native keychain", exit 1); an error
// naming the program when it can't run, fails otherwise, or prints something else than JSON.
Result<std::optional<Credential>> RunCredentialHelper(const std::string& helper,
                                                      const std::string& server);

}  // namespace skiff::image
