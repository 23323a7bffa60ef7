// The translation unit that apiary_torch_pch compiles its precompiled <torch/torch.h> with (top
// CMakeLists.txt); the libraries reuse that header. Nothing of it is linked.
