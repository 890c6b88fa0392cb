// Reports which Linux socket features Galaxy's UDP transport can rely on. A
// feature counts only if its constant existed at compile time and a runtime
// probe on this kernel succeeded, because containers and seccomp filters can
// disable features the headers advertise.
#pragma once

#include <string>
#include <vector>

namespace galaxy {

// Bumped whenever the JavaScript-visible shape of the addon changes, so the
// loader can reject a stale build left over from an older version.
constexpr int kAddonVersion = 1;

struct PlatformCapabilities {
  const char* platform = "unknown";
  bool ipRecvErr = false;
  bool ipv6RecvErr = false;
  bool recvmmsg = false;
  bool sendmmsg = false;
  bool errQueue = false;
  bool soTimestampNs = false;
  std::vector<std::string> reasons;  // one entry per capability that is false
};

PlatformCapabilities probePlatformCapabilities();

}  // namespace galaxy
