// The classic-control suite on the host, through Thrust's OpenMP and C++ systems. Compiled twice:
// for the baseline instruction set, and (classic_cpu_avx2.cpp) with AVX2, chosen at run time. Both
// give the same bits: there is no FMA contraction, and every operation is IEEE-exact either way.
#include "envs/classic/classic.h"
#include "envs/cpu_system.h"
#include "envs/thrust_vec_env.h"

#ifndef APIARY_CPU_ISA
#define APIARY_CPU_ISA 0
#define APIARY_REGISTER_CLASSIC_CPU register_classic_cpu_baseline
#endif

namespace apiary::envs {

void APIARY_REGISTER_CLASSIC_CPU(Registry& registry) { register_classic<CpuSystemT<APIARY_CPU_ISA>>(registry); }

}  // namespace apiary::envs
