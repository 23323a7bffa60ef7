// `apiary keys PATH`: makes a CURVE key pair for a learner bound off loopback (docs/distributed.md):
// PATH.key (public and secret; learner.curve_secret_key) and PATH.pub (actors.curve_server_key,
// `apiary actor --server-key`).
#include <cstdio>
#include <memory>
#include <string>

#include "actors/transport.h"
#include "app/commands.h"

namespace apiary::app {

void add_keys_command(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  auto* cmd = app.add_subcommand("keys", "Make a CURVE key pair for a learner: PATH.key (secret) and PATH.pub");
  cmd->add_option("path", *path, "Where to write them, without the extension (e.g. keys/learner)")->required();
  cmd->callback([path] {
    const actors::CurveKeys keys = actors::make_curve_keys();
    actors::write_curve_keys(keys, *path);
    std::printf("secret_key_file: %s.key public_key_file: %s.pub public_key: %s\n", path->c_str(), path->c_str(),
                keys.public_key.c_str());
  });
}

}  // namespace apiary::app
