// config.json -> Spec. Types are checked here and every error names the JSON path; the
// rules between fields (absolute paths, namespaces a field needs...) are ValidateSpec's.
// Unknown fields are ignored, as config.md requires, so newer configs still load.
#include <cstring>

#include "base/file.h"
#include "oci/json_read.h"
#include "oci/spec.h"

namespace skiff::oci {

// --- process ---

static Status Read(const Json& j, const std::string& path, User* out) {
  TRY(ExpectObject(j, path));
  // uid and gid are REQUIRED, but runc defaults them to 0 and process.json files written
  // for `exec --process` rely on that.
  TRY(Field(j, path, "uid", &out->uid));
  TRY(Field(j, path, "gid", &out->gid));
  TRY(Field(j, path, "umask", &out->umask));
  TRY(Field(j, path, "additionalGids", &out->additional_gids));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, ConsoleSize* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "height", &out->height));
  TRY(Required(j, path, "width", &out->width));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Rlimit* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "type", &out->type));
  TRY(Required(j, path, "hard", &out->hard));
  TRY(Required(j, path, "soft", &out->soft));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Capabilities* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "bounding", &out->bounding));
  TRY(Field(j, path, "effective", &out->effective));
  TRY(Field(j, path, "inheritable", &out->inheritable));
  TRY(Field(j, path, "permitted", &out->permitted));
  TRY(Field(j, path, "ambient", &out->ambient));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Scheduler* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "policy", &out->policy));
  TRY(Field(j, path, "nice", &out->nice));
  TRY(Field(j, path, "priority", &out->priority));
  TRY(Field(j, path, "flags", &out->flags));
  TRY(Field(j, path, "runtime", &out->runtime));
  TRY(Field(j, path, "deadline", &out->deadline));
  TRY(Field(j, path, "period", &out->period));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, IoPriority* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "class", &out->io_class));
  TRY(Field(j, path, "priority", &out->priority));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Process* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "terminal", &out->terminal));
  TRY(Field(j, path, "consoleSize", &out->console_size));
  TRY(Field(j, path, "user", &out->user));
  TRY(Field(j, path, "args", &out->args));
  TRY(Field(j, path, "commandLine", &out->command_line));
  TRY(Field(j, path, "env", &out->env));
  TRY(Field(j, path, "cwd", &out->cwd));
  TRY(Field(j, path, "capabilities", &out->capabilities));
  TRY(Field(j, path, "rlimits", &out->rlimits));
  TRY(Field(j, path, "noNewPrivileges", &out->no_new_privileges));
  TRY(Field(j, path, "apparmorProfile", &out->apparmor_profile));
  TRY(Field(j, path, "oomScoreAdj", &out->oom_score_adj));
  TRY(Field(j, path, "selinuxLabel", &out->selinux_label));
  TRY(Field(j, path, "scheduler", &out->scheduler));
  TRY(Field(j, path, "ioPriority", &out->io_priority));
  return Ok();
}

// --- root, mounts, hooks ---

static Status Read(const Json& j, const std::string& path, Root* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "path", &out->path));
  TRY(Field(j, path, "readonly", &out->readonly));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, IdMapping* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "containerID", &out->container_id));
  TRY(Required(j, path, "hostID", &out->host_id));
  TRY(Required(j, path, "size", &out->size));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Mount* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "destination", &out->destination));
  TRY(Field(j, path, "type", &out->type));
  TRY(Field(j, path, "source", &out->source));
  TRY(Field(j, path, "options", &out->options));
  TRY(Field(j, path, "uidMappings", &out->uid_mappings));
  TRY(Field(j, path, "gidMappings", &out->gid_mappings));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Hook* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "path", &out->path));
  TRY(Field(j, path, "args", &out->args));
  TRY(Field(j, path, "env", &out->env));
  TRY(Field(j, path, "timeout", &out->timeout));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Hooks* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "prestart", &out->prestart));
  TRY(Field(j, path, "createRuntime", &out->create_runtime));
  TRY(Field(j, path, "createContainer", &out->create_container));
  TRY(Field(j, path, "startContainer", &out->start_container));
  TRY(Field(j, path, "poststart", &out->poststart));
  TRY(Field(j, path, "poststop", &out->poststop));
  return Ok();
}

// --- linux ---

