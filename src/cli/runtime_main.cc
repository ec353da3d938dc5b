// skiff-runtime: a runc-compatible OCI runtime CLI. Parsing and printing only; the work is
// in src/runtime.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "base/file.h"
#include "oci/spec.h"
#include "runtime/container.h"
#include "runtime/explain.h"
#include "runtime/sealed_exe.h"
#include "runtime/state.h"

namespace {

using namespace skiff;

constexpr const char* kVersion = "0.1.0";

struct Globals {
  std::string root = "/run/skiff-runtime";
  std::string log;
  std::string log_format = "text";
  bool debug = false;
  bool systemd_cgroup = false;
  std::string rootless = "auto";
  bool explain = false;
};

Globals g;

// One line on stderr; also into --log (json lines as runc writes them, which containerd
// reads back when a command fails).
int Fail(const Error& e) {
  std::string line = e.Message();
  std::fprintf(stderr, "skiff-runtime: %s\n", line.c_str());
  if (!g.log.empty()) {
    int fd = ::open(g.log.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd >= 0) {
      std::string out;
      if (g.log_format == "json") {
        nlohmann::json j = {{"level", "error"}, {"msg", line}, {"time", runtime::NowRfc3339()}};
        out = j.dump() + "\n";
      } else {
        out = "time=\"" + runtime::NowRfc3339() + "\" level=error msg=\"" + line + "\"\n";
      }
      (void)!::write(fd, out.data(), out.size());
      ::close(fd);
    }
  }
  return 1;
}

int Done(const Status& st) { return st.ok() ? 0 : Fail(st.error()); }

void AddCreateFlags(CLI::App* cmd, runtime::CreateOptions* o) {
  cmd->add_option("container-id", o->id, "the container's unique id")->required();
  cmd->add_option("-b,--bundle", o->bundle, "path to the bundle directory (default: .)");
  cmd->add_option("--pid-file", o->pid_file, "write the container process's pid here");
  cmd->add_option("--console-socket", o->console_socket,
                  "unix socket to receive the pty master of a terminal container");
  cmd->add_flag("--no-pivot", o->no_pivot, "use chroot instead of pivot_root (weaker)");
  cmd->add_flag("--no-new-keyring", o->no_new_keyring, "keep the caller's session keyring");
  cmd->add_option("--preserve-fds", o->preserve_fds, "pass fds 3..3+N-1 to the container");
}

std::string ListTable(const std::vector<runtime::ListEntry>& list) {
  std::string out = StrFormat("%-20s %-8s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS",
                              "BUNDLE", "CREATED", "OWNER");
  for (const auto& e : list) {
    int pid = e.status == runtime::ContainerStatus::kStopped ? 0 : e.state.pid;
    out += StrFormat("%-20s %-8d %-10s %-40s %-30s %s\n", e.state.id.c_str(), pid,
                     runtime::StatusName(e.status), e.state.bundle.c_str(),
                     e.state.created.c_str(), e.state.owner.empty() ? "root" : e.state.owner.c_str());
  }
  return out;
}

int Spec(const std::string& bundle, bool rootless) {
  std::string path = (bundle.empty() ? std::string(".") : bundle) + "/config.json";
  if (PathExists(path)) return Fail(MakeError(EEXIST, "spec: %s already exists", path.c_str()));
  std::string text = oci::DefaultSpecJson(rootless, ::getuid(), ::getgid());
  return Done(WriteFileAtomic(path, text + "\n", 0644).Wrap("spec"));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"skiff-runtime: an OCI runtime (runc-compatible command line)", "skiff-runtime"};
  app.set_version_flag("-v,--version",
                       std::string("skiff-runtime version ") + kVersion + "\nspec: " +
                           oci::kOciVersion);
  app.add_option("--root", g.root, "state directory (default /run/skiff-runtime)");
  app.add_option("--log", g.log, "log file");
  app.add_option("--log-format", g.log_format, "log format: text or json")
      ->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--debug", g.debug, "debug output");
  app.add_flag("--systemd-cgroup", g.systemd_cgroup, "use systemd for cgroups");
  app.add_option("--rootless", g.rootless, "rootless mode: auto, true or false");
  app.add_flag("--explain", g.explain,
               "create/run: print to stderr, step by step with timings, what the kernel was "
               "asked to do");
  app.require_subcommand(1);

  runtime::CreateOptions co;
  auto* create = app.add_subcommand("create", "create a container (it waits for start)");
  AddCreateFlags(create, &co);

  std::string id;
  auto* start = app.add_subcommand("start", "start a created container");
  start->add_option("container-id", id)->required();

  auto* state = app.add_subcommand("state", "print a container's state as JSON");
  state->add_option("container-id", id)->required();

  bool all = false;
  std::string signal = "SIGTERM";
  auto* kill = app.add_subcommand("kill", "send a signal to a container's init (or all)");
  kill->add_option("container-id", id)->required();
  kill->add_option("signal", signal, "signal name or number (default SIGTERM)");
  kill->add_flag("-a,--all", all, "signal every process in the container");

