// SCMP_ACT_NOTIFY: the connection to the seccomp agent at linux.seccomp.listenerPath, made
// by the parent before clone, and the state message the child sends with the listener fd.
#include <nlohmann/json.hpp>

#include "base/unix_socket.h"
#include "runtime/seccomp.h"

namespace skiff::runtime {

Result<UniqueFd> ConnectSeccompAgent(const oci::Spec& spec, const std::string& id,
                                     const std::string& bundle, ChildPlan* plan) {
  if (!plan->seccomp || !plan->seccomp->has_notify) return UniqueFd();
  const oci::Seccomp& sc = *spec.linux->seccomp;
  UniqueFd sock = TRY(ConnectUnix(sc.listener_path).Wrap("linux.seccomp.listenerPath"));
  plan->seccomp_listener_sock = sock.get();
  nlohmann::json state = {{"ociVersion", oci::kOciVersion}, {"id", id}, {"status", "creating"},
                          {"bundle", bundle}, {"annotations", spec.annotations}};
  std::string rest = state.dump().substr(1);  // after '{'
  plan->seccomp_msg[0] = std::string("{\"ociVersion\":\"") + oci::kOciVersion +
                         "\",\"fds\":[\"seccompFd\"],\"pid\":";
  plan->seccomp_msg[1] = ",\"metadata\":" + nlohmann::json(sc.listener_metadata).dump() +
                         ",\"state\":{\"pid\":";
  plan->seccomp_msg[2] = "," + rest + "}";
  return sock;
}

}  // namespace skiff::runtime
