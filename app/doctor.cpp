// `apiary doctor`: what a user needs to know before training. What it reports of LibTorch comes from
// runner/ (runner::torch_info), so this file, like the rest of the command line, includes no LibTorch
// header.
#include <link.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "app/commands.h"
#include "core/version.h"
#include "envs/registry.h"
#include "runner/train.h"

namespace apiary::app {

namespace {

std::vector<std::string> loaded_libraries() {
  std::vector<std::string> paths;
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* out) {
        if (info->dlpi_name && info->dlpi_name[0]) static_cast<std::vector<std::string>*>(out)->push_back(info->dlpi_name);
        return 0;
      },
      &paths);
  return paths;
}

struct BlasInfo {
  std::string name;  // openblas, mkl, blis, reference, unknown
  std::string path;  // the shared object actually loaded
};

// Which BLAS the process really runs: Debian's libblas.so.3 is an alternatives link, so resolve it.
BlasInfo detect_blas() {
  BlasInfo info{"unknown", ""};
  for (const auto& lib : loaded_libraries()) {
    char resolved[PATH_MAX];
    const std::string real = realpath(lib.c_str(), resolved) ? std::string(resolved) : lib;
    const bool blas_like = lib.find("blas") != std::string::npos || lib.find("mkl") != std::string::npos ||
                           lib.find("blis") != std::string::npos;
    if (!blas_like) continue;
    if (real.find("openblas") != std::string::npos) return BlasInfo{"openblas", real};
    if (real.find("mkl") != std::string::npos) return BlasInfo{"mkl", real};
    if (real.find("blis") != std::string::npos) return BlasInfo{"blis", real};
    if (real.find("/blas/") != std::string::npos || real.find("libblas.so") != std::string::npos)
      info = BlasInfo{"reference", real};
  }
  return info;
}

double memory_gib() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  long long kib = 0;
  while (meminfo >> key >> kib) {
    if (key == "MemTotal:") return static_cast<double>(kib) / (1024.0 * 1024.0);
    meminfo.ignore(256, '\n');
  }
  return 0.0;
}

void run_doctor() {
  const unsigned cores = std::thread::hardware_concurrency();
  const double mem = memory_gib();
  std::printf("Apiary %s\n", kVersion);
  std::printf("  cores: %u, memory: %.1f GiB\n", cores, mem);
  const runner::TorchInfo torch = runner::torch_info();
  std::printf("  LibTorch %s (intra-op threads %d)\n", torch.version.c_str(), torch.intra_op_threads);
  const BlasInfo blas = detect_blas();
  const double gflops = runner::torch_matmul_gflops();
  std::printf("  BLAS: %s (%s), 512x512 matmul %.1f GFLOP/s\n", blas.name.c_str(),
              blas.path.empty() ? "not found among loaded libraries" : blas.path.c_str(), gflops);
  if (blas.name == "reference")
    std::printf(
        "  WARNING: LibTorch is running on the reference BLAS, about ten times slower than OpenBLAS.\n"
        "           Install it: apt-get install libopenblas0-pthread (Debian picks it via update-alternatives).\n");
  std::printf("  Thrust systems: cpp, omp%s\n", envs::built_with_cuda() ? ", cuda" : "");
  const int env_gpus = envs::cuda_device_count();
  std::printf("  CUDA back end for envs: %s, devices: %d\n", envs::built_with_cuda() ? "built" : "not built", env_gpus);
  const auto gpus = envs::cuda_devices();
  for (std::size_t i = 0; i < gpus.size(); ++i) {
    const envs::CudaDeviceInfo& g = gpus[i];
    std::printf("  GPU %zu: %s, %.1f GiB, compute capability %d.%d, %d multiprocessors, bf16 %s\n", i, g.name.c_str(),
                static_cast<double>(g.memory_bytes) / (1024.0 * 1024.0 * 1024.0), g.major, g.minor, g.multiprocessors,
                g.bf16 ? "yes" : "no (precision: bf16 falls back to fp32)");
  }
  if (!envs::built_with_cuda())
    std::printf("  GPUs: not known to this build (no CUDA runtime in it); nvidia-smi lists them\n");
  else if (gpus.empty())
    std::printf("  GPUs: none visible to the CUDA runtime\n");
  const bool torch_cuda = torch.cuda_available;
  std::printf("  LibTorch CUDA: %s (%d devices)%s\n", torch_cuda ? "available" : "not available", torch.cuda_devices,
              torch_cuda ? "" : runner::libtorch_built_with_cuda() ? ": built with CUDA, but sees no GPU"
                                                                    : ": this LibTorch is CPU-only (device: cuda needs a CUDA LibTorch)");
  std::printf("cores: %u memory_gib: %.1f torch: %s blas: %s matmul_gflops: %.1f cuda_devices: %d\n", cores, mem,
              torch.version.c_str(), blas.name.c_str(), gflops, env_gpus);
}

}  // namespace

void add_doctor_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("doctor", "Report cores, memory, LibTorch, BLAS and CUDA devices");
  cmd->callback([] { run_doctor(); });
}

}  // namespace apiary::app
