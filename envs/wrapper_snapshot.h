// The snapshot of an env that wraps another (frame_stack.h, observation_select.h, pixels.h): a header
// (the wrapper's magic, a number naming its layout, the inner snapshot's size), the inner env's
// snapshot, then the wrapper's own buffers in order. A snapshot of another wrapper, layout or size is
// refused before anything is restored.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

namespace apiary::envs {

std::vector<std::uint8_t> wrap_snapshot(std::uint64_t magic, std::uint64_t layout, const std::vector<std::uint8_t>& inner,
                                        std::initializer_list<const std::vector<std::uint8_t>*> own = {});

// Restores such a snapshot: checks the header and sizes, calls load_inner with the inner env's bytes,
// then fills the wrapper's `own` buffers (each keeps its size). Throws std::invalid_argument
// "`what`: REASON" before anything is restored: "it ends early", `other_layout` (another wrapper or
// layout), or "its size does not match"; what load_inner throws goes through, the own buffers untouched.
void unwrap_snapshot(const std::vector<std::uint8_t>& bytes, std::uint64_t magic, std::uint64_t layout,
                     std::initializer_list<std::vector<std::uint8_t>*> own, const std::string& what,
                     const std::string& other_layout,
                     const std::function<void(const std::vector<std::uint8_t>& inner)>& load_inner);

}  // namespace apiary::envs
