// skiff exec | top | stats | pause | unpause | port | rename | restart | cp | container prune
// | system df | system prune, and run --explain. Parsing and printing only: the work is in
// engine/container_ops.h.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/skiff_cli.h"
#include "engine/container_ops.h"
#include "image/images.h"
#include "runtime/explain.h"

namespace skiff::cli {

bool Confirm(const std::string& warning) {
  std::fprintf(stdout, "%s\nAre you sure you want to continue? [y/N] ", warning.c_str());
  std::fflush(stdout);
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

void PrintPrunedImages(const std::vector<std::string>& lines) {
  if (lines.empty()) return;
  std::printf("Deleted Images:\n");
  for (const auto& l : lines) std::printf("%s\n", l.c_str());
  std::printf("\n");
}

namespace {

using engine::Engine;

// run --explain: one Explain for the process; whatever was not printed by the time skiff
// exits (a failure before the container's process was made) is printed then.
struct ExplainHolder {
  std::unique_ptr<runtime::Explain> ex;
  ~ExplainHolder() {
    if (ex) ex->Flush(false);
  }
};
ExplainHolder g_explain;

void AddExplainFlag(CLI::App* run) {
  if (!run) return;
  run->add_flag_callback(
      "--explain",
      [] {
        if (g_explain.ex) return;
        g_explain.ex = std::make_unique<runtime::Explain>(2);
        engine::SetExplain(g_explain.ex.get());
      },
      "print to stderr, step by step with timings, what the kernel was asked to do");
}

void AddExecCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto req = std::make_shared<engine::ExecRequest>();
  cmd->set_help_flag("--help", "show this help");
  cmd->prefix_command();  // CONTAINER, then the command and its own flags
  cmd->footer("Usage: skiff exec [OPTIONS] CONTAINER COMMAND [ARG...]");
  cmd->add_flag("-i,--interactive", req->interactive, "keep stdin open");
  cmd->add_flag("-t,--tty", req->tty, "allocate a pseudo-TTY");
  cmd->add_flag("-d,--detach", req->detach, "run the command in the background");
  cmd->add_option("-e,--env", req->env, "set environment variables (KEY=VAL)")
      ->allow_extra_args(false);
  cmd->add_option("-u,--user", req->user, "user name or UID[:GID], from the container's files");
  cmd->add_option("-w,--workdir", req->workdir, "working directory inside the container");
  cmd->callback([&g, &action, req, cmd] {
    std::vector<std::string> rest = cmd->remaining();
    action = [&g, req, rest]() -> Result<int> {
      if (rest.size() < 2)
        return Fail("exec",
                    MakeError(0, "\"exec\" requires at least 2 arguments: CONTAINER COMMAND"));
      engine::ExecRequest r = *req;
      r.args.assign(rest.begin() + 1, rest.end());
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("exec", e.error());
      auto rc = engine::ExecContainer(*e, rest[0], r);
      if (!rc.ok()) {
        Fail("exec", rc.error());
        return engine::StartExitCode(rc.error());
      }
      return *rc;
    };
  });
}

void AddTopCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto args = std::make_shared<std::vector<std::string>>();
  cmd->footer(
      "Usage: skiff top CONTAINER [ps OPTIONS]\n"
      "ps OPTIONS (read from /proc, no ps is run): -ef (the default), aux, -o FIELD[=HEADER],...\n"
      "FIELDS: pid ppid pgid sid cpid uid user gid group comm args cmd pcpu c pmem vsz rss stat\n"
      "        s tty time bsdtime etime stime start nlwp ni (and ps's aliases: %cpu, command...)");
  cmd->set_help_flag("--help", "show this help");
  // ps options look like flags (-o, -ef): the container and everything after it are theirs.
  cmd->prefix_command();
  cmd->callback([&g, &action, args, cmd] {
    *args = cmd->remaining();
    action = [&g, args]() -> Result<int> {
      if (args->empty())
        return Fail("top", MakeError(0, "\"top\" requires at least 1 argument: CONTAINER"));
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("top", e.error());
      std::vector<std::string> ps(args->begin() + 1, args->end());
      auto t = engine::TopContainer(*e, (*args)[0], ps);
      if (!t.ok()) return Fail("top", t.error());
      std::fputs(t->c_str(), stdout);
      return 0;
    };
  });
}

struct StatsFlags {
  std::vector<std::string> refs;
  bool all = false, no_stream = false, no_trunc = false;
  std::string format;
};

Result<int> Stats(const Globals& g, const StatsFlags& f) {
  if (!f.format.empty() && f.format != "json" && f.format != "table")
    return Fail("stats",
                MakeError(0, "--format %s: only table and json are supported", f.format.c_str()));
  auto e = OpenEngine(g);
  if (!e.ok()) return Fail("stats", e.error());
  auto sources = engine::StatsSources(*e, f.refs, f.all);
  if (!sources.ok()) return Fail("stats", sources.error());
  std::vector<engine::StatsSample> prev(sources->size());
  auto sample_all = [&](std::vector<engine::StatsSample>* out) {
    for (size_t i = 0; i < sources->size(); ++i) {
      auto s = engine::SampleContainer(*e, (*sources)[i]);
      (*out)[i] = s.ok() ? *s : engine::StatsSample{};
    }
  };
  // CPU % needs two readings: the first one a moment before the first print.
  sample_all(&prev);
  bool tty = ::isatty(1);
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(f.no_stream ? 500 : 1000));
    std::vector<engine::StatsSample> cur(sources->size());
    sample_all(&cur);
    std::vector<engine::StatsRow> rows;
    for (size_t i = 0; i < sources->size(); ++i) {
      engine::StatsRow r = engine::ComputeRow((*sources)[i].target, prev[i], cur[i]);
      if (f.no_trunc) r.id = (*sources)[i].target.id;
      rows.push_back(r);
    }
    std::string out;
    if (f.format == "json") {
      for (const auto& r : rows) out += engine::StatsJsonLine(r) + "\n";
    } else {
      out = engine::StatsTable(rows);
      // --no-trunc: StatsTable cuts ids to 12; the full one is put back.
      if (f.no_trunc)
        for (const auto& s : *sources) {
          auto pos = out.find(s.target.id.substr(0, 12));
          if (pos != std::string::npos) out.replace(pos, 12, s.target.id);
        }
      if (!f.no_stream && tty) out = "\033[2J\033[H" + out;  // redraw in place
    }
    std::fputs(out.c_str(), stdout);
    std::fflush(stdout);
    if (f.no_stream) return 0;
    prev = cur;
  }
}

void AddStatsCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto f = std::make_shared<StatsFlags>();
  cmd->footer("Usage: skiff stats [OPTIONS] [CONTAINER...]");
  cmd->add_option("containers", f->refs, "containers (default: all running)");
  cmd->add_flag("-a,--all", f->all, "show all containers (default shows just running)");
  cmd->add_flag("--no-stream", f->no_stream, "print the first result only");
  cmd->add_flag("--no-trunc", f->no_trunc, "do not truncate the ids");
  cmd->add_option("--format", f->format, "table (default) or json (one object a line)");
  cmd->callback([&g, &action, f] { action = [&g, f] { return Stats(g, *f); }; });
}

// pause/unpause: each ref printed as typed on success; 1 if any failed.
void AddEachCommand(CLI::App* cmd, Globals& g, Action& action, const char* what,
                    std::function<Status(Engine&, const std::string&)> fn) {
  auto refs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("containers", *refs, "containers")->required();
  cmd->callback([&g, &action, refs, what, fn] {
    action = [&g, refs, what, fn] { return EachRef(g, what, *refs, fn); };
  });
}

void AddPortCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto ref = std::make_shared<std::string>();
  auto port = std::make_shared<std::string>();
  cmd->footer("Usage: skiff port CONTAINER [PRIVATE_PORT[/PROTO]]");
  cmd->add_option("container", *ref, "the container")->required();
  cmd->add_option("port", *port, "a private port, e.g. 80/tcp");
  cmd->callback([&g, &action, ref, port] {
    action = [&g, ref, port]() -> Result<int> {
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("port", e.error());
      auto r = engine::Refresh(*e, *ref);
      if (!r.ok()) return Fail("port", r.error());
      if (port->empty()) return 0;  // no published ports without networking
      std::string p = port->find('/') == std::string::npos ? *port + "/tcp" : *port;
      std::fprintf(stderr, "Error: No public port '%s' published for %s\n", p.c_str(),
                   ref->c_str());
      return 1;
    };
  });
}

void AddRenameCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->footer("Usage: skiff rename CONTAINER NEW_NAME");
  cmd->add_option("names", *names, "CONTAINER NEW_NAME")->required()->expected(2);
  cmd->callback([&g, &action, names] {
    action = [&g, names]() -> Result<int> {
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("rename", e.error());
      Status st = engine::RenameContainer(*e, (*names)[0], (*names)[1]);
      if (!st.ok()) return Fail("rename", st.error());
      return 0;
    };
  });
}

void AddRestartCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto timeout = std::make_shared<int>(-1);
  cmd->add_option("-t,--time", *timeout, "seconds to wait before killing it");
  auto refs = std::make_shared<std::vector<std::string>>();
  cmd->add_option("containers", *refs, "containers")->required();
  cmd->callback([&g, &action, refs, timeout] {
    action = [&g, refs, timeout] {
      std::optional<int> t;
      if (*timeout >= 0) t = *timeout;
      return EachRef(g, "restart", *refs, [t](Engine& e, const std::string& ref) {
        return engine::RestartContainer(e, ref, t);
      });
    };
  });
}

void AddCpCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto paths = std::make_shared<std::vector<std::string>>();
  auto o = std::make_shared<engine::CopyOptions>();
  cmd->footer(
      "Usage: skiff cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n"
      "       skiff cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH");
  cmd->add_option("paths", *paths, "SRC DEST")->required()->expected(2);
  cmd->add_flag("-a,--archive", o->archive, "keep uid/gid");
  cmd->add_flag("-L,--follow-link", o->follow_link, "follow a symlink in SRC_PATH");
  auto quiet = std::make_shared<bool>(false);  // Docker's; skiff prints no progress anyway
  cmd->add_flag("-q,--quiet", *quiet, "suppress progress output");
  cmd->callback([&g, &action, paths, o, quiet] {
    action = [&g, paths, o]() -> Result<int> {
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("cp", e.error());
      Status st = engine::CopyContainer(*e, (*paths)[0], (*paths)[1], *o);
      if (!st.ok()) return Fail("cp", st.error());
      return 0;
    };
  });
}

void PrintPruned(const engine::PruneReport& rep) {
  if (!rep.deleted.empty()) {
    std::printf("Deleted Containers:\n");
    for (const auto& id : rep.deleted) std::printf("%s\n", id.c_str());
    std::printf("\n");
  }
}

void AddContainerPruneCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto force = std::make_shared<bool>(false);
  cmd->add_flag("-f,--force", *force, "do not prompt for confirmation");
  cmd->callback([&g, &action, force] {
    action = [&g, force]() -> Result<int> {
      if (!*force && !Confirm("WARNING! This will remove all stopped containers.")) return 0;
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("container prune", e.error());
      auto rep = engine::PruneContainers(*e);
      if (!rep.ok()) return Fail("container prune", rep.error());
      PrintPruned(*rep);
      std::printf("Total reclaimed space: %s\n",
                  engine::HumanSize(static_cast<double>(rep->reclaimed)).c_str());
      return 0;
    };
  });
}

void AddSystemDfCommand(CLI::App* cmd, Globals& g, Action& action) {
  cmd->callback([&g, &action] {
    action = [&g]() -> Result<int> {
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("system df", e.error());
      auto rows = engine::DiskUsage(*e);
      if (!rows.ok()) return Fail("system df", rows.error());
      std::fputs(engine::DiskUsageTable(*rows).c_str(), stdout);
      return 0;
    };
  });
}

void AddSystemPruneCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto force = std::make_shared<bool>(false);
  auto all = std::make_shared<bool>(false);
  cmd->add_flag("-f,--force", *force, "do not prompt for confirmation");
  cmd->add_flag("-a,--all", *all, "remove all unused images, not only dangling ones");
  cmd->callback([&g, &action, force, all] {
    action = [&g, force, all]() -> Result<int> {
      std::string warning = "WARNING! This will remove:\n  - all stopped containers\n";
      warning += *all ? "  - all images without at least one container associated to them\n"
                      : "  - all dangling images\n";
      if (!*force && !Confirm(warning)) return 0;
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("system prune", e.error());
      auto rep = engine::PruneContainers(*e);
      if (!rep.ok()) return Fail("system prune", rep.error());
      PrintPruned(*rep);
      auto images = engine::PruneImages(*e, *all);
      if (!images.ok()) return Fail("system prune", images.error());
      PrintPrunedImages(images->lines);
      std::printf("Total reclaimed space: %s\n",
                  engine::HumanSize(static_cast<double>(rep->reclaimed + images->reclaimed))
                      .c_str());
      return 0;
    };
  });
}

void AddOps(CLI::App& parent, Globals& g, Action& action) {
  if (CLI::App* c = Sub(parent, g, "exec", "run a command in a running container"))
    AddExecCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "top", "the processes of a container"))
    AddTopCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "stats", "live resource usage of containers"))
    AddStatsCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "pause", "pause every process of containers"))
    AddEachCommand(c, g, action, "pause", engine::PauseContainer);
  if (CLI::App* c = Sub(parent, g, "unpause", "unpause paused containers"))
    AddEachCommand(c, g, action, "unpause", engine::UnpauseContainer);
  if (CLI::App* c = Sub(parent, g, "port", "a container's published ports"))
    AddPortCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "rename", "rename a container")) AddRenameCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "restart", "restart containers"))
    AddRestartCommand(c, g, action);
  if (CLI::App* c = Sub(parent, g, "cp", "copy files between a container and the host"))
    AddCpCommand(c, g, action);
}

}  // namespace

void AddContainerOpsCommands(CLI::App& app, Globals& g, Action& action) {
  AddOps(app, g, action);
  AddExplainFlag(Find(app, "run"));
  if (CLI::App* container = Group(app, g, "container", "manage containers")) {
    AddOps(*container, g, action);
    if (CLI::App* c = Sub(*container, g, "prune", "remove all stopped containers"))
      AddContainerPruneCommand(c, g, action);
    AddExplainFlag(Find(*container, "run"));
  }
  if (CLI::App* system = Group(app, g, "system", "manage skiff")) {
    if (CLI::App* c = Sub(*system, g, "df", "disk usage of images, containers, volumes"))
      AddSystemDfCommand(c, g, action);
    if (CLI::App* c = Sub(*system, g, "prune", "remove unused data"))
      AddSystemPruneCommand(c, g, action);
  }
}

}  // namespace skiff::cli
