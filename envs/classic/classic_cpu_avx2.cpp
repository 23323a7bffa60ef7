// classic_cpu.cpp built with AVX2 (see CMakeLists.txt); registered where the CPU has it.
#define APIARY_CPU_ISA 1
#define APIARY_REGISTER_CLASSIC_CPU register_classic_cpu_avx2
#include "envs/classic/classic_cpu.cpp"