  auto* pause = app.add_subcommand("pause", "freeze every process of a container");
  pause->add_option("container-id", id)->required();
  auto* resume = app.add_subcommand("resume", "thaw a paused container");
  resume->add_option("container-id", id)->required();

  bool force = false;
  auto* del = app.add_subcommand("delete", "delete a container's resources");
  del->add_option("container-id", id)->required();
  del->add_flag("-f,--force", force, "kill it first if it is running");

  bool detach = false, keep = false;
  auto* run = app.add_subcommand("run", "create and start a container, wait for it");
  AddCreateFlags(run, &co);
  run->add_flag("-d,--detach", detach, "return once started");
  run->add_flag("--keep", keep, "do not delete the container after it exits");

  runtime::ExecOptions eo;
  auto* exec = app.add_subcommand("exec", "run a new process inside a container");
  exec->add_option("container-id", eo.id)->required();
  exec->add_option("command", eo.args, "the command and its arguments");
  exec->add_option("-p,--process", eo.process_file, "a process.json to run instead of COMMAND");
  exec->add_option("--cwd", eo.cwd, "working directory");
  exec->add_option("-e,--env", eo.env, "KEY=VALUE to add to the environment");
  exec->add_option("-u,--user", eo.user, "UID[:GID]");
  exec->add_option("-g,--additional-gids", eo.additional_gids, "supplementary group");
  exec->add_option("-c,--cap", eo.caps, "capability to add");
  exec->add_flag("--no-new-privs", eo.no_new_privs, "set no_new_privs");
  exec->add_flag("-t,--tty", eo.tty, "allocate a terminal");
  exec->add_flag("-d,--detach", eo.detach, "return once started");
  exec->add_option("--pid-file", eo.pid_file, "write the process's pid here");
  exec->add_option("--console-socket", eo.console_socket, "where the pty master goes");
  exec->add_option("--preserve-fds", eo.preserve_fds, "pass fds 3..3+N-1 to the process");
  std::string ignored_label, ignored_apparmor;
  exec->add_option("--process-label", ignored_label, "SELinux label (not supported, ignored)");
  exec->add_option("--apparmor", ignored_apparmor, "AppArmor profile (not supported, ignored)");
  exec->positionals_at_end();

  std::string ps_format = "table";
  auto* ps = app.add_subcommand("ps", "list a container's processes");
  ps->add_option("container-id", id)->required();
  ps->add_option("-f,--format", ps_format, "table or json")->check(CLI::IsMember({"table", "json"}));

  std::string resources_file;
  oci::Resources upd;
  int64_t u_memory = -2, u_swap = -2, u_quota = -2, u_pids = -2;
  uint64_t u_shares = 0, u_period = 0;
  uint16_t u_blkio = 0;
  std::string u_cpus, u_mems;
  auto* update = app.add_subcommand("update", "change a running container's resources");
  update->add_option("container-id", id)->required();
  update->add_option("-r,--resources", resources_file, "LinuxResources JSON file, - for stdin");
  update->add_option("--memory", u_memory, "memory limit in bytes");
  update->add_option("--memory-swap", u_swap, "memory+swap limit in bytes");
  update->add_option("--cpu-shares", u_shares, "cpu shares");
  update->add_option("--cpu-quota", u_quota, "cpu CFS quota (us)");
  update->add_option("--cpu-period", u_period, "cpu CFS period (us)");
  update->add_option("--cpuset-cpus", u_cpus, "cpus allowed");
  update->add_option("--cpuset-mems", u_mems, "memory nodes allowed");
  update->add_option("--pids-limit", u_pids, "maximum number of pids");
  update->add_option("--blkio-weight", u_blkio, "block IO weight (10-1000)");

  bool ev_stats = false;
  int ev_interval = 5;
  auto* events = app.add_subcommand("events", "container stats and OOM events as JSON lines");
  events->add_option("container-id", id)->required();
  events->add_flag("--stats", ev_stats, "print the stats once and exit");
  events->add_option("--interval", ev_interval, "seconds between stats (default 5)");

  auto* features = app.add_subcommand("features", "what this runtime supports (JSON)");

  std::string format = "table";
  bool quiet = false;
  auto* list = app.add_subcommand("list", "list containers");
  list->add_option("-f,--format", format, "table or json")->check(CLI::IsMember({"table", "json"}));
  list->add_flag("-q,--quiet", quiet, "print only ids");

  std::string spec_bundle;
  bool spec_rootless = false;
  auto* spec = app.add_subcommand("spec", "write a default config.json");
  spec->add_option("-b,--bundle", spec_bundle, "directory to write it in");
  spec->add_flag("--rootless", spec_rootless, "a spec for an unprivileged user");

  CLI11_PARSE(app, argc, argv);

