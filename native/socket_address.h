// Helpers that turn socket addresses into printable text and build loopback
// addresses, shared by the probes now and by the UDP transport later.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

// Close-on-exec is requested atomically where the platform allows it; other
// platforms simply skip the flag because the probes never fork.
#ifndef SOCK_CLOEXEC
#define SOCK_CLOEXEC 0
#endif

namespace galaxy {

// Returns false when the family is neither AF_INET nor AF_INET6 or the length
// is too short to hold the address it claims to be.
bool describeSocketAddress(const sockaddr* address, socklen_t length, std::string& text,
                           std::uint16_t& port);

// Fills storage with 127.0.0.1 or ::1 and the given port (host byte order).
socklen_t makeLoopbackAddress(bool ipv6, std::uint16_t port, sockaddr_storage& storage);

// strerror is wrapped so callers build reason strings in one place.
std::string describeErrno(int errorNumber);

}  // namespace galaxy
