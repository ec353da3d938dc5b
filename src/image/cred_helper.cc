#include "image/cred_helper.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/fd.h"

extern char** environ;

namespace skiff::image {

std::string HelperServerName(const std::string& registry) {
  if (registry == "docker.io" || registry == "index.docker.io" ||
      registry == "registry-1.docker.io")
    return "https://index.docker.io/v1/";
  return registry;
}

Result<std::optional<Credential>> RunCredentialHelper(const std::string& helper,
                                                      const std::string& server) {
  std::string prog = "docker-credential-" + helper;
  if (helper.empty() || helper.find('/') != std::string::npos)
    return MakeError(0, "credential helper \"%s\": not a helper name", helper.c_str());
  // stdin is a socket, not a pipe: a helper that exits without reading it must not kill us
  // with SIGPIPE (send with MSG_NOSIGNAL).
  int in[2], out[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0)
    return Errno("credential helper %s: socketpair", prog.c_str());
  UniqueFd in_parent(in[0]), in_child(in[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return Errno("credential helper %s: pipe", prog.c_str());
  UniqueFd out_parent(out[0]), out_child(out[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_child.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_child.get(), 1);
  std::string verb = "get";
  char* argv[] = {prog.data(), verb.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    errno = rc;
    return Errno("credential helper %s", prog.c_str());
  }
  in_child.reset();
  out_child.reset();
  (void)::send(in_parent.get(), server.data(), server.size(), MSG_NOSIGNAL);
  ::shutdown(in_parent.get(), SHUT_WR);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out_parent.get(), buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  std::string first = text.substr(0, text.find('\n'));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (text.find("credentials not found") != std::string::npos) return std::optional<Credential>();
    return MakeError(0, "credential helper %s get %s: %s", prog.c_str(), server.c_str(),
                     first.empty() ? "failed with no output" : first.c_str());
  }
  try {
    nlohmann::json j = nlohmann::json::parse(text);
    Credential c{.username = j.value("Username", ""), .password = j.value("Secret", "")};
    if (c.username.empty() && c.password.empty()) return std::optional<Credential>();
    return std::optional<Credential>(c);
  } catch (const nlohmann::json::exception&) {
    return MakeError(0, "credential helper %s get %s: not JSON: %s", prog.c_str(), server.c_str(),
                     first.c_str());
  }
}

}  // namespace skiff::image
