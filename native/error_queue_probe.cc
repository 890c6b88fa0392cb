#include "error_queue_probe.h"

#include "scoped_socket.h"
#include "socket_address.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace galaxy {

namespace {

// Long enough for loopback ICMP (microseconds in practice) yet short enough
// that a doctor run does not appear to hang when ICMP is filtered.
constexpr int kPollTimeoutMilliseconds = 200;

ErrorQueueProbeResult failure(std::string reason) {
  ErrorQueueProbeResult result;
  result.ok = false;
  result.reason = std::move(reason);
  return result;
}

const char* familyName(bool ipv6) { return ipv6 ? "AF_INET6" : "AF_INET"; }

#ifdef __linux__
// A port that was bound a moment ago and then released is very likely closed,
// which is the simplest portable way to find a port nobody listens on.
bool findClosedLoopbackPort(bool ipv6, std::uint16_t& port, std::string& reason) {
  ScopedSocket placeholder(::socket(ipv6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!placeholder.valid()) {
    reason = std::string("socket(") + familyName(ipv6) + ") for the closed port failed: " +
             describeErrno(errno);
    return false;
  }
  sockaddr_storage address;
  socklen_t length = makeLoopbackAddress(ipv6, 0, address);
  if (::bind(placeholder.get(), reinterpret_cast<sockaddr*>(&address), length) != 0) {
    reason = std::string("bind() for the closed port failed: ") + describeErrno(errno);
    return false;
  }
  length = sizeof(address);
  if (::getsockname(placeholder.get(), reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    reason = std::string("getsockname() for the closed port failed: ") + describeErrno(errno);
    return false;
  }
  std::string ignoredText;
  if (!describeSocketAddress(reinterpret_cast<sockaddr*>(&address), length, ignoredText, port)) {
    reason = "getsockname() returned an unexpected address family";
    return false;
  }
  return true;
}
#endif

}  // namespace

#ifdef __linux__

ErrorQueueProbeResult probeErrorQueue(bool ipv6, std::uint16_t closedPort) {
  const int family = ipv6 ? AF_INET6 : AF_INET;
  ScopedSocket sender(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!sender.valid()) {
    return failure(std::string("socket(") + familyName(ipv6) +
                   ", SOCK_DGRAM) failed: " + describeErrno(errno));
  }

  const int enable = 1;
  const int level = ipv6 ? IPPROTO_IPV6 : IPPROTO_IP;
  const int option = ipv6 ? IPV6_RECVERR : IP_RECVERR;
  if (::setsockopt(sender.get(), level, option, &enable, sizeof(enable)) != 0) {
    return failure(std::string(ipv6 ? "setsockopt(IPV6_RECVERR)" : "setsockopt(IP_RECVERR)") +
                   " failed: " + describeErrno(errno));
  }

  sockaddr_storage local;
  socklen_t localLength = makeLoopbackAddress(ipv6, 0, local);
  if (::bind(sender.get(), reinterpret_cast<sockaddr*>(&local), localLength) != 0) {
    return failure(std::string("bind() to the ") + (ipv6 ? "::1" : "127.0.0.1") +
                   " loopback failed: " + describeErrno(errno));
  }

  if (closedPort == 0) {
    std::string reason;
    if (!findClosedLoopbackPort(ipv6, closedPort, reason)) return failure(reason);
  }

  sockaddr_storage destination;
  const socklen_t destinationLength = makeLoopbackAddress(ipv6, closedPort, destination);
  const unsigned char payload = 0x47;

  const auto started = std::chrono::steady_clock::now();
  if (::sendto(sender.get(), &payload, sizeof(payload), 0,
               reinterpret_cast<sockaddr*>(&destination), destinationLength) < 0) {
    return failure(std::string("sendto() failed: ") + describeErrno(errno));
  }

  // POLLERR is always reported, so no events are requested; EINTR restarts
  // the wait with whatever time is left.
  const auto deadline = started + std::chrono::milliseconds(kPollTimeoutMilliseconds);
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    const auto remaining =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
    if (remaining < 0) {
      return failure("no error-queue message within 200 ms (is ICMP filtered or rate limited?)");
    }
    pollfd waiting = {sender.get(), 0, 0};
    const int ready = ::poll(&waiting, 1, static_cast<int>(remaining) + 1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      return failure(std::string("poll() failed: ") + describeErrno(errno));
    }
    if (ready == 0) {
      return failure("no error-queue message within 200 ms (is ICMP filtered or rate limited?)");
    }
    if (waiting.revents & POLLERR) break;
  }
  const auto signalled = std::chrono::steady_clock::now();

  sockaddr_storage offendingDestination;
  std::memset(&offendingDestination, 0, sizeof(offendingDestination));
  unsigned char returnedPayload[64];
  iovec vector = {returnedPayload, sizeof(returnedPayload)};
  alignas(cmsghdr) unsigned char control[512];
  msghdr message;
  std::memset(&message, 0, sizeof(message));
  message.msg_name = &offendingDestination;
  message.msg_namelen = sizeof(offendingDestination);
  message.msg_iov = &vector;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);

  ssize_t received;
  do {
    received = ::recvmsg(sender.get(), &message, MSG_ERRQUEUE | MSG_DONTWAIT);
  } while (received < 0 && errno == EINTR);
  if (received < 0) {
    return failure(std::string("recvmsg(MSG_ERRQUEUE) failed: ") + describeErrno(errno));
  }
  if (message.msg_flags & MSG_CTRUNC) {
    return failure("recvmsg(MSG_ERRQUEUE) truncated the control data");
  }

  ErrorQueueProbeResult result;
  if (!decodeErrorQueueMessage(message, result.record)) {
    return failure("the error-queue message carried no IP_RECVERR/IPV6_RECVERR control message");
  }
  result.ok = true;
  result.elapsedMicroseconds =
      std::chrono::duration_cast<std::chrono::microseconds>(signalled - started).count();
  return result;
}

#else  // !__linux__

ErrorQueueProbeResult probeErrorQueue(bool, std::uint16_t) {
  return failure("the socket error queue (MSG_ERRQUEUE) is only available on Linux");
}

#endif

}  // namespace galaxy
