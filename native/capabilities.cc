#include "capabilities.h"

#include "scoped_socket.h"
#include "socket_address.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace galaxy {

namespace {

const char* compiledPlatformName() {
#if defined(__linux__)
  return "linux";
#elif defined(__APPLE__)
  return "darwin";
#elif defined(_WIN32)
  return "win32";
#elif defined(__FreeBSD__)
  return "freebsd";
#else
  return "unknown";
#endif
}

// Sets an integer socket option to 1 on a fresh UDP socket of the given family.
bool probeSocketOption(int family, const char* familyLabel, int level, int option,
                       const char* capability, const char* optionLabel,
                       std::vector<std::string>& reasons) {
  ScopedSocket probe(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!probe.valid()) {
    reasons.push_back(std::string(capability) + ": socket(" + familyLabel +
                      ", SOCK_DGRAM) failed: " + describeErrno(errno));
    return false;
  }
  const int enable = 1;
  if (::setsockopt(probe.get(), level, option, &enable, sizeof(enable)) != 0) {
    reasons.push_back(std::string(capability) + ": setsockopt(" + optionLabel +
                      ") failed: " + describeErrno(errno));
    return false;
  }
  return true;
}

#ifdef __linux__
// A bound UDP socket on 127.0.0.1 with nothing queued, so receive probes see
// EAGAIN when the syscall works and ENOSYS when a filter blocks it.
ScopedSocket openBoundLoopbackSocket(const char* capability, std::vector<std::string>& reasons) {
  ScopedSocket probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe.valid()) {
    reasons.push_back(std::string(capability) +
                      ": socket(AF_INET, SOCK_DGRAM) failed: " + describeErrno(errno));
    return probe;
  }
  sockaddr_storage address;
  const socklen_t length = makeLoopbackAddress(false, 0, address);
  if (::bind(probe.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    reasons.push_back(std::string(capability) + ": bind(127.0.0.1:0) failed: " +
                      describeErrno(errno));
    probe.reset();
  }
  return probe;
}

bool probeReceiveMultiple(std::vector<std::string>& reasons) {
  ScopedSocket probe = openBoundLoopbackSocket("recvmmsg", reasons);
  if (!probe.valid()) return false;
  unsigned char buffer[16];
  iovec vector = {buffer, sizeof(buffer)};
  mmsghdr message;
  std::memset(&message, 0, sizeof(message));
  message.msg_hdr.msg_iov = &vector;
  message.msg_hdr.msg_iovlen = 1;
  const int received = ::recvmmsg(probe.get(), &message, 1, MSG_DONTWAIT, nullptr);
  if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
  if (received < 0) {
    reasons.push_back(std::string("recvmmsg: expected EAGAIN on an empty socket, got ") +
                      describeErrno(errno));
  } else {
    reasons.push_back("recvmmsg: an empty socket unexpectedly returned " +
                      std::to_string(received) + " messages");
  }
  return false;
}

// Sending zero messages exercises the syscall entry (and any seccomp filter)
// without putting a datagram on the wire.
bool probeSendMultiple(std::vector<std::string>& reasons) {
  ScopedSocket probe = openBoundLoopbackSocket("sendmmsg", reasons);
  if (!probe.valid()) return false;
  mmsghdr message;
  std::memset(&message, 0, sizeof(message));
  const int sent = ::sendmmsg(probe.get(), &message, 0, MSG_DONTWAIT);
  if (sent == 0) return true;
  if (sent < 0) {
    reasons.push_back(std::string("sendmmsg: zero-length call failed: ") + describeErrno(errno));
  } else {
    reasons.push_back("sendmmsg: zero-length call unexpectedly returned " + std::to_string(sent));
  }
  return false;
}

// An empty error queue must answer EAGAIN; EINVAL or ENOSYS means the kernel
// or a filter does not support MSG_ERRQUEUE reads.
bool probeErrorQueueRead(std::vector<std::string>& reasons) {
  ScopedSocket probe(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe.valid()) {
    reasons.push_back(std::string("errQueue: socket(AF_INET, SOCK_DGRAM) failed: ") +
                      describeErrno(errno));
    return false;
  }
  const int enable = 1;
  if (::setsockopt(probe.get(), IPPROTO_IP, IP_RECVERR, &enable, sizeof(enable)) != 0) {
    reasons.push_back(std::string("errQueue: setsockopt(IP_RECVERR) failed: ") +
                      describeErrno(errno));
    return false;
  }
  unsigned char buffer[16];
  iovec vector = {buffer, sizeof(buffer)};
  alignas(cmsghdr) unsigned char control[256];
  msghdr message;
  std::memset(&message, 0, sizeof(message));
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  const ssize_t received = ::recvmsg(probe.get(), &message, MSG_ERRQUEUE | MSG_DONTWAIT);
  if (received < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
  if (received < 0) {
    reasons.push_back(std::string("errQueue: expected EAGAIN from an empty error queue, got ") +
                      describeErrno(errno));
  } else {
    reasons.push_back("errQueue: an empty error queue unexpectedly returned data");
  }
  return false;
}
#endif  // __linux__

}  // namespace

PlatformCapabilities probePlatformCapabilities() {
  PlatformCapabilities capabilities;
  capabilities.platform = compiledPlatformName();
  std::vector<std::string>& reasons = capabilities.reasons;

#ifdef IP_RECVERR
  capabilities.ipRecvErr = probeSocketOption(AF_INET, "AF_INET", IPPROTO_IP, IP_RECVERR,
                                             "ipRecvErr", "IP_RECVERR", reasons);
#else
  reasons.push_back("ipRecvErr: IP_RECVERR is not defined by this platform's headers");
#endif

#ifdef IPV6_RECVERR
  capabilities.ipv6RecvErr = probeSocketOption(AF_INET6, "AF_INET6", IPPROTO_IPV6, IPV6_RECVERR,
                                               "ipv6RecvErr", "IPV6_RECVERR", reasons);
#else
  reasons.push_back("ipv6RecvErr: IPV6_RECVERR is not defined by this platform's headers");
#endif

#ifdef __linux__
  capabilities.recvmmsg = probeReceiveMultiple(reasons);
  capabilities.sendmmsg = probeSendMultiple(reasons);
#else
  reasons.push_back("recvmmsg: only used on Linux");
  reasons.push_back("sendmmsg: only used on Linux");
#endif

#if defined(__linux__) && defined(MSG_ERRQUEUE) && defined(IP_RECVERR)
  capabilities.errQueue = probeErrorQueueRead(reasons);
#else
  reasons.push_back("errQueue: MSG_ERRQUEUE is not available on this platform");
#endif

#ifdef SO_TIMESTAMPNS
  capabilities.soTimestampNs = probeSocketOption(AF_INET, "AF_INET", SOL_SOCKET, SO_TIMESTAMPNS,
                                                 "soTimestampNs", "SO_TIMESTAMPNS", reasons);
#else
  reasons.push_back("soTimestampNs: SO_TIMESTAMPNS is not defined by this platform's headers");
#endif

  return capabilities;
}

}  // namespace galaxy
