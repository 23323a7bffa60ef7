#include "parallel/rendezvous.h"

#include <cerrno>
#include <climits>
#include <cstdlib>

namespace apiary::parallel {
namespace {

// A whole decimal number in [lo, hi], or an error naming the variable and its value.
long parse_int(const char* name, const std::string& text, long lo, long hi) {
  errno = 0;
  char* end = nullptr;
  const long value = std::strtol(text.c_str(), &end, 10);
  const bool whole = !text.empty() && end == text.c_str() + text.size() && errno == 0;
  if (!whole || value < lo || value > hi) {
    throw RendezvousError(std::string(name) + "='" + text + "' is not a whole number in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "]");
  }
  return value;
}

std::optional<std::string> non_empty(const EnvLookup& env, const char* name) {
  auto value = env(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

constexpr long kMaxWorldSize = 1 << 20;

}  // namespace

const char* rendezvous_source_name(RendezvousSource source) {
  switch (source) {
    case RendezvousSource::kNone:
      return "none";
    case RendezvousSource::kTorchrun:
      return "torchrun";
    case RendezvousSource::kSlurm:
      return "slurm";
  }
  return "?";
}

std::string RendezvousInfo::store_address() const { return master_addr + ":" + std::to_string(master_port); }

EnvLookup process_env() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

RendezvousInfo rendezvous_from_env(const EnvLookup& env) {
  RendezvousInfo info;
  const auto rank = non_empty(env, "RANK");
  const auto world_size = non_empty(env, "WORLD_SIZE");
  const auto slurm_procid = non_empty(env, "SLURM_PROCID");
  const auto slurm_ntasks = non_empty(env, "SLURM_NTASKS");
  const auto slurm_localid = non_empty(env, "SLURM_LOCALID");

  if (rank || world_size) {
    if (!rank) throw RendezvousError("WORLD_SIZE is set but RANK is not (set both, as torchrun does)");
    if (!world_size) throw RendezvousError("RANK is set but WORLD_SIZE is not (set both, as torchrun does)");
    info.source = RendezvousSource::kTorchrun;
    info.world_size = static_cast<int>(parse_int("WORLD_SIZE", *world_size, 1, kMaxWorldSize));
    info.rank = static_cast<int>(parse_int("RANK", *rank, 0, info.world_size - 1));
    if (const auto local = non_empty(env, "LOCAL_RANK")) {
      info.local_rank = static_cast<int>(parse_int("LOCAL_RANK", *local, 0, kMaxWorldSize));
    } else if (slurm_localid) {
      info.local_rank = static_cast<int>(parse_int("SLURM_LOCALID", *slurm_localid, 0, kMaxWorldSize));
    }
    info.agent_store = non_empty(env, "TORCHELASTIC_USE_AGENT_STORE").value_or("") == "True";
    if (const auto restarts = non_empty(env, "TORCHELASTIC_RESTART_COUNT"); restarts && info.agent_store) {
      info.restart_count = static_cast<int>(parse_int("TORCHELASTIC_RESTART_COUNT", *restarts, 0, INT_MAX));
    }
  } else if (slurm_procid && slurm_ntasks) {
    const long ntasks = parse_int("SLURM_NTASKS", *slurm_ntasks, 1, kMaxWorldSize);
    if (ntasks == 1) return info;  // a one-task job: nothing to join
    info.source = RendezvousSource::kSlurm;
    info.world_size = static_cast<int>(ntasks);
    info.rank = static_cast<int>(parse_int("SLURM_PROCID", *slurm_procid, 0, ntasks - 1));
    if (slurm_localid) {
      info.local_rank = static_cast<int>(parse_int("SLURM_LOCALID", *slurm_localid, 0, kMaxWorldSize));
    }
  } else if (slurm_procid || slurm_ntasks) {
    throw RendezvousError(std::string(slurm_procid ? "SLURM_PROCID" : "SLURM_NTASKS") + " is set but " +
                          (slurm_procid ? "SLURM_NTASKS" : "SLURM_PROCID") + " is not");
  } else {
    return info;  // kNone
  }
  if (info.world_size == 1) return info;  // a world of one needs no store

  // The store's address.
  if (const auto addr = non_empty(env, "MASTER_ADDR")) {
    info.master_addr = *addr;
  } else if (info.source == RendezvousSource::kSlurm) {
    const auto launch_node = non_empty(env, "SLURM_LAUNCH_NODE_IPADDR");
    if (!launch_node) {
      throw RendezvousError(
          "MASTER_ADDR is not set and neither is SLURM_LAUNCH_NODE_IPADDR: export MASTER_ADDR as the "
          "host of task 0, e.g. MASTER_ADDR=$(scontrol show hostnames \"$SLURM_JOB_NODELIST\" | head -n 1)");
    }
    info.master_addr = *launch_node;
  } else {
    throw RendezvousError("MASTER_ADDR is not set: with WORLD_SIZE=" + std::to_string(info.world_size) +
                          " every rank needs the host of rank 0's store (MASTER_ADDR and MASTER_PORT)");
  }
  if (const auto port = non_empty(env, "MASTER_PORT")) {
    info.master_port = static_cast<std::uint16_t>(parse_int("MASTER_PORT", *port, 1, 65535));
  } else if (info.source == RendezvousSource::kSlurm) {
    const auto job_id = non_empty(env, "SLURM_JOB_ID");
    info.master_port =
        static_cast<std::uint16_t>(job_id ? 20000 + parse_int("SLURM_JOB_ID", *job_id, 0, LONG_MAX) % 10000 : 29500);
  } else {
    throw RendezvousError("MASTER_PORT is not set: with WORLD_SIZE=" + std::to_string(info.world_size) +
                          " every rank needs the port of rank 0's store (MASTER_ADDR and MASTER_PORT)");
  }
  return info;
}

}  // namespace apiary::parallel