  if (g.systemd_cgroup)
    return Fail(MakeError(ENOTSUP, "--systemd-cgroup: systemd cgroup management is not supported; "
                                   "skiff-runtime manages cgroupfs directly"));
  // runc's default for an unprivileged caller: a state dir of its own.
  if (::geteuid() != 0 && !app.get_option("--root")->count()) {
    const char* xdg = ::getenv("XDG_RUNTIME_DIR");
    g.root = xdg && *xdg ? std::string(xdg) + "/skiff-runtime"
                         : StrFormat("/tmp/skiff-runtime-%u", ::geteuid());
  }
  co.root = g.root;
  // The commands that put a process of ours into a container run from a sealed copy.
  if (*create || *run || *exec) {
    Status st = runtime::ReexecReadOnly(argv);
    if (!st.ok()) return Fail(st.error());
  }
  std::optional<runtime::Explain> explain;
  if (g.explain && (*create || *run)) co.explain = &explain.emplace(2);
  if (*create) {
    Status st = runtime::Create(co);
    // What the child did up to the start wait; the rest happens after `start`.
    if (co.explain) co.explain->Flush(!st.ok());
    return Done(st);
  }
  if (*start) return Done(runtime::Start(g.root, id));
  if (*state) {
    auto r = runtime::StateOf(g.root, id);
    if (!r.ok()) return Fail(r.error());
    std::puts(r->c_str());
    return 0;
  }
  if (*kill) {
    auto sig = runtime::ParseSignal(signal);
    if (!sig.ok()) return Fail(sig.error());
    return Done(runtime::Kill(g.root, id, *sig, all));
  }
  if (*pause) return Done(runtime::Pause(g.root, id));
  if (*resume) return Done(runtime::Resume(g.root, id));
  if (*del) return Done(runtime::Delete(g.root, id, force));
  if (*run) {
    auto r = runtime::Run(co, detach, keep);
    if (co.explain) co.explain->Flush(!r.ok());
    if (!r.ok()) return Fail(r.error());
    return *r;
  }
  if (*exec) {
    eo.root = g.root;
    auto r = runtime::Exec(eo);
    if (!r.ok()) return Fail(r.error());
    return *r;
  }
  if (*ps) {
    auto r = runtime::Ps(g.root, id, ps_format == "json");
    if (!r.ok()) return Fail(r.error());
    std::fputs(r->c_str(), stdout);
    if (ps_format == "json") std::puts("");
    return 0;
  }
  if (*update) {
    if (!resources_file.empty()) {
      std::string text;
      if (resources_file == "-") {
        text.assign(std::istreambuf_iterator<char>(std::cin), {});
      } else {
        auto t = ReadFile(resources_file);
        if (!t.ok()) return Fail(std::move(t).error().Wrap("update " + id));
        text = *t;
      }
      auto r = oci::ParseResources(text);
      if (!r.ok()) return Fail(std::move(r).error().Wrap("update " + id + ": --resources"));
      upd = *r;
    }
    if (u_memory != -2 || u_swap != -2) {
      if (!upd.memory) upd.memory = oci::Memory{};
      if (u_memory != -2) upd.memory->limit = u_memory;
      if (u_swap != -2) upd.memory->swap = u_swap;
    }
    if (u_shares || u_quota != -2 || u_period || !u_cpus.empty() || !u_mems.empty()) {
      if (!upd.cpu) upd.cpu = oci::Cpu{};
      if (u_shares) upd.cpu->shares = u_shares;
      if (u_quota != -2) upd.cpu->quota = u_quota;
      if (u_period) upd.cpu->period = u_period;
      if (!u_cpus.empty()) upd.cpu->cpus = u_cpus;
      if (!u_mems.empty()) upd.cpu->mems = u_mems;
    }
    if (u_pids != -2) upd.pids = oci::Pids{u_pids};
    if (u_blkio) {
      if (!upd.block_io) upd.block_io = oci::BlockIO{};
      upd.block_io->weight = u_blkio;
    }
    return Done(runtime::Update(g.root, id, upd));
  }
  if (*events) return Done(runtime::Events(g.root, id, ev_stats, ev_interval));
  if (*features) {
    std::puts(runtime::FeaturesJson().c_str());
    return 0;
  }
  if (*list) {
    auto r = runtime::List(g.root);
    if (!r.ok()) return Fail(r.error());
    if (quiet) {
      for (const auto& e : *r) std::puts(e.state.id.c_str());
    } else if (format == "json") {
      std::string out = "[";
      for (size_t i = 0; i < r->size(); ++i) {
        if (i) out += ",";
        out += runtime::StateJson((*r)[i].state, (*r)[i].status, -1);
      }
      std::puts((out + "]").c_str());
    } else {
      std::fputs(ListTable(*r).c_str(), stdout);
    }
    return 0;
  }
  if (*spec) return Spec(spec_bundle, spec_rootless);
  return 0;
}
