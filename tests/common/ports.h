// Free TCP ports on 127.0.0.1 for tests that bind a learner over tcp. A port derived from the pid is
// not enough: tests run side by side (ctest -j), pids are consecutive, and a learner binds three
// consecutive ports (control, data, weights).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>

namespace apiary::testing {

// Three consecutive ports that were free a moment ago (control, data, weights); 0 when none were found.
inline int free_port_triple() {
  for (int attempt = 0; attempt < 50; ++attempt) {
    int fds[3] = {-1, -1, -1};
    int base = 0;
    bool ok = true;
    for (int i = 0; i < 3 && ok; ++i) {
      fds[i] = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      a.sin_port = htons(static_cast<std::uint16_t>(i == 0 ? 0 : base + i));
      ok = fds[i] >= 0 && ::bind(fds[i], reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
      if (ok && i == 0) {
        socklen_t len = sizeof(a);
        ::getsockname(fds[0], reinterpret_cast<sockaddr*>(&a), &len);
        base = ntohs(a.sin_port);
        ok = base <= 65533;
      }
    }
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
    if (ok) return base;
  }
  return 0;
}

}  // namespace apiary::testing
