// Decodes one message read with recvmsg(MSG_ERRQUEUE). Kept free of sockets and
// of Node so the UDP transport can reuse it on every error-queue read.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace galaxy {

struct ErrorQueueRecord {
  int errorNumber = 0;            // ee_errno, for example ECONNREFUSED
  std::uint8_t origin = 0;        // ee_origin, one of SO_EE_ORIGIN_*
  std::uint8_t icmpType = 0;      // ee_type
  std::uint8_t icmpCode = 0;      // ee_code
  std::uint32_t info = 0;         // ee_info, the MTU for "fragmentation needed"
  bool hasDestination = false;    // msg_name held the datagram's original destination
  std::string destinationAddress;
  std::uint16_t destinationPort = 0;
  bool hasOffender = false;       // the node that generated the ICMP error
  std::string offenderAddress;
};

// Returns false when the message carries no IP_RECVERR / IPV6_RECVERR control
// message, which means it is not an extended socket error.
bool decodeErrorQueueMessage(const msghdr& message, ErrorQueueRecord& record);

// Maps SO_EE_ORIGIN_* to the names reported to JavaScript.
const char* errorOriginName(std::uint8_t origin);

}  // namespace galaxy
