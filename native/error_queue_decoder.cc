#include "error_queue_decoder.h"

#include "socket_address.h"

#include <netinet/in.h>

#include <cstring>

#ifdef __linux__
#include <linux/errqueue.h>
#endif

namespace galaxy {

#ifdef __linux__

bool decodeErrorQueueMessage(const msghdr& message, ErrorQueueRecord& record) {
  // CMSG_NXTHDR takes a mutable header even though it only reads it.
  msghdr& header = const_cast<msghdr&>(message);
  for (cmsghdr* control = CMSG_FIRSTHDR(&header); control != nullptr;
       control = CMSG_NXTHDR(&header, control)) {
    const bool ipv4Error = control->cmsg_level == IPPROTO_IP && control->cmsg_type == IP_RECVERR;
    const bool ipv6Error =
        control->cmsg_level == IPPROTO_IPV6 && control->cmsg_type == IPV6_RECVERR;
    if (!ipv4Error && !ipv6Error) continue;
    if (control->cmsg_len < CMSG_LEN(sizeof(sock_extended_err))) continue;

    // Copying avoids unaligned access to the control buffer.
    sock_extended_err extended;
    std::memcpy(&extended, CMSG_DATA(control), sizeof(extended));
    record.errorNumber = static_cast<int>(extended.ee_errno);
    record.origin = extended.ee_origin;
    record.icmpType = extended.ee_type;
    record.icmpCode = extended.ee_code;
    record.info = extended.ee_info;

    // The kernel appends the offender's address right after the struct
    // (SO_EE_OFFENDER); it is AF_UNSPEC when the error was generated locally.
    const std::size_t payloadLength = control->cmsg_len - CMSG_LEN(0);
    if (payloadLength > sizeof(sock_extended_err)) {
      sockaddr_storage offender;
      std::memset(&offender, 0, sizeof(offender));
      std::size_t offenderLength = payloadLength - sizeof(sock_extended_err);
      if (offenderLength > sizeof(offender)) offenderLength = sizeof(offender);
      std::memcpy(&offender, CMSG_DATA(control) + sizeof(sock_extended_err), offenderLength);
      std::uint16_t ignoredPort = 0;
      record.hasOffender =
          describeSocketAddress(reinterpret_cast<const sockaddr*>(&offender),
                                static_cast<socklen_t>(offenderLength), record.offenderAddress,
                                ignoredPort);
    }

    // For an error-queue read, msg_name is the destination of the datagram
    // that failed, which is the peer the transport must blame.
    record.hasDestination =
        describeSocketAddress(static_cast<const sockaddr*>(message.msg_name), message.msg_namelen,
                              record.destinationAddress, record.destinationPort);
    return true;
  }
  return false;
}

const char* errorOriginName(std::uint8_t origin) {
  switch (origin) {
    case SO_EE_ORIGIN_NONE:
      return "none";
    case SO_EE_ORIGIN_LOCAL:
      return "local";
    case SO_EE_ORIGIN_ICMP:
      return "icmp";
    case SO_EE_ORIGIN_ICMP6:
      return "icmp6";
    case SO_EE_ORIGIN_TXSTATUS:  // same value as SO_EE_ORIGIN_TIMESTAMPING
      return "timestamping";
#ifdef SO_EE_ORIGIN_ZEROCOPY
    case SO_EE_ORIGIN_ZEROCOPY:
      return "zerocopy";
#endif
#ifdef SO_EE_ORIGIN_TXTIME
    case SO_EE_ORIGIN_TXTIME:
      return "txtime";
#endif
    default:
      return "unknown";
  }
}

#else  // !__linux__

bool decodeErrorQueueMessage(const msghdr&, ErrorQueueRecord&) { return false; }

const char* errorOriginName(std::uint8_t) { return "unknown"; }

#endif

}  // namespace galaxy
