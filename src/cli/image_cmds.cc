// skiff images | tag | rmi | import | pull | push | login | save | load |
// image {ls,inspect,rm,tag,prune,import,pull,mount,unmount}.
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/skiff_cli.h"
#include "engine/container_ops.h"
#include "engine/table.h"
#include "image/image_mount.h"
#include "image/images.h"
#include "image/progress.h"
#include "image/pull.h"
#include "image/pull_unpack.h"
#include "image/push.h"
#include "image/reference.h"
#include "image/registry.h"
#include "image/registry_config.h"
#include "image/transports.h"

namespace skiff::cli {

namespace {

Result<image::Store> OpenStore(const Globals& g) { return image::Store::Open(g.root + "/oci"); }

Result<image::LayerStore> OpenLayers(const Globals& g) {
  return image::LayerStore::Open(g.root + "/layers");
}


image::ImageMounts Mounts(const Globals& g) { return image::ImageMounts(g.root + "/mounts"); }

struct RegistryFlags {
  bool tls_verify = true;
  std::string cert_dir;
  std::vector<std::string> insecure;
};

void AddRegistryFlags(CLI::App* cmd, RegistryFlags* f) {
  cmd->add_option("--tls-verify", f->tls_verify,
                  "verify HTTPS certificates (false also allows plain HTTP)")
      ->default_str("true");
  cmd->add_option("--cert-dir", f->cert_dir,
                  "the registry's CA certificates (*.crt) and client certificate (*.cert, *.key) "
                  "(default /etc/containers/certs.d/HOST and /etc/docker/certs.d/HOST)");
  cmd->add_option("--insecure-registry", f->insecure,
                  "a registry (host[:port] or CIDR) whose HTTPS is not verified and that may "
                  "be plain HTTP; also \"insecure-registries\" in /etc/skiff/config.json "
                  "(or $SKIFF_CONFIG)");
}

// The options of a command that contacts a registry: the config file's insecure registries
// are read (lazily, by image::Registry::Open) only for these.
Result<image::RegistryOptions> MakeRegistryOptions(const Globals& g, const RegistryFlags& f) {
  image::RegistryOptions o;
  o.tls_verify = f.tls_verify;
  o.cert_dir = f.cert_dir;
  o.skiff_root = g.root;
  o.read_config = true;
  for (const auto& e : f.insecure)
    o.insecure_registries.push_back(TRY(image::CheckInsecureRegistry(e).Wrap("--insecure-registry")));
  return o;
}

struct ImagesFlags {
  bool quiet = false;
  bool all = false;
  bool no_trunc = false;
  std::string format;
  std::string repo;
  std::vector<std::string> filters;
};

// --filter dangling=true|false: which images are listed (nullopt: all of them).
Result<std::optional<bool>> DanglingFilter(const std::vector<std::string>& filters) {
  std::optional<bool> dangling;
  for (const auto& f : filters) {
    auto eq = f.find('=');
    std::string key = f.substr(0, eq), value = eq == std::string::npos ? "" : f.substr(eq + 1);
    if (key != "dangling") return MakeError(0, "invalid filter '%s' (dangling=true|false)", f.c_str());
    if (value != "true" && value != "false")
      return MakeError(0, "invalid filter 'dangling=%s' (true or false)", value.c_str());
    dangling = value == "true";
  }
  return dangling;
}

// {repository, tag} of each row an image gets: one per reference; a dangling image (no
// reference left) one <none> row, as Docker.
std::vector<std::pair<std::string, std::string>> ImageRows(const image::Image& img) {
  if (img.refs.empty()) return {{"<none>", "<none>"}};
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& r : img.refs) {
    auto ref = image::ParseReference(r);
    std::string repo = ref.ok() ? ref->Familiar() : r;
    std::string tag = ref.ok() && !ref->tag.empty() ? ref->tag : "<none>";
    if (ref.ok() && !ref->tag.empty()) repo = repo.substr(0, repo.size() - tag.size() - 1);
    out.emplace_back(repo, tag);
  }
  return out;
}

Result<int> ListImagesCmd(const Globals& g, const ImagesFlags& f) {
  auto dangling = DanglingFilter(f.filters);
  if (!dangling.ok()) return Fail("images --filter", dangling.error());
  auto store = OpenStore(g);
  if (!store.ok()) return Fail("images", store.error());
  auto list = image::ListImages(*store, dangling->value_or(true));
  if (!list.ok()) return Fail("images", list.error());
  nlohmann::json arr = nlohmann::json::array();
  std::string table;
  std::vector<std::vector<std::string>> rows = {{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}};
  for (const auto& img : *list) {
    if (dangling->has_value() && **dangling != img.refs.empty()) continue;
    std::string id = f.no_trunc ? img.config_digest : img.config_digest.substr(7, 12);
    bool listed = false;
    for (const auto& [repo, tag] : ImageRows(img)) {
      if (!f.repo.empty() && (repo != f.repo || img.refs.empty())) continue;
      listed = true;
      if (f.quiet) break;
      if (f.format == "json") {
        arr.push_back({{"Repository", repo},
                       {"Tag", tag},
                       {"ID", img.config_digest},
                       {"Digest", img.manifest_desc.digest},
                       {"CreatedAt", img.config.created},
                       {"Size", img.size}});
        continue;
      }
      rows.push_back({repo, tag, id, HumanAgo(img.config.created), HumanSize(img.size)});
    }
    if (f.quiet && listed) table += id + "\n";
  }
  if (!f.quiet) table = engine::TabTable(rows);
  if (f.format == "json") {
    std::printf("%s\n", arr.dump(2).c_str());
  } else {
    std::fputs(table.c_str(), stdout);
  }
  return 0;
}

void AddImagesCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto f = std::make_shared<ImagesFlags>();
  cmd->add_option("repository", f->repo, "only images of this repository");
  cmd->add_flag("-q,--quiet", f->quiet, "only image IDs");
  cmd->add_flag("-a,--all", f->all,
                "all images (dangling ones are listed anyway; skiff keeps no intermediate "
                "images)");
  cmd->add_option("-f,--filter", f->filters, "filter: dangling=true|false");
  cmd->add_flag("--no-trunc", f->no_trunc, "full image IDs");
  cmd->add_option("--format", f->format, "json for machine-readable output")
      ->check(CLI::IsMember({"", "json", "table"}));
  cmd->callback([&g, &action, f] { action = [&g, f] { return ListImagesCmd(g, *f); }; });
}

void AddTagCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto args = std::make_shared<std::pair<std::string, std::string>>();
  cmd->add_option("source", args->first, "image name or ID")->required();
  cmd->add_option("target", args->second, "new reference")->required();
  cmd->callback([&g, &action, args] {
    action = [&g, args]() -> Result<int> {
      auto store = OpenStore(g);
      if (!store.ok()) return Fail("tag", store.error());
      Status st = image::TagImage(*store, args->first, args->second);
      if (!st) return Fail("tag " + args->first, st.error());
      return 0;
    };
  });
}

void AddRmiCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto names = std::make_shared<std::vector<std::string>>();
  auto force = std::make_shared<bool>(false);
  cmd->add_option("image", *names, "image names or IDs")->required();
  cmd->add_flag("-f,--force", *force, "remove an image with several references");
  cmd->callback([&g, &action, names, force] {
    action = [&g, names, force]() -> Result<int> {
      auto store = OpenStore(g);
      if (!store.ok()) return Fail("rmi", store.error());
      int rc = 0;
      image::ImageMounts mounts = Mounts(g);
      // A mounted image stays unless forced; forced, it is unmounted first.
      auto unmount_first = [&mounts, force](const image::Image& img) -> Status {
        if (!mounts.IsMounted(img.config_digest)) return Ok();
        if (!*force)
          return MakeError(0, "image is in use by a mount at %s (unmount it or use -f)",
                           mounts.Path(img.config_digest).c_str());
        TRY(mounts.Unmount(img.config_digest));
        return Ok();
      };
      // As Docker: an image a container uses stays; rmi -f only takes its names away, and
      // its blobs and layers stay for the container (a running one would lose its files).
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("rmi", e.error());
      auto use = engine::ContainersImages(*e);
      if (!use.ok()) return Fail("rmi", use.error());
      for (const auto& n : *names) {
        auto img = image::FindImage(*store, n);
        auto user = img.ok() ? use->image_ids.find(img->config_digest) : use->image_ids.end();
        if (user != use->image_ids.end()) {
          auto stored = image::StoredName(n);
          bool by_ref = stored.ok() && std::find(img->refs.begin(), img->refs.end(), *stored) !=
                                           img->refs.end();
          std::string short_id = img->config_digest.substr(7, 12);
          if (!*force) {
            Fail("rmi " + n,
                 by_ref ? MakeError(0,
                                    "conflict: unable to remove repository reference \"%s\" "
                                    "(must force) - container %s is using its referenced image %s",
                                    n.c_str(), user->second.substr(0, 12).c_str(),
                                    short_id.c_str())
                        : MakeError(0,
                                    "conflict: unable to delete %s (must be forced) - image is "
                                    "being used by container %s",
                                    short_id.c_str(), user->second.substr(0, 12).c_str()));
            rc = 1;
            continue;
          }
          // By ID: every name of the image (FindImage by a name gives only that one).
          std::vector<std::string> untag;
          if (by_ref) untag.push_back(*stored);
          auto all = by_ref ? Result<std::vector<image::Image>>(std::vector<image::Image>{})
                            : image::ListImages(*store);
          if (!all.ok()) return Fail("rmi " + n, all.error());
          for (const auto& other : *all)
            if (other.config_digest == img->config_digest) untag = other.refs;
          for (const auto& r : untag) {
            if (Status st = store->RemoveRef(r); !st) return Fail("rmi " + n, st.error());
            auto parsed = image::ParseReference(r);
            std::printf("Untagged: %s\n", (parsed.ok() ? parsed->Familiar() : r).c_str());
          }
          continue;
        }
        auto lines = image::RemoveImage(*store, n, *force, unmount_first);
        if (!lines.ok()) {
          Fail("rmi " + n, lines.error());
          rc = 1;  // as docker rmi
          continue;
        }
        for (const auto& l : *lines) std::printf("%s\n", l.c_str());
      }
      auto gc = engine::CollectUnusedImageData(*e, *use);
      if (!gc.ok()) return Fail("rmi", gc.error());
      return rc;
    };
  });
}

void AddInspectCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto names = std::make_shared<std::vector<std::string>>();
  cmd->add_option("image", *names, "image names or IDs")->required();
  cmd->add_option("-f,--format", "json (the only format)");
  cmd->callback([&g, &action, names] {
    action = [&g, names]() -> Result<int> {
      auto store = OpenStore(g);
      if (!store.ok()) return Fail("image inspect", store.error());
      std::string out = "[";
      for (size_t i = 0; i < names->size(); i++) {
        auto img = image::FindImage(*store, (*names)[i]);
        if (!img.ok()) {
          Fail("image inspect " + (*names)[i], img.error());
          return 1;  // as docker
        }
        out += (i ? ",\n" : "\n") + image::InspectJson(*img);
      }
      std::printf("%s\n]\n", out.c_str());
      return 0;
    };
  });
}

void AddImportCommand(CLI::App* cmd, Globals& g, Action& action) {
  struct Args {
    std::string dir, ref;
    image::ImportOptions opts;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("dir", a->dir, "a directory holding the root filesystem")->required();
  cmd->add_option("reference", a->ref, "name:tag for the new image");
  cmd->add_option("-c,--change", a->opts.changes,
                  "apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, WORKDIR, USER ...)");
  cmd->add_option("-m,--message", a->opts.message, "commit message for the history");
  cmd->callback([&g, &action, a] {
    action = [&g, a]() -> Result<int> {
      auto store = OpenStore(g);
      if (!store.ok()) return Fail("import", store.error());
      auto id = image::ImportDir(*store, a->dir, a->ref, a->opts);
      if (!id.ok()) return Fail("import " + a->dir, id.error());
      std::printf("%s\n", id->c_str());
      return 0;
    };
  });
}

void AddPruneCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto all = std::make_shared<bool>(false);
  auto force = std::make_shared<bool>(false);
  cmd->add_flag("-a,--all", *all, "remove all images no container uses, not only dangling ones");
  cmd->add_flag("-f,--force", *force, "do not ask for confirmation");
  cmd->callback([&g, &action, all, force] {
    action = [&g, all, force]() -> Result<int> {
      if (!*force &&
          !Confirm(*all ? "WARNING! This will remove all images without at least one container "
                          "associated to them."
                        : "WARNING! This will remove all dangling images."))
        return 0;
      auto e = OpenEngine(g);
      if (!e.ok()) return Fail("image prune", e.error());
      auto rep = engine::PruneImages(*e, *all);
      if (!rep.ok()) return Fail("image prune", rep.error());
      PrintPrunedImages(rep->lines);
      std::printf("Total reclaimed space: %s\n",
                  engine::HumanSize(static_cast<double>(rep->reclaimed)).c_str());
      return 0;
    };
  });
}

