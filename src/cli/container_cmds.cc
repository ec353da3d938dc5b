// skiff run | create | start | stop | kill | rm | ps | logs | wait | inspect, and the same
// under `skiff container`. Parsing and printing only; the work is in src/engine.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

#include "base/file.h"
#include "cli/skiff_cli.h"
#include "engine/container_ops.h"
#include "engine/containers.h"
#include "engine/table.h"
#include "engine/logs.h"
#include "engine/monitor.h"
#include "image/images.h"
#include "runtime/container.h"

namespace skiff::cli {
namespace {

using engine::ContainerRecord;
using engine::Engine;

}  // namespace

Result<Engine> OpenEngine(const Globals& g) {
  Engine e = TRY(Engine::Open(g.root));
  e.pull = [&g](const std::string& ref, const std::string& platform) {
    return PullImage(g, ref, platform);
  };
  return e;
}

namespace {

// The flags of run and create, as typed; turned into RunOptions after parsing so that each
// error names its flag as Docker does.
struct RunFlags {
  engine::RunOptions o;
  std::vector<std::string> env, env_files, volumes, mounts, tmpfs, ulimits, security_opts;
  std::string memory, memory_swap, cpus, shm_size, restart = "no", pull = "missing",
                                                    network = "default", isolation = "default";
  std::string entrypoint;
  bool entrypoint_set = false;
  std::vector<std::string> rest;  // IMAGE [COMMAND] [ARG...]
};

void AddRunFlags(CLI::App* cmd, RunFlags* f, bool run) {
  // Docker's -h is --hostname.
  cmd->set_help_flag("--help", "show this help");
  cmd->prefix_command();  // IMAGE and everything after it belong to the container
  cmd->footer(std::string("Usage: skiff ") + (run ? "run" : "create") +
              " [OPTIONS] IMAGE [COMMAND] [ARG...]");
  engine::RunOptions& o = f->o;
  if (run) {
    cmd->add_flag("-d,--detach", o.detach, "run in the background and print the container ID");
  }
  cmd->add_flag("-i,--interactive", o.interactive, "keep stdin open");
  cmd->add_flag("-t,--tty", o.tty, "allocate a pseudo-TTY");
  cmd->add_flag("--rm", o.auto_remove, "remove the container when it exits");
  cmd->add_option("--name", o.name, "assign a name to the container");
  cmd->add_option("-e,--env", f->env, "set environment variables (KEY=VAL or KEY)")
      ->allow_extra_args(false);
  cmd->add_option("--env-file", f->env_files, "read environment variables from a file")
      ->allow_extra_args(false);
  cmd->add_option("-v,--volume", f->volumes, "bind mount or volume SRC:DST[:OPTS], or DST")
      ->allow_extra_args(false);
  cmd->add_option("--mount", f->mounts, "type=bind|volume|tmpfs,source=..,target=..[,readonly]")
      ->allow_extra_args(false);
  cmd->add_option("--tmpfs", f->tmpfs, "mount a tmpfs DST[:OPTIONS]")
      ->allow_extra_args(false);
  cmd->add_option("-w,--workdir", o.workdir, "working directory inside the container");
  cmd->add_option("-u,--user", o.user, "user (name|uid[:group|gid])");
  cmd->add_option("--entrypoint", f->entrypoint, "overwrite the image's ENTRYPOINT")
      ->each([f](const std::string&) { f->entrypoint_set = true; });
  cmd->add_option("-h,--hostname", o.hostname, "container host name");
  cmd->add_option("-m,--memory", f->memory, "memory limit");
  cmd->add_option("--memory-swap", f->memory_swap, "memory plus swap limit (-1: unlimited)");
  cmd->add_option("--cpus", f->cpus, "number of CPUs");
  cmd->add_option("-c,--cpu-shares", o.cpu_shares, "CPU shares (relative weight)");
  cmd->add_option("--cpuset-cpus", o.cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)");
  cmd->add_option("--pids-limit", o.pids_limit, "tune the container's pids limit (-1: unlimited)");
  cmd->add_flag("--read-only", o.read_only, "mount the root filesystem read-only");
  cmd->add_option("--cap-add", o.cap_add, "add Linux capabilities")
      ->allow_extra_args(false);
  cmd->add_option("--cap-drop", o.cap_drop, "drop Linux capabilities")
      ->allow_extra_args(false);
  cmd->add_flag("--privileged", o.privileged, "give extended privileges to the container");
  cmd->add_option("--security-opt", f->security_opts,
                  "no-new-privileges, seccomp=unconfined, seccomp=FILE")
      ->allow_extra_args(false);
  cmd->add_flag("--init", o.init, "run an init inside the container (reaps zombies, forwards signals)");
  cmd->add_option("--ulimit", f->ulimits, "ulimit options (nofile=1024:2048)")
      ->allow_extra_args(false);
  cmd->add_option("--shm-size", f->shm_size, "size of /dev/shm");
  cmd->add_option("--stop-signal", o.stop_signal, "signal to stop the container");
  cmd->add_option("--stop-timeout", o.stop_timeout, "seconds to wait before killing it at stop");
  cmd->add_option("--restart", f->restart, "restart policy: no, on-failure[:N], always, unless-stopped");
  cmd->add_option("--pull", f->pull, "pull the image before running: missing, always, never");
  cmd->add_option("--platform", o.platform, "platform of the image (os/arch[/variant])");
  cmd->add_option("--network,--net", f->network, "network mode: none, host");
  cmd->add_option("--isolation", f->isolation,
                  "chroot: a mount namespace and pivot_root only (NOT a security boundary)");
}

Error FlagError(const char* flag, const std::string& value, const Error& e) {
  return MakeError(0, "invalid argument \"%s\" for \"%s\" flag: %s", value.c_str(), flag,
                   e.Message().c_str());
}

#define FLAG_TRY(flag_, text_, expr_)                             \
  ({                                                              \
    auto flag_r_ = (expr_);                                       \
    if (!flag_r_.ok()) return FlagError(flag_, text_, flag_r_.error()); \
    std::move(flag_r_).value();                                   \
  })

Result<engine::RunOptions> ToRunOptions(RunFlags& f, const std::vector<std::string>& rest) {
  engine::RunOptions o = f.o;
  if (rest.empty()) return MakeError(0, "requires at least 1 argument: IMAGE [COMMAND] [ARG...]");
  o.image = rest[0];
  o.args.assign(rest.begin() + 1, rest.end());
  auto lookup = engine::HostEnvLookup();
  for (const auto& path : f.env_files) {
    std::string text = TRY(ReadFile(path).Wrap("--env-file"));
    auto vars = TRY(engine::ParseEnvFile(text, lookup).Wrap("--env-file " + path));
    o.env.insert(o.env.end(), vars.begin(), vars.end());
  }
  for (const auto& v : f.env) o.env.push_back(FLAG_TRY("-e, --env", v, engine::ResolveEnvFlag(v, lookup)));
  for (const auto& v : f.volumes)
    o.mounts.push_back(FLAG_TRY("-v, --volume", v, engine::ParseVolumeFlag(v)));
  for (const auto& v : f.mounts) o.mounts.push_back(FLAG_TRY("--mount", v, engine::ParseMountFlag(v)));
  for (const auto& v : f.tmpfs) o.mounts.push_back(FLAG_TRY("--tmpfs", v, engine::ParseTmpfsFlag(v)));
  for (const auto& v : f.ulimits) o.ulimits.push_back(FLAG_TRY("--ulimit", v, engine::ParseUlimit(v)));
  for (const auto& v : f.security_opts) {
    Status st = engine::ApplySecurityOpt(v, &o.security);
    if (!st.ok()) return FlagError("--security-opt", v, st.error());
  }
  if (f.entrypoint_set) o.entrypoint = f.entrypoint;
  if (!f.memory.empty()) o.memory = FLAG_TRY("-m, --memory", f.memory, engine::ParseMemoryBytes(f.memory));
  if (!f.memory_swap.empty())
    o.memory_swap = FLAG_TRY("--memory-swap", f.memory_swap, engine::ParseMemorySwap(f.memory_swap));
  if (!f.cpus.empty()) o.nano_cpus = FLAG_TRY("--cpus", f.cpus, engine::ParseNanoCpus(f.cpus));
  if (!f.shm_size.empty())
    o.shm_size = FLAG_TRY("--shm-size", f.shm_size, engine::ParseMemoryBytes(f.shm_size));
  o.restart = FLAG_TRY("--restart", f.restart, engine::ParseRestartPolicy(f.restart));
  o.pull = FLAG_TRY("--pull", f.pull, engine::ParsePullPolicy(f.pull));
  o.network = FLAG_TRY("--network", f.network, engine::ParseNetworkMode(f.network));
  o.isolation = FLAG_TRY("--isolation", f.isolation, engine::ParseIsolation(f.isolation));
  return o;
}

void PrintWarnings(const std::vector<std::string>& w) {
  for (const auto& s : w) std::fprintf(stderr, "WARNING: %s\n", s.c_str());
}

Result<int> RunCmd(const Globals& g, RunFlags& f, const std::vector<std::string>& rest, bool run) {
  const char* what = run ? "run" : "create";
  auto o = ToRunOptions(f, rest);
  if (!o.ok()) return Fail(what, o.error());
  auto e = OpenEngine(g);
  if (!e.ok()) return Fail(what, e.error());
  std::vector<std::string> warnings;
  if (!run) {
    auto rec = engine::CreateContainer(*e, *o, &warnings);
    PrintWarnings(warnings);
    if (!rec.ok()) return Fail(what, rec.error());
    std::printf("%s\n", rec->id.c_str());
    return 0;
  }
  auto res = engine::RunContainer(*e, *o, &warnings);
  if (!res.ok()) {
    PrintWarnings(warnings);
    Fail(what, res.error());
    return engine::StartExitCode(res.error());
  }
  PrintWarnings(warnings);
  if (o->detach) std::printf("%s\n", res->id.c_str());
  return res->exit_code;
}

void AddRunCommand(CLI::App* cmd, Globals& g, Action& action, bool run) {
  auto f = std::make_shared<RunFlags>();
  // run's and create's ~70 flags are added only when the command is the one parsed: adding
  // them to all four (run, create, container run, container create) was a millisecond of
  // every skiff start, `run` included.
  cmd->preparse_callback([cmd, f, run](size_t) { AddRunFlags(cmd, f.get(), run); });
  cmd->callback([&g, &action, f, cmd, run] {
    std::vector<std::string> rest = cmd->remaining();
    action = [&g, f, rest, run] { return RunCmd(g, *f, rest, run); };
  });
}

}  // namespace

// Declared in skiff_cli.h (container_ops_cmds.cc's pause/unpause use it too).
Result<int> EachRef(const Globals& g, const char* what, const std::vector<std::string>& refs,
                    const std::function<Status(Engine&, const std::string&)>& fn) {
  auto e = OpenEngine(g);
  if (!e.ok()) return Fail(what, e.error());
  int rc = 0;
  for (const auto& ref : refs) {
    Status st = fn(*e, ref);
    if (!st.ok()) {
      Fail(what, st.error());
      rc = 1;
      continue;
    }
    std::printf("%s\n", ref.c_str());
    std::fflush(stdout);
  }
  return rc;
}

namespace {

void AddStartCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto refs = std::make_shared<std::vector<std::string>>();
  auto attach = std::make_shared<bool>(false);
  cmd->add_option("container", *refs, "containers to start")->required();
  cmd->add_flag("-a,--attach", *attach,
                "stay in the foreground: output, signals and the exit code (one container)");
  cmd->callback([&g, &action, refs, attach] {
    action = [&g, refs, attach]() -> Result<int> {
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("start", e.error());
      if (*attach) {
        if (refs->size() != 1) return Fail("start", MakeError(0, "you cannot start and attach multiple containers at once"));
        auto rc = engine::StartAttached(*e, refs->front());
        if (!rc.ok()) {
          Fail("start " + refs->front(), rc.error());
          return engine::StartExitCode(rc.error());
        }
        return *rc;
      }
      int rc = 0;
      for (const auto& ref : *refs) {
        Status st = engine::StartContainer(*e, ref);
        if (!st.ok()) {
          Fail("start " + ref, st.error());
          rc = engine::StartExitCode(st.error());
          if (rc == 125) rc = 1;
          continue;
        }
        std::printf("%s\n", ref.c_str());
      }
      return rc;
    };
  });
}

void AddStopCommand(CLI::App* cmd, Globals& g, Action& action) {
  struct Args {
    std::vector<std::string> refs;
    std::optional<int> time;
    std::string signal;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("container", a->refs, "containers to stop")->required();
  cmd->add_option("-t,--time,--timeout", a->time, "seconds to wait before killing it");
  cmd->add_option("-s,--signal", a->signal, "signal to send (default: the container's stop signal)");
  cmd->callback([&g, &action, a] {
    action = [&g, a]() -> Result<int> {
      std::optional<int> sig;
      if (!a->signal.empty()) {
        auto s = runtime::ParseSignal(a->signal);
        if (!s.ok()) return Fail("stop", s.error());
        sig = *s;
      }
      return EachRef(g, "stop", a->refs, [a, sig](Engine& e, const std::string& ref) {
        return engine::StopContainer(e, ref, a->time, sig);
      });
    };
  });
}

void AddKillCommand(CLI::App* cmd, Globals& g, Action& action) {
  struct Args {
    std::vector<std::string> refs;
    std::string signal = "KILL";
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("container", a->refs, "containers to kill")->required();
  cmd->add_option("-s,--signal", a->signal, "signal to send")->capture_default_str();
  cmd->callback([&g, &action, a] {
    action = [&g, a]() -> Result<int> {
      auto sig = runtime::ParseSignal(a->signal);
      if (!sig.ok()) return Fail("kill", sig.error());
      int s = *sig;
      return EachRef(g, "kill", a->refs, [s](Engine& e, const std::string& ref) {
        return engine::KillContainer(e, ref, s);
      });
    };
  });
}

void AddRmCommand(CLI::App* cmd, Globals& g, Action& action) {
  struct Args {
    std::vector<std::string> refs;
    bool force = false, volumes = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("container", a->refs, "containers to remove")->required();
  cmd->add_flag("-f,--force", a->force, "kill a running container first");
  cmd->add_flag("-v,--volumes", a->volumes, "remove its anonymous volumes too");
  cmd->callback([&g, &action, a] {
    action = [&g, a]() -> Result<int> {
      return EachRef(g, "rm", a->refs, [a](Engine& e, const std::string& ref) {
        return engine::RemoveContainer(e, ref, a->force, a->volumes);
      });
    };
  });
}

void AddWaitCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto refs = std::make_shared<std::vector<std::string>>();
  auto condition = std::make_shared<std::string>("not-running");
  cmd->add_option("container", *refs, "containers to wait for")->required();
  cmd->add_option("--condition", *condition,
                  "not-running (default), next-exit or removed, as Docker's API");
  cmd->callback([&g, &action, refs, condition] {
    action = [&g, refs, condition]() -> Result<int> {
      auto cond = engine::ParseWaitCondition(*condition);
      if (!cond.ok()) return Fail("wait", cond.error());
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("wait", e.error());
      int rc = 0;
      for (const auto& ref : *refs) {
        auto code = engine::WaitContainerFor(*e, ref, *cond);
        if (!code.ok()) {
          Fail("wait", code.error());
          rc = 1;
          continue;
        }
        std::printf("%d\n", *code);
        std::fflush(stdout);
      }
      return rc;
    };
  });
}

std::string Quote(const std::vector<std::string>& args) {
  std::string s;
  for (const auto& a : args) s += (s.empty() ? "" : " ") + a;
  return "\"" + s + "\"";
}

std::string ShortImage(const std::string& image) { return image; }

// Docker's CREATED column: "3 seconds ago", "About a minute ago".
std::string CreatedAgo(const ContainerRecord& r, int64_t now) {
  auto ns = engine::ParseRfc3339Nano(r.created);
  if (!ns.ok()) return "N/A";
  return engine::HumanDuration(now - *ns / 1000000000LL) + " ago";
}

std::string ApplyFormat(const std::string& format, const nlohmann::ordered_json& doc);

struct PsArgs {
  bool all = false, quiet = false, no_trunc = false, latest = false, size = false;
  std::vector<std::string> filters;
  std::string format;
  int last = -1;
};

Result<int> PsCmd(const Globals& g, const PsArgs& a) {
  std::vector<engine::PsFilter> filters;
  for (const auto& f : a.filters) {
    auto pf = engine::ParsePsFilter(f);
    if (!pf.ok()) return Fail("ps", pf.error());
    filters.push_back(*pf);
  }
  auto e = OpenEngine(g);
  if (!e.ok()) return Fail("ps", e.error());
  auto list = engine::ListContainers(*e);
  if (!list.ok()) return Fail("ps", list.error());
  std::vector<ContainerRecord> shown;
  bool status_filter = false;
  for (const auto& f : filters) status_filter = status_filter || f.key == "status" || f.key == "exited";
  // Newest first, as Docker.
  for (auto it = list->rbegin(); it != list->rend(); ++it) {
    bool running = it->status == engine::ContainerStatus::kRunning ||
                   it->status == engine::ContainerStatus::kPaused ||
                   it->status == engine::ContainerStatus::kRestarting;
    if (!a.all && !running && !status_filter && a.last < 0 && !a.latest) continue;
    if (!engine::MatchesFilters(*it, filters)) continue;
    shown.push_back(*it);
  }
  if (a.latest && shown.size() > 1) shown.resize(1);
  if (a.last >= 0 && static_cast<int>(shown.size()) > a.last) shown.resize(a.last);
  int64_t now = time(nullptr);
  std::string out;
  std::vector<std::vector<std::string>> table;
  bool as_table = (a.format.empty() || a.format == "table") && !a.quiet;
  if (as_table)
    table.push_back({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"});
  for (const auto& r : shown) {
    std::string id = a.no_trunc ? r.id : r.id.substr(0, 12);
    if (a.quiet) {
      out += id + "\n";
      continue;
    }
    std::string cmd = Quote(r.config.args);
    if (!a.no_trunc && cmd.size() > 22) cmd = cmd.substr(0, 19) + "…\"";
    std::string status = engine::StatusText(r, now);
    if (!a.format.empty() && a.format != "table") {
      nlohmann::ordered_json j = {{"Command", Quote(r.config.args)},
                                  {"CreatedAt", r.created},
                                  {"ID", id},
                                  {"Image", r.image},
                                  {"Labels", ""},
                                  {"LocalVolumes", std::to_string(r.config.anonymous_volumes.size())},
                                  {"Mounts", ""},
                                  {"Names", r.name},
                                  {"Networks", ""},
                                  {"Ports", ""},
                                  {"RunningFor", CreatedAgo(r, now)},
                                  {"Size", "0B"},
                                  {"State", engine::StatusName(r.status)},
                                  {"Status", status}};
      out += (a.format == "json" ? j.dump() : ApplyFormat(a.format, j)) + "\n";
      continue;
    }
    std::string created = CreatedAgo(r, now);
    table.push_back({id, ShortImage(r.image), cmd, created, status, "", r.name});
  }
  if (as_table) out = engine::TabTable(table);
  std::fputs(out.c_str(), stdout);
  return 0;
}

void AddPsCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto a = std::make_shared<PsArgs>();
  cmd->add_flag("-a,--all", a->all, "show all containers (default shows just running)");
  cmd->add_flag("-q,--quiet", a->quiet, "only display container IDs");
  cmd->add_flag("--no-trunc", a->no_trunc, "don't truncate output");
  cmd->add_flag("-l,--latest", a->latest, "show the latest created container");
  cmd->add_option("-n,--last", a->last, "show n last created containers");
  cmd->add_flag("-s,--size", a->size, "accepted; sizes are not computed");
  cmd->add_option("-f,--filter", a->filters, "filter: status=, name=, id=, ancestor=, exited=")
      ->allow_extra_args(false);
  cmd->add_option("--format", a->format,
                  "json: one JSON object per line; or a template: '{{.ID}} {{.Status}}'");
  cmd->callback([&g, &action, a] { action = [&g, a] { return PsCmd(g, *a); }; });
}

struct LogsArgs {
  std::string ref, tail = "all", since, until;
  bool follow = false, timestamps = false, details = false;
};

Result<int> LogsCmd(const Globals& g, const LogsArgs& a) {
  auto e = OpenEngine(g);
  if (!e.ok()) return Fail("logs", e.error());
  auto rec = engine::Refresh(*e, a.ref);
  if (!rec.ok()) return Fail("logs", rec.error());
  engine::LogsOptions o;
  o.follow = a.follow;
  o.timestamps = a.timestamps;
  if (a.tail != "all" && !a.tail.empty()) {
    char* end = nullptr;
    long long n = strtoll(a.tail.c_str(), &end, 10);
    if (*end || n < 0) o.tail = -1;  // Docker treats an invalid --tail as "all"
    else o.tail = n;
  }
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t now = ts.tv_sec * 1000000000LL + ts.tv_nsec;
  if (!a.since.empty()) {
    auto s = engine::ParseSince(a.since, now);
    if (!s.ok()) return Fail("logs", s.error());
    o.since_ns = *s;
  }
  if (!a.until.empty()) {
    auto u = engine::ParseSince(a.until, now);
    if (!u.ok()) return Fail("logs", u.error());
    o.until_ns = *u;
  }
  std::string id = rec->id;
  Engine* eng = &*e;
  auto running = [eng, id] {
    auto r = engine::Refresh(*eng, id);
    return r.ok() && (r->status == engine::ContainerStatus::kRunning ||
                      r->status == engine::ContainerStatus::kPaused || engine::MonitorAlive(*r));
  };
  Status st = engine::CopyLogs(engine::LogPath(*e, id), o, 1, 2, running);
  if (!st.ok()) return Fail("logs", st.error());
  return 0;
}

void AddLogsCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto a = std::make_shared<LogsArgs>();
  cmd->add_option("container", a->ref, "the container")->required();
  cmd->add_flag("-f,--follow", a->follow, "follow log output");
  cmd->add_option("-n,--tail", a->tail, "number of lines to show from the end (or all)");
  cmd->add_flag("-t,--timestamps", a->timestamps, "show timestamps");
  cmd->add_option("--since", a->since, "since a time (RFC3339 or Unix) or a duration (10m)");
  cmd->add_option("--until", a->until, "before a time (RFC3339 or Unix) or a duration (10m)");
  cmd->add_flag("--details", a->details, "accepted (no log attributes here)");
  cmd->callback([&g, &action, a] { action = [&g, a] { return LogsCmd(g, *a); }; });
}

// --format: json, or a Go template of field paths: "{{.State.Status}}", "{{json .Config}}".
std::string ApplyFormat(const std::string& format, const nlohmann::ordered_json& doc) {
  std::string out;
  size_t pos = 0;
  while (pos < format.size()) {
    size_t open = format.find("{{", pos);
    if (open == std::string::npos) {
      out += format.substr(pos);
      break;
    }
    out += format.substr(pos, open - pos);
    size_t close = format.find("}}", open);
    if (close == std::string::npos) {
      out += format.substr(open);
      break;
    }
    std::string expr = format.substr(open + 2, close - open - 2);
    while (!expr.empty() && expr.front() == ' ') expr.erase(0, 1);
    while (!expr.empty() && expr.back() == ' ') expr.pop_back();
    bool as_json = expr.rfind("json ", 0) == 0;
    if (as_json) expr = expr.substr(5);
    const nlohmann::ordered_json* v = &doc;
    size_t i = 1;  // after the leading "."
    while (v && i < expr.size()) {
      size_t dot = expr.find('.', i);
      std::string key = expr.substr(i, dot == std::string::npos ? std::string::npos : dot - i);
      v = v->is_object() && v->contains(key) ? &(*v)[key] : nullptr;
      i = dot == std::string::npos ? expr.size() : dot + 1;
    }
    if (!v) out += "<no value>";
    else if (as_json || (!v->is_string() && !v->is_primitive())) out += v->dump();
    else if (v->is_string()) out += v->get<std::string>();
    else out += v->dump();
    pos = close + 2;
  }
  return out;
}

void AddInspectCommand(CLI::App* cmd, Globals& g, Action& action) {
  struct Args {
    std::vector<std::string> refs;
    std::string format, type;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("name", a->refs, "containers (or images)")->required();
  cmd->add_option("-f,--format", a->format, "json (default), or a template: {{.State.Status}}");
  cmd->add_option("--type", a->type, "container or image")
      ->check(CLI::IsMember({"", "container", "image"}));
  cmd->callback([&g, &action, a] {
    action = [&g, a]() -> Result<int> {
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("inspect", e.error());
      nlohmann::ordered_json arr = nlohmann::ordered_json::array();
      int rc = 0;
      for (const auto& ref : a->refs) {
        if (a->type != "image") {
          auto rec = engine::Refresh(*e, ref);
          if (rec.ok()) {
            arr.push_back(nlohmann::ordered_json::parse(engine::InspectJson(*e, *rec)));
            continue;
          }
          if (a->type == "container") {
            Fail("inspect", rec.error());
            rc = 1;
            continue;
          }
        }
        auto store = image::Store::Open(g.root + "/oci");
        auto img = store.ok() ? image::FindImage(*store, ref) : Result<image::Image>(store.error());
        if (!img.ok()) {
          std::fprintf(stderr, "skiff: inspect: No such object: %s\n", ref.c_str());
          rc = 1;
          continue;
        }
        auto doc = nlohmann::ordered_json::parse(image::InspectJson(*img));
        arr.push_back(doc.is_array() && !doc.empty() ? doc[0] : doc);
      }
      if (a->format.empty() || a->format == "json") {
        std::printf("%s\n", arr.dump(4).c_str());
      } else {
        for (const auto& d : arr) std::printf("%s\n", ApplyFormat(a->format, d).c_str());
      }
      return rc;
    };
  });
}

void AddAll(CLI::App& parent, Globals& g, Action& action, bool in_group) {
  if (CLI::App* c = Sub(parent, g, "run", "create and start a container"))
    AddRunCommand(c, g, action, true);
  if (CLI::App* c = Sub(parent, g, "create", "create a container"))
    AddRunCommand(c, g, action, false);
  if (CLI::App* c = Sub(parent, g, "start", "start stopped containers"))
    AddStartCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "stop", "stop running containers")) AddStopCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "kill", "kill running containers")) AddKillCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "rm", "remove containers")) AddRmCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "wait", "wait for containers to stop; print exit codes"))
    AddWaitCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "logs", "fetch the logs of a container"))
    AddLogsCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "inspect", "low-level information on objects"))
    AddInspectCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "ps", "list containers")) AddPsCommand(c, g, action);
  if (in_group) {
    if (CLI::App* c = Sub(parent, g, "ls", "list containers")) AddPsCommand(c, g, action);
  }
}

// skiff container __monitor ID --exit-code N: exec'd by skiff-monitor when the container
// exits (not for users: hidden from --help).
void AddMonitorCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto id = std::make_shared<std::string>();
  auto code = std::make_shared<int>(0);
  cmd->group("");
  cmd->add_option("id", *id)->required();
  cmd->add_option("--exit-code", *code)->required();
  cmd->callback([&g, &action, id, code] {
    action = [&g, id, code]() -> Result<int> {
      auto e = OpenEngine(g);
      if (!e.ok()) return 1;
      auto rc = engine::ContinueMonitor(*e, *id, *code);
      return rc.ok() ? 0 : 1;
    };
  });
}

}  // namespace

void AddContainerCommands(CLI::App& app, Globals& g, Action& action) {
  AddAll(app, g, action, false);
  CLI::App* group = Group(app, g, "container", "manage containers");
  if (!group) return;
  AddAll(*group, g, action, true);
  if (CLI::App* c = Sub(*group, g, "__monitor", "the monitor after an exit"))
    AddMonitorCommand(c, g, action);
}

}  // namespace skiff::cli
