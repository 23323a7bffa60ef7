// rendezvous_from_env: the torchrun and SLURM variables, their precedence, fallbacks and errors.
#include "parallel/rendezvous.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace apiary::parallel {
namespace {

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const char* name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The message of the RendezvousError that `vars` cause ("" when none is thrown).
std::string error_of(std::map<std::string, std::string> vars) {
  try {
    rendezvous_from_env(env_of(std::move(vars)));
  } catch (const RendezvousError& e) {
    return e.what();
  }
  return "";
}

TEST(Rendezvous, NoVariablesIsOneProcess) {
  const auto info = rendezvous_from_env(env_of({}));
  EXPECT_EQ(info.source, RendezvousSource::kNone);
  EXPECT_EQ(info.world_size, 1);
  EXPECT_EQ(info.rank, 0);
  EXPECT_FALSE(info.distributed());
}

TEST(Rendezvous, Torchrun) {
  const auto info = rendezvous_from_env(env_of({{"MASTER_ADDR", "10.0.0.7"},
                                                {"MASTER_PORT", "29501"},
                                                {"WORLD_SIZE", "4"},
                                                {"RANK", "3"},
                                                {"LOCAL_RANK", "1"}}));
  EXPECT_EQ(info.source, RendezvousSource::kTorchrun);
  EXPECT_EQ(info.master_addr, "10.0.0.7");
  EXPECT_EQ(info.master_port, 29501);
  EXPECT_EQ(info.world_size, 4);
  EXPECT_EQ(info.rank, 3);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.store_address(), "10.0.0.7:29501");
  EXPECT_STREQ(rendezvous_source_name(info.source), "torchrun");
}

TEST(Rendezvous, TorchrunAgentStore) {
  std::map<std::string, std::string> vars{
      {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}, {"WORLD_SIZE", "2"}, {"RANK", "0"}};
  EXPECT_FALSE(rendezvous_from_env(env_of(vars)).agent_store);
  vars["TORCHELASTIC_USE_AGENT_STORE"] = "False";
  EXPECT_FALSE(rendezvous_from_env(env_of(vars)).agent_store);
  vars["TORCHELASTIC_USE_AGENT_STORE"] = "True";
  vars["TORCHELASTIC_RESTART_COUNT"] = "3";
  const auto info = rendezvous_from_env(env_of(vars));
  EXPECT_TRUE(info.agent_store);
  EXPECT_EQ(info.restart_count, 3);
  vars["TORCHELASTIC_RESTART_COUNT"] = "x";
  EXPECT_NE(error_of(vars).find("TORCHELASTIC_RESTART_COUNT='x'"), std::string::npos);
}

TEST(Rendezvous, TorchrunWinsOverSlurm) {
  const auto info = rendezvous_from_env(env_of({{"MASTER_ADDR", "a"},
                                                {"MASTER_PORT", "1234"},
                                                {"WORLD_SIZE", "2"},
                                                {"RANK", "1"},
                                                {"SLURM_PROCID", "5"},
                                                {"SLURM_NTASKS", "8"},
                                                {"SLURM_LOCALID", "3"}}));
  EXPECT_EQ(info.source, RendezvousSource::kTorchrun);
  EXPECT_EQ(info.rank, 1);
  EXPECT_EQ(info.world_size, 2);
  EXPECT_EQ(info.local_rank, 3) << "LOCAL_RANK absent: SLURM_LOCALID";
}

TEST(Rendezvous, TorchrunLocalRankDefaultsToZero) {
  const auto info =
      rendezvous_from_env(env_of({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}, {"WORLD_SIZE", "3"}, {"RANK", "2"}}));
  EXPECT_EQ(info.local_rank, 0);
}

TEST(Rendezvous, WorldOfOneNeedsNoStore) {
  const auto info = rendezvous_from_env(env_of({{"WORLD_SIZE", "1"}, {"RANK", "0"}}));
  EXPECT_EQ(info.source, RendezvousSource::kTorchrun);
  EXPECT_FALSE(info.distributed());
  EXPECT_TRUE(info.master_addr.empty());
}

TEST(Rendezvous, Slurm) {
  const auto info = rendezvous_from_env(env_of({{"SLURM_PROCID", "5"},
                                                {"SLURM_NTASKS", "8"},
                                                {"SLURM_LOCALID", "1"},
                                                {"SLURM_LAUNCH_NODE_IPADDR", "192.168.1.10"},
                                                {"SLURM_JOB_ID", "123456"}}));
  EXPECT_EQ(info.source, RendezvousSource::kSlurm);
  EXPECT_EQ(info.rank, 5);
  EXPECT_EQ(info.world_size, 8);
  EXPECT_EQ(info.local_rank, 1);
  EXPECT_EQ(info.master_addr, "192.168.1.10");
  EXPECT_EQ(info.master_port, 20000 + 123456 % 10000);
}

TEST(Rendezvous, SlurmTakesMasterVariablesFirst) {
  const auto info = rendezvous_from_env(env_of({{"SLURM_PROCID", "0"},
                                                {"SLURM_NTASKS", "2"},
                                                {"SLURM_LAUNCH_NODE_IPADDR", "192.168.1.10"},
                                                {"MASTER_ADDR", "node01"},
                                                {"MASTER_PORT", "29400"}}));
  EXPECT_EQ(info.master_addr, "node01");
  EXPECT_EQ(info.master_port, 29400);
  EXPECT_EQ(info.local_rank, 0);
}

TEST(Rendezvous, SlurmWithoutJobIdUsesTorchDefaultPort) {
  const auto info =
      rendezvous_from_env(env_of({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}, {"MASTER_ADDR", "node01"}}));
  EXPECT_EQ(info.master_port, 29500);
}

TEST(Rendezvous, SlurmJobOfOneTaskIsOneProcess) {
  const auto info = rendezvous_from_env(env_of({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "1"}}));
  EXPECT_EQ(info.source, RendezvousSource::kNone);
  EXPECT_EQ(info.world_size, 1);
}

TEST(Rendezvous, ErrorsNameTheVariable) {
  EXPECT_NE(error_of({{"RANK", "0"}}).find("RANK is set but WORLD_SIZE is not"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}}).find("WORLD_SIZE is set but RANK is not"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "two"}, {"RANK", "0"}}).find("WORLD_SIZE='two'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "0"}, {"RANK", "0"}}).find("WORLD_SIZE='0'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "2"}}).find("RANK='2' is not a whole number in [0, 1]"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "-1"}}).find("RANK='-1'"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1 "}}).find("RANK='1 '"), std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_PORT", "1"}}).find("MASTER_ADDR is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}}).find("MASTER_PORT is not set"),
            std::string::npos);
  EXPECT_NE(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}})
                .find("MASTER_PORT='70000'"),
            std::string::npos);
  EXPECT_NE(
      error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}, {"LOCAL_RANK", "x"}})
          .find("LOCAL_RANK='x'"),
      std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "0"}}).find("SLURM_PROCID is set but SLURM_NTASKS is not"), std::string::npos);
  EXPECT_NE(error_of({{"SLURM_PROCID", "2"}, {"SLURM_NTASKS", "2"}}).find("SLURM_PROCID='2'"), std::string::npos);
  const auto no_addr = error_of({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "2"}});
  EXPECT_NE(no_addr.find("MASTER_ADDR is not set and neither is SLURM_LAUNCH_NODE_IPADDR"), std::string::npos)
      << no_addr;
  EXPECT_EQ(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}), "");
}

}  // namespace
}  // namespace apiary::parallel
