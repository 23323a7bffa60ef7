// The command line of the `apiary` program (app/program.cpp holds its main()): every subcommand, and
// errors mapped to exit statuses. See `apiary --help` and README.md.
#include <cstdio>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>

#include "app/cli_checks.h"
#include "app/commands.h"
#include "core/config.h"
#include "core/version.h"

int apiary::app::run_cli(int argc, char** argv) {
  CLI::App app{"Apiary: deep reinforcement learning on batched environments"};
  app.set_version_flag("--version", apiary::kVersion);
  app.require_subcommand(1);
  apiary::app::add_envs_command(app);
  apiary::app::add_rollout_command(app);
  apiary::app::add_bench_command(app);
  apiary::app::add_doctor_command(app);
  apiary::app::add_train_command(app);
  apiary::app::add_check_env_command(app);
  apiary::app::add_play_command(app);
  apiary::app::add_plot_command(app);
  apiary::app::add_actor_command(app);
  apiary::app::add_keys_command(app);
  apiary::app::add_config_command(app);
  // The first word names the command (the program itself takes only --help and --version).
  if (argc < 2 || argv[1][0] != '-') {
    const std::string word = argc < 2 ? "" : argv[1];
    const std::string unknown = apiary::app::unknown_command_message(app, word);
    if (!unknown.empty()) {
      std::cerr << "apiary: " << (word.empty() ? "a command is required" + unknown.substr(unknown.find(';')) : unknown)
                << "\n(run 'apiary --help' for usage)\n";
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "apiary: " << e.what() << "\n(run 'apiary --help' for usage)\n";
    return 2;
  } catch (const apiary::core::ConfigError& e) {
    std::cerr << "apiary: " << e.what() << "\n";
    return 2;
  } catch (const apiary::app::UsageError& e) {
    std::cerr << "apiary: " << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "apiary: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "apiary: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
