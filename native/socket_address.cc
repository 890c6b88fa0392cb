#include "socket_address.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace galaxy {

bool describeSocketAddress(const sockaddr* address, socklen_t length, std::string& text,
                           std::uint16_t& port) {
  if (address == nullptr || length < static_cast<socklen_t>(sizeof(sa_family_t))) {
    return false;
  }
  char buffer[INET6_ADDRSTRLEN] = {0};
  if (address->sa_family == AF_INET && length >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    sockaddr_in ipv4;
    std::memcpy(&ipv4, address, sizeof(ipv4));
    if (inet_ntop(AF_INET, &ipv4.sin_addr, buffer, sizeof(buffer)) == nullptr) return false;
    text = buffer;
    port = ntohs(ipv4.sin_port);
    return true;
  }
  if (address->sa_family == AF_INET6 && length >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    sockaddr_in6 ipv6;
    std::memcpy(&ipv6, address, sizeof(ipv6));
    if (inet_ntop(AF_INET6, &ipv6.sin6_addr, buffer, sizeof(buffer)) == nullptr) return false;
    text = buffer;
    port = ntohs(ipv6.sin6_port);
    return true;
  }
  return false;
}

socklen_t makeLoopbackAddress(bool ipv6, std::uint16_t port, sockaddr_storage& storage) {
  std::memset(&storage, 0, sizeof(storage));
  if (ipv6) {
    auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
    address->sin6_family = AF_INET6;
    address->sin6_addr = in6addr_loopback;
    address->sin6_port = htons(port);
    return sizeof(sockaddr_in6);
  }
  auto* address = reinterpret_cast<sockaddr_in*>(&storage);
  address->sin_family = AF_INET;
  address->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address->sin_port = htons(port);
  return sizeof(sockaddr_in);
}

std::string describeErrno(int errorNumber) {
  return std::string(std::strerror(errorNumber)) + " (errno " + std::to_string(errorNumber) + ")";
}

}  // namespace galaxy
