// The command line includes no LibTorch header (docs/architecture.md, "Build time"): its files compile
// as one batch in about 40 s, where each that included LibTorch took 40-46 s alone instantiating
// templates it never used. Compiled last in app/'s batch (APIARY_UNITY_BUILD), this part fails the
// build when an earlier file of the batch brought LibTorch in, directly or through a library header.
#ifdef C10_MACROS_MACROS_H_
#error "app/: a command includes a LibTorch header (directly or through a library header); reach what it needs through a LibTorch-free declaration in runner/ or learner/ (runner/train.h, learner/update_bench.h)"
#endif