static Status Read(const Json& j, const std::string& path, Namespace* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "type", &out->type));
  TRY(Field(j, path, "path", &out->path));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, TimeOffset* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "secs", &out->secs));
  TRY(Field(j, path, "nanosecs", &out->nanosecs));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Device* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "type", &out->type));
  TRY(Field(j, path, "path", &out->path));
  TRY(Field(j, path, "major", &out->major));
  TRY(Field(j, path, "minor", &out->minor));
  TRY(Field(j, path, "fileMode", &out->file_mode));
  TRY(Field(j, path, "uid", &out->uid));
  TRY(Field(j, path, "gid", &out->gid));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, SeccompArg* out) {
  TRY(ExpectObject(j, path));
  TRY(Required(j, path, "index", &out->index));
  TRY(Required(j, path, "value", &out->value));
  TRY(Field(j, path, "valueTwo", &out->value_two));
  TRY(Field(j, path, "op", &out->op));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, SeccompSyscall* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "names", &out->names));
  TRY(Field(j, path, "action", &out->action));
  TRY(Field(j, path, "errnoRet", &out->errno_ret));
  TRY(Field(j, path, "args", &out->args));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Seccomp* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "defaultAction", &out->default_action));
  TRY(Field(j, path, "defaultErrnoRet", &out->default_errno_ret));
  TRY(Field(j, path, "architectures", &out->architectures));
  TRY(Field(j, path, "flags", &out->flags));
  TRY(Field(j, path, "listenerPath", &out->listener_path));
  TRY(Field(j, path, "listenerMetadata", &out->listener_metadata));
  TRY(Field(j, path, "syscalls", &out->syscalls));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Personality* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "domain", &out->domain));
  TRY(Field(j, path, "flags", &out->flags));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Linux* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "namespaces", &out->namespaces));
  TRY(Field(j, path, "uidMappings", &out->uid_mappings));
  TRY(Field(j, path, "gidMappings", &out->gid_mappings));
  TRY(Field(j, path, "timeOffsets", &out->time_offsets));
  TRY(Field(j, path, "devices", &out->devices));
  TRY(Field(j, path, "cgroupsPath", &out->cgroups_path));
  TRY(Field(j, path, "resources", &out->resources));
  TRY(Field(j, path, "rootfsPropagation", &out->rootfs_propagation));
  TRY(Field(j, path, "seccomp", &out->seccomp));
  TRY(Field(j, path, "sysctl", &out->sysctl));
  TRY(Field(j, path, "maskedPaths", &out->masked_paths));
  TRY(Field(j, path, "readonlyPaths", &out->readonly_paths));
  TRY(Field(j, path, "mountLabel", &out->mount_label));
  TRY(Field(j, path, "personality", &out->personality));
  return Ok();
}

static Status Read(const Json& j, const std::string& path, Spec* out) {
  TRY(ExpectObject(j, path));
  TRY(Field(j, path, "ociVersion", &out->oci_version));
  TRY(Field(j, path, "process", &out->process));
  TRY(Field(j, path, "root", &out->root));
  TRY(Field(j, path, "hostname", &out->hostname));
  TRY(Field(j, path, "domainname", &out->domainname));
  TRY(Field(j, path, "mounts", &out->mounts));
  TRY(Field(j, path, "hooks", &out->hooks));
  TRY(Field(j, path, "annotations", &out->annotations));
  TRY(Field(j, path, "linux", &out->linux));
  // Known to the spec, not implemented here: refused by ValidateSpec, never ignored.
  auto note = [&](const Json& obj, const char* at, std::initializer_list<const char*> keys) {
    if (!obj.is_object()) return;
    for (const char* k : keys)
      if (obj.contains(k) && !obj[k].is_null()) out->unsupported.push_back(std::string(at) + k);
  };
  if (j.contains("process")) note(j["process"], "process.", {"execCPUAffinity"});
  if (j.contains("linux")) {
    note(j["linux"], "linux.", {"intelRdt", "memoryPolicy", "netDevices"});
    if (j["linux"].is_object() && j["linux"].contains("resources"))
      note(j["linux"]["resources"], "linux.resources.", {"rdma"});
  }
  return Ok();
}

// --- entry points ---

// json::parse is the one nlohmann call here that throws; its exception stops at this call.
static Status ParseJson(const std::string& text, Json* out) {
  try {
    *out = Json::parse(text);
  } catch (const Json::exception& e) {
    // Drop the "[json.exception.parse_error.101] " tag: the user wants line and column.
    const char* what = e.what();
    const char* tag_end = strstr(what, "] ");
    return MakeError(0, "invalid JSON: %s", tag_end ? tag_end + 2 : what);
  }
  return Ok();
}

template <typename T>
static Result<T> ParseDocument(const std::string& json_text) {
  Json j;
  TRY(ParseJson(json_text, &j));
  T value{};
  TRY(Read(j, "", &value));
  return value;
}

Result<Spec> ParseSpec(const std::string& json_text) { return ParseDocument<Spec>(json_text); }

Result<Spec> LoadSpec(const std::string& path) {
  std::string text = TRY(ReadFile(path));
  return ParseSpec(text).Wrap(path);
}

Result<Resources> ParseResources(const std::string& json_text) {
  return ParseDocument<Resources>(json_text);
}

Result<Process> ParseProcess(const std::string& json_text) {
  return ParseDocument<Process>(json_text);
}

}  // namespace skiff::oci
