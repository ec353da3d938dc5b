// skiff: containers and images as a Docker user knows them, with no daemon. Parsing and
// printing only; the work is in src/image and src/engine.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>

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

CLI::App* Sub(CLI::App& parent, const Globals& g, const char* name, const char* help,
              const char* alias) {
  const CommandWords& w = g.words;
  const std::string& word = parent.get_parent() ? w.second : w.first;
  if (!word.empty() && word != name && !(alias && word == alias)) return nullptr;
  CLI::App* c = parent.add_subcommand(name, help);
  if (alias) c->alias(alias);
  return c;
}

// This CLI11 has no get_subcommand_no_throw.
CLI::App* Find(CLI::App& app, const std::string& name) {
  for (CLI::App* c : app.get_subcommands([](CLI::App*) { return true; }))
    if (c->get_name() == name) return c;
  return nullptr;
}

CLI::App* Group(CLI::App& app, const Globals& g, const char* name, const char* help) {
  if (CLI::App* c = Find(app, name)) return c;
  CLI::App* c = Sub(app, g, name, help);
  if (c) c->require_subcommand(1);
  return c;
}

namespace {

// The first two words of argv that are neither a global option nor its value.
CommandWords FindCommandWords(int argc, char** argv) {
  CommandWords w;
  for (int i = 1; i < argc; i++) {
    std::string_view a = argv[i];
    if (a == "--root") {
      i++;
      continue;
    }
    if (a.starts_with('-')) continue;
    if (w.first.empty()) {
      w.first = a;
    } else {
      w.second = a;
      break;
    }
  }
  return w;
}

// Whether the tree built for w has the command w names. Sub keeps every command a word can
// name, so a tree without it means that no skiff command has that name (a typo, or the
// value of an unknown option).
bool HasCommand(CLI::App& app, const CommandWords& w) {
  CLI::App* c = w.first.empty() ? &app : Find(app, w.first);
  // Only a group (container, image, system) takes a second command word.
  if (!c || w.second.empty() || c->get_require_subcommand_min() == 0) return c != nullptr;
  for (CLI::App* s : c->get_subcommands([](CLI::App*) { return true; }))
    if (s->check_name(w.second)) return true;
  return false;
}

void Build(CLI::App& app, Globals& g, Action& action) {
  app.require_subcommand(1);
  app.set_version_flag("-v,--version", "skiff version 0.1.0");
  app.add_option("--root", g.root, "skiff's state directory (also $SKIFF_ROOT)")
      ->capture_default_str();
  app.add_flag("-D,--debug", g.debug, "debug output");
  AddImageCommands(app, g, action);
  AddSystemCommands(app, g, action);
  AddContainerCommands(app, g, action);
  AddContainerOpsCommands(app, g, action);
}

}  // namespace

}  // namespace skiff::cli

int main(int argc, char** argv) {
  using namespace skiff::cli;
  Globals g;
  const char* env_root = std::getenv("SKIFF_ROOT");
  g.root = env_root && *env_root ? env_root : "/var/lib/skiff";
  g.words = FindCommandWords(argc, argv);
  Action action;
  CLI::App app{"skiff: containers without a daemon (docker-compatible commands)", "skiff"};
  Build(app, g, action);
  if (!HasCommand(app, g.words)) {  // Docker's words (CLI11 says "A subcommand is required")
    std::string cmd = g.words.first;
    if (Find(app, g.words.first)) cmd += " " + g.words.second;
    std::fprintf(stderr, "skiff: '%s' is not a skiff command.\nSee 'skiff --help'\n",
                 cmd.c_str());
    return 125;
  }
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