struct PullArgs {
  std::string src, platform;
  bool quiet = false;
  RegistryFlags reg;
  FILE* out = stdout;  // run's pull keeps stdout for the container (and run -d's ID)
};

// The pull itself (a transport or a registry, with progress on stderr), its layers
// unpacked (from a registry in one pass with the download); the stored name.
Result<std::string> PullToStore(const Globals& g, image::Store& store, const PullArgs& a) {
  image::LayerStore layers = TRY(OpenLayers(g));
  image::TransportRef t = image::ParseTransport(a.src);
  if (!t.transport.empty()) {
    std::string name = TRY(image::PullFromTransport(store, t, ""));
    auto img = TRY(image::FindImage(store, name));
    TRY(image::UnpackImage(store, layers, img));
    return name;
  }
  image::PullOptions opts;
  opts.registry = TRY(MakeRegistryOptions(g, a.reg));
  if (!a.platform.empty()) opts.platform = TRY(oci::ParsePlatform(a.platform));
  image::ProgressRenderer progress(stderr);
  if (!a.quiet) opts.progress = progress.Callback();
  // A pull killed before left temp files; gone now unless another pull is running.
  TRY(image::SweepTemps(store));
  auto lock = TRY(image::StoreLock::Shared(store));
  auto r = image::PullAndUnpack(store, layers, a.src, opts);
  if (!a.quiet) progress.Finish();
  if (!r.ok()) return std::move(r).error();
  if (!a.quiet) std::fprintf(a.out, "Digest: %s\n", r->pull.digest().c_str());
  return r->pull.ref;
}

Result<int> PullCmd(const Globals& g, const PullArgs& a) {
  std::string what = "pull " + a.src;
  auto store = OpenStore(g);
  if (!store.ok()) return Fail(what, store.error());
  auto pulled = PullToStore(g, *store, a);
  if (!pulled.ok()) return Fail(what, pulled.error());
  std::string name = *pulled;
  auto ref = image::ParseReference(name);
  std::printf("%s\n", ref.ok() ? ref->String().c_str() : name.c_str());
  return 0;
}

void AddPullCommand(CLI::App* cmd, Globals& g, Action& action) {
  auto a = std::make_shared<PullArgs>();
  cmd->add_option("image", a->src,
                  "NAME[:TAG|@DIGEST], or oci:DIR[:REF], oci-archive:FILE[:REF], "
                  "docker-archive:FILE[:REF]")
      ->required();
  cmd->add_option("--platform", a->platform, "os/arch[/variant] from a manifest list");
  cmd->add_flag("-q,--quiet", a->quiet, "no progress output");
  AddRegistryFlags(cmd, &a->reg);
  cmd->callback([&g, &action, a] { action = [&g, a] { return PullCmd(g, *a); }; });
}

}  // namespace

