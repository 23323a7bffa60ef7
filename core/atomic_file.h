// Files that are either absent, the old content or the new content, never half-written
// (checkpoints, resolved configs): write a temporary file in the same folder, fsync, rename.
#pragma once

#include <string>
#include <string_view>

namespace apiary::core {

// Replaces (or creates) `path` with `bytes` atomically. The temporary file is
// "<path>.tmp.<pid>.<n>" in the same folder (rename is only atomic within one file system); it
// is removed on failure. The folder must exist. `mode` is the new file's permission bits (0600 for
// secrets: the file never exists with wider ones). Throws std::runtime_error naming the path.
void write_file_atomic(const std::string& path, std::string_view bytes, unsigned mode = 0644);

// The whole content of a file; throws std::runtime_error naming the path.
std::string read_file(const std::string& path);

}  // namespace apiary::core
