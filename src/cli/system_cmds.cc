// skiff info (and, later, system df / prune).
#include <cstdio>

#include "cli/skiff_cli.h"
#include "engine/host_info.h"

namespace skiff::cli {

void AddSystemCommands(CLI::App& app, Globals& g, Action& action) {
  CLI::App* info = Sub(app, g, "info", "what the kernel offers skiff");
  if (!info) return;
  auto format = std::make_shared<std::string>();
  info->add_option("-f,--format", *format, "json for machine-readable output")
      ->check(CLI::IsMember({"", "json"}));
  info->callback([&g, &action, format] {
    action = [&g, format]() -> Result<int> {
      auto h = engine::ProbeHost(g.root);
      if (!h.ok()) return Fail("info", h.error());
      std::fputs(*format == "json" ? (engine::HostInfoJson(*h) + "\n").c_str()
                                   : engine::HostInfoText(*h).c_str(),
                 stdout);
      return 0;
    };
  });
}

}  // namespace skiff::cli