Status PullImage(const Globals& g, const std::string& ref, const std::string& platform) {
  auto store = TRY(OpenStore(g));
  PullArgs a;
  a.src = ref;
  a.platform = platform;
  a.out = stderr;
  TRY(PullToStore(g, store, a));
  return Ok();
}

namespace {

void AddPushCommand(CLI::App* cmd, Globals& g, Action& action) {
  struct Args {
    std::string local, remote;
    bool quiet = false;
    RegistryFlags reg;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("image", a->local, "the local image, named as it goes to the registry")
      ->required();
  cmd->add_option("destination", a->remote, "another registry reference (default: image)");
  cmd->add_flag("-q,--quiet", a->quiet, "no progress output");
  AddRegistryFlags(cmd, &a->reg);
  cmd->callback([&g, &action, a] {
    action = [&g, a]() -> Result<int> {
      std::string what = "push " + a->local;
      auto store = OpenStore(g);
      if (!store.ok()) return Fail(what, store.error());
      image::PushOptions opts;
      auto reg = MakeRegistryOptions(g, a->reg);
      if (!reg.ok()) return Fail(what, reg.error());
      opts.registry = std::move(*reg);
      image::ProgressRenderer progress(stderr);
      if (!a->quiet) opts.progress = progress.Callback();
      auto r = image::Push(*store, a->local, a->remote.empty() ? a->local : a->remote, opts);
      if (!a->quiet) progress.Finish();
      if (!r.ok()) return Fail(what, r.error());
      std::printf("%s: digest: %s\n", a->remote.empty() ? a->local.c_str() : a->remote.c_str(),
                  r->digest.c_str());
      return 0;
    };
  });
}

void AddLoginCommands(CLI::App& app, Globals& g, Action& action) {
  struct Args {
    std::string registry;
    image::Credential cred;
    bool password_stdin = false;
    RegistryFlags reg;
  };
  auto a = std::make_shared<Args>();
  if (CLI::App* login = Sub(app, g, "login", "store credentials for a registry")) {
    login->add_option("server", a->registry, "the registry host[:port]")->required();
    login->add_option("-u,--username", a->cred.username, "user name")->required();
    login->add_option("-p,--password", a->cred.password, "password (prefer --password-stdin)");
    login->add_flag("--password-stdin", a->password_stdin, "read the password from stdin");
    AddRegistryFlags(login, &a->reg);
    login->callback([&g, &action, a] {
      action = [&g, a]() -> Result<int> {
        std::string what = "login " + a->registry;
        if (a->password_stdin) {
          std::getline(std::cin, a->cred.password);
        }
        if (a->cred.password.empty()) return Fail(what, MakeError(0, "no password given"));
        auto reg = MakeRegistryOptions(g, a->reg);
        if (!reg.ok()) return Fail(what, reg.error());
        Status st = image::Login(a->registry, a->cred, g.root + "/auth.json", std::move(*reg));
        if (!st) return Fail(what, st.error());
        std::printf("Login Succeeded\n");
        return 0;
      };
    });
  }
  if (CLI::App* logout = Sub(app, g, "logout", "forget the credentials of a registry")) {
    logout->add_option("server", a->registry, "the registry host[:port]")->required();
    logout->callback([&g, &action, a] {
      action = [&g, a]() -> Result<int> {
        Status st = image::Logout(a->registry, g.root + "/auth.json");
        if (!st) return Fail("logout " + a->registry, st.error());
        std::printf("Removing login credentials for %s\n", a->registry.c_str());
        return 0;
      };
    });
  }
}

void AddSaveLoadCommands(CLI::App& app, Globals& g, Action& action) {
  struct Args {
    std::vector<std::string> images;
    std::string file;
    bool quiet = false;
  };
  auto a = std::make_shared<Args>();
  if (CLI::App* save = Sub(app, g, "save", "write images to a tar (OCI layout + docker-archive)")) {
    save->add_option("image", a->images, "image names or IDs")->required();
    save->add_option("-o,--output", a->file, "the archive to write")->required();
    save->callback([&g, &action, a] {
      action = [&g, a]() -> Result<int> {
        auto store = OpenStore(g);
        if (!store.ok()) return Fail("save", store.error());
        Status st = image::SaveArchive(*store, a->images, a->file);
        if (!st) return Fail("save " + a->file, st.error());
        return 0;
      };
    });
  }
  if (CLI::App* load = Sub(app, g, "load", "read images from a tar written by save")) {
    load->add_option("-i,--input", a->file, "the archive to read")->required();
    load->add_flag("-q,--quiet", a->quiet, "print nothing");
    load->callback([&g, &action, a] {
      action = [&g, a]() -> Result<int> {
        auto store = OpenStore(g);
        if (!store.ok()) return Fail("load", store.error());
        auto names = image::LoadArchive(*store, a->file);
        if (!names.ok()) return Fail("load " + a->file, names.error());
        for (const auto& n : *names) {
          auto r = image::ParseReference(n);
          if (!a->quiet)
            std::printf("Loaded image: %s\n", r.ok() ? r->Familiar().c_str() : n.c_str());
        }
        return 0;
      };
    });
  }
}

struct MountArgs {
  std::vector<std::string> images;
  bool all = false, force = false;
  std::string format;
};

// podman's listing: the image's first name (its ID when it has none), then the path.
Result<int> ListMountsCmd(const Globals& g, const MountArgs& a) {
  auto store = OpenStore(g);
  if (!store.ok()) return Fail("image mount", store.error());
  auto list = Mounts(g).List();
  if (!list.ok()) return Fail("image mount", list.error());
  nlohmann::json arr = nlohmann::json::array();
  for (const auto& m : *list) {
    auto img = image::FindImage(*store, m.id);
    std::vector<std::string> names = img.ok() ? img->refs : std::vector<std::string>{};
    if (a.format == "json") {
      arr.push_back({{"id", m.id.substr(7)}, {"Names", names}, {"mountpoint", m.path}});
      continue;
    }
    std::printf("%s %s\n", names.empty() ? m.id.substr(7).c_str() : names[0].c_str(),
                m.path.c_str());
  }
  if (a.format == "json") std::printf("%s\n", arr.dump(4).c_str());
  return 0;
}

Result<int> MountCmd(const Globals& g, const MountArgs& a) {
  if (a.images.empty() && !a.all) return ListMountsCmd(g, a);
  auto store = OpenStore(g);
  if (!store.ok()) return Fail("image mount", store.error());
  std::vector<image::Image> imgs;
  if (a.all) {
    auto list = image::ListImages(*store);
    if (!list.ok()) return Fail("image mount", list.error());
    imgs = std::move(*list);
  }
  for (const auto& n : a.images) {
    auto img = image::FindImage(*store, n);
    if (!img.ok()) return Fail("image mount " + n, img.error());
    imgs.push_back(std::move(*img));
  }
  auto layers = OpenLayers(g);
  if (!layers.ok()) return Fail("image mount", layers.error());
  image::ImageMounts mounts = Mounts(g);
  for (const auto& img : imgs) {
    std::string what = "image mount " + (img.refs.empty() ? img.config_digest : img.refs[0]);
    auto lower = image::UnpackImage(*store, *layers, img);
    if (!lower.ok()) return Fail(what, lower.error());
    auto path = mounts.Mount(img.config_digest, *lower);
    if (!path.ok()) return Fail(what, path.error());
    std::printf("%s\n", path->c_str());
  }
  return 0;
}

Result<int> UnmountCmd(const Globals& g, const MountArgs& a) {
  if (a.images.empty() && !a.all)
    return Fail("image unmount", MakeError(0, "give at least one image, or --all"));
  image::ImageMounts mounts = Mounts(g);
  std::vector<std::string> ids;
  if (a.all) {
    auto list = mounts.List();
    if (!list.ok()) return Fail("image unmount", list.error());
    for (const auto& m : *list) ids.push_back(m.id);
  }
  if (!a.images.empty()) {
    auto store = OpenStore(g);
    if (!store.ok()) return Fail("image unmount", store.error());
    for (const auto& n : a.images) {
      auto img = image::FindImage(*store, n);
      if (!img.ok()) return Fail("image unmount " + n, img.error());
      if (!mounts.IsMounted(img->config_digest) && !a.force)
        return Fail("image unmount " + n, MakeError(0, "image is not mounted"));
      ids.push_back(img->config_digest);
    }
  }
  for (const auto& id : ids) {
    auto was = mounts.Unmount(id);
    if (!was.ok()) return Fail("image unmount " + id, was.error());
    std::printf("%s\n", id.substr(7).c_str());  // podman prints the IDs it unmounted
  }
  return 0;
}

constexpr const char* kMountHelp =
    "mount images' root filesystems read-only and print the paths; with no image, list the "
    "mounted ones";

void AddMountCommands(CLI::App* image, Globals& g, Action& action) {
  auto a = std::make_shared<MountArgs>();
  if (CLI::App* mount = Sub(*image, g, "mount", kMountHelp)) {
    mount->add_option("image", a->images, "image names or IDs");
    mount->add_flag("-a,--all", a->all, "mount every image");
    mount->add_option("--format", a->format, "json for machine-readable output")
        ->check(CLI::IsMember({"", "json"}));
    mount->callback([&g, &action, a] { action = [&g, a] { return MountCmd(g, *a); }; });
  }
  if (CLI::App* unmount = Sub(*image, g, "unmount", "unmount images mounted by image mount", "umount")) {
    unmount->add_option("image", a->images, "image names or IDs");
    unmount->add_flag("-a,--all", a->all, "unmount every mounted image");
    unmount->add_flag("-f,--force", a->force, "no error for an image that is not mounted");
    unmount->callback([&g, &action, a] { action = [&g, a] { return UnmountCmd(g, *a); }; });
  }
}

}  // namespace

void AddImageCommands(CLI::App& app, Globals& g, Action& action) {
  if (CLI::App* c = Sub(app, g, "images", "list images")) AddImagesCommand(c, g, action);
  if (CLI::App* c = Sub(app, g, "tag", "give an image another reference"))
    AddTagCommand(c, g, action);
  if (CLI::App* c = Sub(app, g, "rmi", "remove images")) AddRmiCommand(c, g, action);
  if (CLI::App* c = Sub(app, g, "import", "make an image from a directory"))
    AddImportCommand(c, g, action);
  if (CLI::App* c = Sub(app, g, "pull", "fetch an image into the store"))
    AddPullCommand(c, g, action);
  AddSaveLoadCommands(app, g, action);
  if (CLI::App* c = Sub(app, g, "push", "send an image to a registry"))
    AddPushCommand(c, g, action);
  AddLoginCommands(app, g, action);
  CLI::App* image = Group(app, g, "image", "manage images");
  if (!image) return;
  if (CLI::App* c = Sub(*image, g, "ls", "list images", "list")) AddImagesCommand(c, g, action);
  if (CLI::App* c = Sub(*image, g, "inspect", "show an image's config and layers"))
    AddInspectCommand(c, g, action);
  if (CLI::App* c = Sub(*image, g, "rm", "remove images")) AddRmiCommand(c, g, action);
  if (CLI::App* c = Sub(*image, g, "tag", "give an image another reference"))
    AddTagCommand(c, g, action);
  if (CLI::App* c = Sub(*image, g, "import", "make an image from a directory"))
    AddImportCommand(c, g, action);
  if (CLI::App* c = Sub(*image, g, "pull", "fetch an image into the store"))
    AddPullCommand(c, g, action);
  if (CLI::App* c = Sub(*image, g, "prune", "remove blobs no image uses"))
    AddPruneCommand(c, g, action);
  AddMountCommands(image, g, action);
}

}  // namespace skiff::cli
