// Node entry point of the optional galaxy_native addon. It only converts
// between C++ results and JavaScript values; the socket work lives in the
// other files so the future UDP transport can share it.
#include <napi.h>

#include <cstdint>

#include "capabilities.h"
#include "error_queue_probe.h"
#include "gcm_keyring.h"
#include "udp_socket.h"

namespace {

Napi::Value Capabilities(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const galaxy::PlatformCapabilities capabilities = galaxy::probePlatformCapabilities();

  Napi::Object result = Napi::Object::New(env);
  result.Set("addonVersion", Napi::Number::New(env, galaxy::kAddonVersion));
  result.Set("platform", Napi::String::New(env, capabilities.platform));
  result.Set("ipRecvErr", Napi::Boolean::New(env, capabilities.ipRecvErr));
  result.Set("ipv6RecvErr", Napi::Boolean::New(env, capabilities.ipv6RecvErr));
  result.Set("recvmmsg", Napi::Boolean::New(env, capabilities.recvmmsg));
  result.Set("sendmmsg", Napi::Boolean::New(env, capabilities.sendmmsg));
  result.Set("errQueue", Napi::Boolean::New(env, capabilities.errQueue));
  result.Set("soTimestampNs", Napi::Boolean::New(env, capabilities.soTimestampNs));

  Napi::Array reasons = Napi::Array::New(env, capabilities.reasons.size());
  for (std::size_t index = 0; index < capabilities.reasons.size(); ++index) {
    reasons.Set(static_cast<std::uint32_t>(index), Napi::String::New(env, capabilities.reasons[index]));
  }
  result.Set("reasons", reasons);
  return result;
}

// probeErrQueue(ipv6: boolean, closedPort?: number). Bad arguments throw a
// TypeError; socket failures are reported as { ok: false, reason }.
Napi::Value ProbeErrQueue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBoolean()) {
    throw Napi::TypeError::New(env, "probeErrQueue(ipv6, closedPort?): ipv6 must be a boolean");
  }
  const bool ipv6 = info[0].As<Napi::Boolean>().Value();

  std::uint16_t closedPort = 0;
  if (info.Length() >= 2 && !info[1].IsUndefined()) {
    const double requested = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    if (!(requested >= 1 && requested <= 65535) || requested != static_cast<int>(requested)) {
      throw Napi::RangeError::New(
          env, "probeErrQueue(ipv6, closedPort?): closedPort must be an integer in 1..65535");
    }
    closedPort = static_cast<std::uint16_t>(requested);
  }

  const galaxy::ErrorQueueProbeResult probe = galaxy::probeErrorQueue(ipv6, closedPort);
  Napi::Object result = Napi::Object::New(env);
  result.Set("ok", Napi::Boolean::New(env, probe.ok));
  if (!probe.ok) {
    result.Set("reason", Napi::String::New(env, probe.reason));
    return result;
  }
  const galaxy::ErrorQueueRecord& record = probe.record;
  result.Set("errno", Napi::Number::New(env, record.errorNumber));
  result.Set("origin", Napi::String::New(env, galaxy::errorOriginName(record.origin)));
  result.Set("icmpType", Napi::Number::New(env, record.icmpType));
  result.Set("icmpCode", Napi::Number::New(env, record.icmpCode));
  result.Set("address", Napi::String::New(env, record.hasDestination ? record.destinationAddress : ""));
  result.Set("port", Napi::Number::New(env, record.hasDestination ? record.destinationPort : 0));
  result.Set("offender", Napi::String::New(env, record.hasOffender ? record.offenderAddress : ""));
  result.Set("elapsedUs", Napi::Number::New(env, static_cast<double>(probe.elapsedMicroseconds)));
  return result;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("addonVersion", Napi::Number::New(env, galaxy::kAddonVersion));
  exports.Set("capabilities", Napi::Function::New(env, Capabilities, "capabilities"));
  exports.Set("probeErrQueue", Napi::Function::New(env, ProbeErrQueue, "probeErrQueue"));
  exports.Set("UdpSocket", galaxy::defineUdpSocketClass(env));
  exports.Set("GcmKeyring", galaxy::defineGcmKeyringClass(env));
  return exports;
}

}  // namespace

NODE_API_MODULE(galaxy_native, Init)
