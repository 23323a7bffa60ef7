#!/usr/bin/env bash
# The GPU check of docs/gpu.md: build with CUDA, run the CPU/CUDA agreement tests, benchmark the CUDA
# env back end. Writes logs under $OUT (default: gpu_out/).
set -uo pipefail
out=${OUT:-gpu_out}
mkdir -p "$out"
prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' 2>/dev/null || true)
deps=$(pwd)/.deps/root/usr
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DAPIARY_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90 \
  -DAPIARY_BUILD_BENCH=OFF -DCMAKE_PREFIX_PATH="$prefix;$deps" >"$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
cmake --build build-gpu -j "$(nproc)" --target apiary test_envs test_parallel >"$out/build.log" 2>&1 || { tail -30 "$out/build.log"; exit 1; }
nvidia-smi >"$out/nvidia-smi.txt" 2>&1
build-gpu/apiary doctor | tee "$out/doctor.txt"
build-gpu/tests/envs/test_envs --gtest_filter='*CpuCuda*:*Parity*:*Determinism*' 2>&1 | tee "$out/tests.txt" | tail -5
# Model parallelism with the stages of one rank on the CPU and the GPU (learner.stage_devices).
build-gpu/tests/parallel/test_parallel --gtest_filter='PpoPipeline.StageDevices*' 2>&1 | tee "$out/tests_stage_devices.txt" | tail -5
for n in 65536 1048576 4194304; do
  build-gpu/apiary bench envs --env CartPole-v1 --device cuda --num-envs $n --seconds 1 --repeats 5 | tail -n 1
done | tee "$out/bench_cuda.txt"
# The learner's update on the GPU: fp32 against bf16 and fp16 autocast for a large network (the
# mixed-precision speed-up), and the small PPO network for scale.
for p in fp32 bf16 fp16; do
  build-gpu/apiary bench learner --device cuda --hidden 1024,1024,1024 --batch 4096 --precision $p --seconds 1 --repeats 3
  build-gpu/apiary bench learner --device cuda --hidden 64,64 --batch 256 --precision $p --seconds 1 --repeats 3
done 2>&1 | tee "$out/bench_learner.txt"
