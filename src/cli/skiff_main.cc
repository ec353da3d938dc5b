// skiff: containers and images as a Docker user knows them, with no daemon. Parsing and
// printing only; the work is in src/image and src/engine.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>

#include "cli/skiff_cli.h"
#include "engine/containers.h"

namespace skiff::cli {

int Fail(const std::string& what, const Error& e) {
  std::fprintf(stderr, "skiff: %s: %s\n", what.c_str(), e.Message().c_str());
  return 125;
}

std::string HumanSize(int64_t bytes) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    u++;
  }
  // Docker: 3 significant digits ("4.26MB", "42.6MB", "426MB").
  return StrFormat("%.*f%s", v < 10 ? 2 : v < 100 ? 1 : 0, v, kUnits[u]);
}

std::string HumanAgo(const std::string& rfc3339) {
  struct tm tm{};
  if (!strptime(rfc3339.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return "N/A";
  time_t then = timegm(&tm);
  // The same words as ps's (go-units HumanDuration).
  return engine::HumanDuration(static_cast<int64_t>(time(nullptr) - then)) + " ago";
}

}  // namespace skiff::cli

int main(int argc, char** argv) {
  using namespace skiff::cli;
  CLI::App app{"skiff: containers without a daemon (docker-compatible commands)", "skiff"};
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", "skiff version 0.1.0");
  Globals g;
  const char* env_root = std::getenv("SKIFF_ROOT");
  g.root = env_root && *env_root ? env_root : "/var/lib/skiff";
  app.add_option("--root", g.root, "skiff's state directory (also $SKIFF_ROOT)")
      ->capture_default_str();
  app.add_flag("-D,--debug", g.debug, "debug output");
  Action action;
  AddImageCommands(app, g, action);
  AddSystemCommands(app, g, action);
  AddContainerCommands(app, g, action);
  AddContainerOpsCommands(app, g, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 125;
  }
  if (!action) return 125;
  auto rc = action();
  return rc.ok() ? *rc : 125;
}
