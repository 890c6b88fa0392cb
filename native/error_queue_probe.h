// A self-contained experiment proving that the kernel delivers ICMP errors to
// the socket error queue and that errorQueueDecoder reads them correctly.
#pragma once

#include <cstdint>
#include <string>

#include "error_queue_decoder.h"

namespace galaxy {

struct ErrorQueueProbeResult {
  bool ok = false;
  std::string reason;  // set when ok is false
  ErrorQueueRecord record;
  std::int64_t elapsedMicroseconds = 0;  // from sendto() until POLLERR
};

// Sends one byte to a closed loopback UDP port and reads the resulting ICMP
// "port unreachable" from the error queue. A closedPort of 0 asks the probe to
// find a free port itself. Never throws for socket failures; they become reason.
ErrorQueueProbeResult probeErrorQueue(bool ipv6, std::uint16_t closedPort);

}  // namespace galaxy
