// The UdpSocket class declared in udp_socket.h.
//
// JavaScript contract (src/native/native-udp-socket.ts wraps it with types):
//
//   new UdpSocket({ host, port, ipv6, recvBatch?, slotBytes?, sendBatch?, socketBufferBytes? },
//                 onMessages(count, buffer, lengths, sources),
//                 onErrors(records))
//
//   Datagram k of a batch is buffer[k * slotBytes, k * slotBytes + lengths[k]) and came
//   from sources[k] ("a.b.c.d:port" or "[v6]:port"). buffer, lengths and sources are
//   allocated once and reused by the next batch, so they are valid only during the
//   callback (sources may hold more than count elements); a peer's text is the same
//   string every time (sourceText).
//
//   queue(address, data, offset, length) -> boolean   copy into the send batch
//   flush() -> number                                  sendmmsg the batch; datagrams sent
//   stats() -> counters                                also after close()
//   close()                                            idempotent
//   ref() / unref()                                    whether the socket keeps the loop alive
//   receiveBuffer, localAddress, closed, kernelBufferBytes
//
// Bad arguments are bugs and throw TypeError/RangeError; operating failures (a bad
// destination, an oversized datagram, a full send buffer) are counted in stats() and
// never thrown; every thrown error carries a stable `code`.
//
// An exception thrown by onMessages or onErrors has no JavaScript caller to return to
// (they run from the libuv poll callback), so it is handed to napi_fatal_exception and
// reported exactly like an exception thrown by a node:dgram 'message' listener: through
// process 'uncaughtException', which ends the process unless a handler is installed.
#include "udp_socket.h"

#include <cstdint>
#include <string>

#ifdef __linux__
#include <arpa/inet.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#endif

#include "socket_address.h"

namespace galaxy {

namespace {

// Codes of the errors thrown to JavaScript. They are part of the interface and
// mirrored in src/native/native-udp-socket.ts: ONLY APPEND, never rename.
constexpr const char* kCodeBadOptions = "GALAXY_NATIVE_BAD_OPTIONS";
constexpr const char* kCodeBadArgument = "GALAXY_NATIVE_BAD_ARGUMENT";
constexpr const char* kCodeBadAddress = "GALAXY_NATIVE_BAD_ADDRESS";
constexpr const char* kCodeSocket = "GALAXY_NATIVE_SOCKET";
constexpr const char* kCodeBind = "GALAXY_NATIVE_BIND";
constexpr const char* kCodePoll = "GALAXY_NATIVE_POLL";
constexpr const char* kCodeClosed = "GALAXY_NATIVE_CLOSED";
constexpr const char* kCodeUnsupported = "GALAXY_NATIVE_UNSUPPORTED";

template <typename ErrorType>
ErrorType codedError(Napi::Env env, const char* code, const std::string& message) {
  ErrorType error = ErrorType::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

// An operating-system failure: the message names the call, and errno/syscall
// are attached so callers can branch on them without parsing text.
Napi::Error systemError(Napi::Env env, const char* code, const char* syscall, int errorNumber,
                        const std::string& context) {
  Napi::Error error =
      codedError<Napi::Error>(env, code, context + ": " + syscall + " failed: " + describeErrno(errorNumber));
  error.Set("errno", Napi::Number::New(env, errorNumber));
  error.Set("syscall", Napi::String::New(env, syscall));
  return error;
}

}  // namespace

#ifdef __linux__

namespace {

// libuv 1.46 (Node 20) treats POLLERR without POLLPRI as fatal for a uv_poll_t:
// it stops the handle and calls back with UV_EBADF. A queued ICMP error makes
// epoll report a bare EPOLLERR, and libuv's Linux backend then merges in the
// watched POLLIN and POLLPRI, so asking for UV_PRIORITIZED turns that wake-up
// into an ordinary READABLE | PRIORITIZED one. When data and an error are
// pending together (EPOLLIN | EPOLLERR) nothing is merged and libuv still takes
// the UV_EBADF path; serviceWakeUp re-arms the handle then. UV_DISCONNECT
// never fires for UDP and is requested only so a future stream use is covered.
constexpr int kPollEvents = UV_READABLE | UV_DISCONNECT | UV_PRIORITIZED;


std::uint32_t readIntegerOption(const Napi::Object& options, const char* name, std::uint32_t fallback,
                                std::uint32_t minimum, std::uint32_t maximum) {
  Napi::Env env = options.Env();
  const Napi::Value value = options.Get(name);
  if (value.IsUndefined()) return fallback;
  const double number = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(number >= minimum && number <= maximum) || number != std::floor(number)) {
    throw codedError<Napi::RangeError>(env, kCodeBadOptions,
                                       std::string("options.") + name + " must be an integer in " +
                                           std::to_string(minimum) + ".." + std::to_string(maximum));
  }
  return static_cast<std::uint32_t>(number);
}

// Strict decimal 1..65535; canonical addresses never carry port 0.
bool parsePort(const char* text, std::size_t length, std::uint16_t& port) {
  if (length == 0 || length > 5) return false;
  std::uint32_t value = 0;
  for (std::size_t index = 0; index < length; ++index) {
    if (text[index] < '0' || text[index] > '9') return false;
    value = value * 10 + static_cast<std::uint32_t>(text[index] - '0');
  }
  if (value == 0 || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

socklen_t makeIpv4Address(const in_addr& host, std::uint16_t port, sockaddr_storage& storage) {
  std::memset(&storage, 0, sizeof(storage));
  auto* address = reinterpret_cast<sockaddr_in*>(&storage);
  address->sin_family = AF_INET;
  address->sin_addr = host;
  address->sin_port = htons(port);
  return sizeof(sockaddr_in);
}

socklen_t makeIpv6Address(const in6_addr& host, std::uint16_t port, sockaddr_storage& storage) {
  std::memset(&storage, 0, sizeof(storage));
  auto* address = reinterpret_cast<sockaddr_in6*>(&storage);
  address->sin6_family = AF_INET6;
  address->sin6_addr = host;
  address->sin6_port = htons(port);
  return sizeof(sockaddr_in6);
}

// Parses the canonical "a.b.c.d:port" or "[v6]:port". A dual-stack IPv6 socket
// reaches an IPv4 peer through the IPv4-mapped address ::ffff:a.b.c.d; an IPv4
// socket cannot reach an IPv6 peer at all. Zone ids (fe80::1%eth0) are not
// part of the canonical form and are rejected.
bool parsePeer(const char* text, std::size_t length, bool ipv6Socket, sockaddr_storage& destination,
               socklen_t& destinationLength) {
  if (length == 0) return false;
  const char* end = text + length;
  const bool bracketed = text[0] == '[';
  const char* hostStart = bracketed ? text + 1 : text;
  const char* hostEnd = nullptr;
  const char* portStart = nullptr;
  if (bracketed) {
    hostEnd = static_cast<const char*>(std::memchr(text, ']', length));
    if (hostEnd == nullptr || hostEnd + 1 >= end || hostEnd[1] != ':') return false;
    portStart = hostEnd + 2;
  } else {
    for (const char* cursor = end; cursor > text; --cursor) {
      if (cursor[-1] == ':') {
        hostEnd = cursor - 1;
        break;
      }
    }
    if (hostEnd == nullptr) return false;
    portStart = hostEnd + 1;
  }

  char host[INET6_ADDRSTRLEN] = {0};
  const std::size_t hostLength = static_cast<std::size_t>(hostEnd - hostStart);
  if (hostLength == 0 || hostLength >= sizeof(host)) return false;
  std::memcpy(host, hostStart, hostLength);
  std::uint16_t port = 0;
  if (!parsePort(portStart, static_cast<std::size_t>(end - portStart), port)) return false;

  if (bracketed) {
    in6_addr ipv6;
    if (!ipv6Socket || inet_pton(AF_INET6, host, &ipv6) != 1) return false;
    destinationLength = makeIpv6Address(ipv6, port, destination);
    return true;
  }
  in_addr ipv4;
  if (inet_pton(AF_INET, host, &ipv4) != 1) return false;
  if (!ipv6Socket) {
    destinationLength = makeIpv4Address(ipv4, port, destination);
    return true;
  }
  in6_addr mapped;
  std::memset(&mapped, 0, sizeof(mapped));
  mapped.s6_addr[10] = 0xff;
  mapped.s6_addr[11] = 0xff;
  std::memcpy(&mapped.s6_addr[12], &ipv4, sizeof(ipv4));
  destinationLength = makeIpv6Address(mapped, port, destination);
  return true;
}

// Writes the host of an address, an IPv4-mapped IPv6 address (what a
// dual-stack socket reports for an IPv4 peer) as plain IPv4, so that a peer has
// one name whichever socket heard it.
bool formatHost(const sockaddr_storage& address, char (&host)[INET6_ADDRSTRLEN], std::uint16_t& port) {
  if (address.ss_family == AF_INET) {
    const auto& ipv4 = reinterpret_cast<const sockaddr_in&>(address);
    port = ntohs(ipv4.sin_port);
    return inet_ntop(AF_INET, &ipv4.sin_addr, host, sizeof(host)) != nullptr;
  }
  if (address.ss_family == AF_INET6) {
    const auto& ipv6 = reinterpret_cast<const sockaddr_in6&>(address);
    port = ntohs(ipv6.sin6_port);
    if (IN6_IS_ADDR_V4MAPPED(&ipv6.sin6_addr)) {
      return inet_ntop(AF_INET, &ipv6.sin6_addr.s6_addr[12], host, sizeof(host)) != nullptr;
    }
    return inet_ntop(AF_INET6, &ipv6.sin6_addr, host, sizeof(host)) != nullptr;
  }
  return false;
}

// "a.b.c.d:port" or "[v6]:port"; returns the length, 0 for an unknown family.
std::size_t formatPeer(const char* host, std::uint16_t port,
                       char (&text)[UdpSocketLimits::kAddressTextBytesMax]) {
  const bool ipv6 = std::strchr(host, ':') != nullptr;
  const int written = std::snprintf(text, sizeof(text), ipv6 ? "[%s]:%u" : "%s:%u", host,
                                    static_cast<unsigned>(port));
  return written > 0 && static_cast<std::size_t>(written) < sizeof(text) ? static_cast<std::size_t>(written) : 0;
}

std::size_t formatPeer(const sockaddr_storage& address, char (&text)[UdpSocketLimits::kAddressTextBytesMax]) {
  char host[INET6_ADDRSTRLEN];
  std::uint16_t port = 0;
  if (!formatHost(address, host, port)) return 0;
  return formatPeer(host, port, text);
}

// The error-queue decoder writes hosts with inet_ntop; this applies the same
// IPv4-mapped rule as formatHost to its text.
std::string unmapIpv4(std::string host) {
  if (host.rfind("::ffff:", 0) == 0 && host.find('.') != std::string::npos) host.erase(0, 7);
  return host;
}

// Only errors about a datagram we sent are reported; timestamping or zerocopy
// notifications would mean someone enabled features this class does not use.
bool isReportedOrigin(std::uint8_t origin) {
  return origin == SO_EE_ORIGIN_LOCAL || origin == SO_EE_ORIGIN_ICMP || origin == SO_EE_ORIGIN_ICMP6;
}

// Best effort: SO_*BUFFORCE ignores net.core.rmem_max/wmem_max but needs
// CAP_NET_ADMIN; without it the plain option is silently capped by the sysctl.
// Either way a smaller buffer only means earlier drops, never a failure.
void applySocketBufferBytes(int fileDescriptor, std::uint32_t bytes) {
  if (bytes == 0) return;
  const int value = static_cast<int>(bytes);
  if (::setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUFFORCE, &value, sizeof(value)) != 0) {
    ::setsockopt(fileDescriptor, SOL_SOCKET, SO_RCVBUF, &value, sizeof(value));
  }
  if (::setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDBUFFORCE, &value, sizeof(value)) != 0) {
    ::setsockopt(fileDescriptor, SOL_SOCKET, SO_SNDBUF, &value, sizeof(value));
  }
}

bool isPushBack(int errorNumber) {
  return errorNumber == EAGAIN || errorNumber == EWOULDBLOCK || errorNumber == ENOBUFS;
}

}  // namespace

Napi::Function UdpSocket::defineClass(Napi::Env env) {
  return DefineClass(env, "UdpSocket",
                     {
                         InstanceMethod<&UdpSocket::queue>("queue"),
                         InstanceMethod<&UdpSocket::flush>("flush"),
                         InstanceMethod<&UdpSocket::stats>("stats"),
                         InstanceMethod<&UdpSocket::close>("close"),
                         InstanceMethod<&UdpSocket::refLoop>("ref"),
                         InstanceMethod<&UdpSocket::unrefLoop>("unref"),
                         InstanceAccessor<&UdpSocket::getReceiveBuffer>("receiveBuffer"),
                         InstanceAccessor<&UdpSocket::getLocalAddress>("localAddress"),
                         InstanceAccessor<&UdpSocket::getClosed>("closed"),
                         InstanceAccessor<&UdpSocket::getKernelBufferBytes>("kernelBufferBytes"),
                     });
}

UdpSocket::UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsObject() || !info[1].IsFunction() || !info[2].IsFunction()) {
    throw codedError<Napi::TypeError>(
        env, kCodeBadOptions,
        "new UdpSocket(options, onMessages, onErrors): options must be an object and both callbacks functions");
  }
  readOptions(info[0].As<Napi::Object>());
  onMessages_ = Napi::Persistent(info[1].As<Napi::Function>());
  onErrors_ = Napi::Persistent(info[2].As<Napi::Function>());
  openAndBind(env);
  allocateBatches(env);
  asyncContext_ = std::make_unique<Napi::AsyncContext>(env, "GalaxyUdpSocket");
  // Last, so that a constructor which threw leaves nothing behind: the
  // members' destructors close the descriptor.
  startPolling(env);
  // An open socket must not be garbage collected while libuv can call it;
  // closeNow() drops this reference again.
  Ref();
}

UdpSocket::~UdpSocket() { closeNow(CloseCaller::kDestructor); }

void UdpSocket::readOptions(const Napi::Object& options) {
  Napi::Env env = options.Env();
  const Napi::Value host = options.Get("host");
  const Napi::Value ipv6 = options.Get("ipv6");
  if (!host.IsString()) {
    throw codedError<Napi::TypeError>(env, kCodeBadOptions, "options.host must be a string such as '127.0.0.1' or '::1'");
  }
  if (!ipv6.IsBoolean()) throw codedError<Napi::TypeError>(env, kCodeBadOptions, "options.ipv6 must be a boolean");
  ipv6_ = ipv6.As<Napi::Boolean>().Value();
  const Napi::Value portValue = options.Get("port");
  if (portValue.IsUndefined()) throw codedError<Napi::TypeError>(env, kCodeBadOptions, "options.port must be given (0 lets the kernel choose)");
  const std::uint16_t port = static_cast<std::uint16_t>(readIntegerOption(options, "port", 0, 0, 65535));
  receiveBatch_ = readIntegerOption(options, "recvBatch", UdpSocketLimits::kReceiveBatchDefault, 1,
                                    UdpSocketLimits::kReceiveBatchMax);
  slotBytes_ = readIntegerOption(options, "slotBytes", UdpSocketLimits::kSlotBytesDefault,
                                 UdpSocketLimits::kSlotBytesMin, UdpSocketLimits::kSlotBytesMax);
  sendBatch_ = readIntegerOption(options, "sendBatch", UdpSocketLimits::kSendBatchDefault, 1,
                                 UdpSocketLimits::kSendBatchMax);
  socketBufferBytes_ = readIntegerOption(options, "socketBufferBytes", UdpSocketLimits::kSocketBufferBytesDefault, 0,
                                         UdpSocketLimits::kSocketBufferBytesMax);

  const std::string hostText = host.As<Napi::String>().Utf8Value();
  if (ipv6_) {
    in6_addr address;
    if (inet_pton(AF_INET6, hostText.c_str(), &address) != 1) {
      throw codedError<Napi::Error>(env, kCodeBadAddress,
                                    "options.host '" + hostText + "' is not a numeric IPv6 address (options.ipv6 is true)");
    }
    bindAddressLength_ = makeIpv6Address(address, port, bindAddress_);
    return;
  }
  in_addr address;
  if (inet_pton(AF_INET, hostText.c_str(), &address) != 1) {
    throw codedError<Napi::Error>(env, kCodeBadAddress,
                                  "options.host '" + hostText + "' is not a numeric IPv4 address (options.ipv6 is false)");
  }
  bindAddressLength_ = makeIpv4Address(address, port, bindAddress_);
}

void UdpSocket::openAndBind(Napi::Env env) {
  socket_ = ScopedSocket(::socket(ipv6_ ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!socket_.valid()) throw systemError(env, kCodeSocket, "socket", errno, "new UdpSocket");

  // The error queue is the point of this class: without it a closed port is
  // only ever noticed by a probe timeout, so failing here is better than
  // silently degrading to what node:dgram already offers.
  const int enable = 1;
  const int level = ipv6_ ? IPPROTO_IPV6 : IPPROTO_IP;
  const int option = ipv6_ ? IPV6_RECVERR : IP_RECVERR;
  if (::setsockopt(socket_.get(), level, option, &enable, sizeof(enable)) != 0) {
    throw systemError(env, kCodeSocket, ipv6_ ? "setsockopt(IPV6_RECVERR)" : "setsockopt(IP_RECVERR)", errno,
                      "new UdpSocket");
  }
  // A dual-stack IPv6 socket talks to IPv4 peers through IPv4-mapped
  // addresses, and their ICMPv4 errors are queued only if IP_RECVERR is set
  // as well. Best effort: an IPv6-only kernel has no IPv4 errors to report.
  if (ipv6_) ::setsockopt(socket_.get(), IPPROTO_IP, IP_RECVERR, &enable, sizeof(enable));
  applySocketBufferBytes(socket_.get(), socketBufferBytes_);

  if (::bind(socket_.get(), reinterpret_cast<const sockaddr*>(&bindAddress_), bindAddressLength_) != 0) {
    char host[INET6_ADDRSTRLEN];
    std::uint16_t port = 0;
    char text[UdpSocketLimits::kAddressTextBytesMax] = "?";
    if (formatHost(bindAddress_, host, port)) formatPeer(host, port, text);
    throw systemError(env, kCodeBind, "bind", errno, std::string("new UdpSocket on ") + text);
  }
  localAddressLength_ = sizeof(localAddress_);
  if (::getsockname(socket_.get(), reinterpret_cast<sockaddr*>(&localAddress_), &localAddressLength_) != 0) {
    throw systemError(env, kCodeSocket, "getsockname", errno, "new UdpSocket");
  }
}

void UdpSocket::allocateBatches(Napi::Env env) {
  receiveBuffer_ = Napi::Persistent(Napi::Buffer<std::uint8_t>::New(env, std::size_t{receiveBatch_} * slotBytes_));
  receiveLengths_ = Napi::Persistent(Napi::Uint32Array::New(env, receiveBatch_));
  receiveSourceTexts_ = Napi::Persistent(Napi::Array::New(env, receiveBatch_));
  receiveMessages_.assign(receiveBatch_, mmsghdr{});
  receiveVectors_.assign(receiveBatch_, iovec{});
  receiveSources_.assign(receiveBatch_, sockaddr_storage{});
  for (std::uint32_t slot = 0; slot < receiveBatch_; ++slot) {
    msghdr& header = receiveMessages_[slot].msg_hdr;
    header.msg_name = &receiveSources_[slot];
    header.msg_iov = &receiveVectors_[slot];
    header.msg_iovlen = 1;
  }
  receiveArea(env);

  // The arena holds a full batch of slot-sized datagrams and always at least
  // one datagram of the largest legal size, so queue() never has to refuse a
  // legal datagram for want of room: it flushes first.
  const std::size_t arenaBytes =
      std::max<std::size_t>(std::size_t{sendBatch_} * slotBytes_, UdpSocketLimits::kDatagramBytesMaxIpv6);
  sendArena_.assign(arenaBytes, 0);
  sendMessages_.assign(sendBatch_, mmsghdr{});
  sendVectors_.assign(sendBatch_, iovec{});
  sendDestinations_.assign(sendBatch_, sockaddr_storage{});
  for (std::uint32_t slot = 0; slot < sendBatch_; ++slot) {
    msghdr& header = sendMessages_[slot].msg_hdr;
    header.msg_name = &sendDestinations_[slot];
    header.msg_iov = &sendVectors_[slot];
    header.msg_iovlen = 1;
  }
  errorRecords_.reserve(UdpSocketLimits::kErrorQueueReadsPerWakeUpMax);
}

void UdpSocket::startPolling(Napi::Env env) {
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    throw codedError<Napi::Error>(env, kCodePoll, "new UdpSocket: napi_get_uv_event_loop failed");
  }
  auto handle = std::make_unique<PollHandle>();
  int result = uv_poll_init_socket(loop, &handle->poll, socket_.get());
  // A failed init leaves the handle unknown to the loop, so freeing it is safe.
  if (result != 0) {
    throw codedError<Napi::Error>(env, kCodePoll, std::string("new UdpSocket: uv_poll_init_socket failed: ") + uv_strerror(result));
  }
  handle->poll.data = handle.get();
  // From here on the handle is the loop's: it is freed only by onPollClosed.
  PollHandle* registered = handle.release();
  if (napi_add_async_cleanup_hook(env, &UdpSocket::onEnvironmentCleanup, registered, &registered->cleanupHook) != napi_ok) {
    registered->cleanupHook = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&registered->poll), &UdpSocket::onPollClosed);
    throw codedError<Napi::Error>(env, kCodePoll, "new UdpSocket: napi_add_async_cleanup_hook failed");
  }
  result = uv_poll_start(&registered->poll, kPollEvents, &UdpSocket::onPoll);
  if (result != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&registered->poll), &UdpSocket::onPollClosed);
    throw codedError<Napi::Error>(env, kCodePoll, std::string("new UdpSocket: uv_poll_start failed: ") + uv_strerror(result));
  }
  registered->owner = this;
  poll_ = registered;
}

// Returns the receive slots' memory. JavaScript can detach the buffer
// (structuredClone with transfer), so the pointer is re-read on every use
// instead of cached, and a detached buffer is replaced rather than written to.
std::uint8_t* UdpSocket::receiveArea(Napi::Env env) {
  const std::size_t bytes = std::size_t{receiveBatch_} * slotBytes_;
  Napi::Buffer<std::uint8_t> buffer = receiveBuffer_.Value();
  if (buffer.Length() != bytes) {
    buffer = Napi::Buffer<std::uint8_t>::New(env, bytes);
    receiveBuffer_ = Napi::Persistent(buffer);
  }
  std::uint8_t* data = buffer.Data();
  if (data != receiveBytes_) {
    receiveBytes_ = data;
    for (std::uint32_t slot = 0; slot < receiveBatch_; ++slot) {
      receiveVectors_[slot].iov_base = data + std::size_t{slot} * slotBytes_;
      receiveVectors_[slot].iov_len = slotBytes_;
    }
  }
  return data;
}

std::uint32_t* UdpSocket::lengthsArea(Napi::Env env) {
  Napi::Uint32Array lengths = receiveLengths_.Value();
  if (lengths.ElementLength() != receiveBatch_) {
    lengths = Napi::Uint32Array::New(env, receiveBatch_);
    receiveLengths_ = Napi::Persistent(lengths);
  }
  return lengths.Data();
}

void UdpSocket::onPoll(uv_poll_t* handle, int status, int events) {
  UdpSocket* owner = static_cast<PollHandle*>(handle->data)->owner;
  if (owner != nullptr) owner->serviceWakeUp(status, events);
}

// The end of every close: the handle is freed and only then is the
// environment told that this socket's cleanup is over (see PollHandle).
void UdpSocket::onPollClosed(uv_handle_t* handle) {
  PollHandle* pollHandle = static_cast<PollHandle*>(handle->data);
  const napi_async_cleanup_hook_handle hook = pollHandle->cleanupHook;
  delete pollHandle;
  if (hook != nullptr) napi_remove_async_cleanup_hook(hook);
}

// Node calls this when the environment is torn down (a worker ends, the
// process exits) with the socket still open, or closing. A socket already
// closing has its close callback pending, which removes the hook.
void UdpSocket::onEnvironmentCleanup(napi_async_cleanup_hook_handle, void* pollHandle) {
  UdpSocket* owner = static_cast<PollHandle*>(pollHandle)->owner;
  if (owner != nullptr) owner->closeNow(CloseCaller::kEnvironmentTeardown);
}

namespace {

// A Node-API call failed: either JavaScript threw (the exception is pending,
// and goes to process 'uncaughtException' like a node:dgram listener's), or
// the environment is stopping (a terminated worker, process.exit) and refuses
// to run JavaScript at all. In the second case nothing may be thrown or
// reported: node-addon-api would turn the refusal into a fatal error while
// building the Error object (the FATAL ERROR ... napi_define_properties of
// issue 16). Returns whether the environment is stopping.
bool environmentStopping(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return true;
  napi_value error = nullptr;
  if (napi_get_and_clear_last_exception(env, &error) == napi_ok && error != nullptr) napi_fatal_exception(env, error);
  return false;
}

}  // namespace

void UdpSocket::serviceWakeUp(int status, int events) {
  // uv_close guarantees no callback after close; this guards the invariant.
  if (closed_) return;
  ++counters_.pollWakeUps;
  if (events & UV_PRIORITIZED) ++counters_.pollPrioritizedWakeUps;
  if (status < 0) {
    // libuv stopped the handle (see kPollEvents); the error queue drained
    // below is what raised POLLERR, so watching again is safe.
    ++counters_.pollErrorWakeUps;
    uv_poll_start(&poll_->poll, kPollEvents, &UdpSocket::onPoll);
  }

  napi_env env = env_;
  napi_handle_scope scope = nullptr;
  if (napi_open_handle_scope(env, &scope) != napi_ok) {
    closeNow(CloseCaller::kEnvironmentStopping);
    return;
  }
  stopping_ = false;
  try {
    // Errors first: draining the queue also clears the socket's pending error
    // (sk_err), which recvmmsg would otherwise return instead of datagrams.
    // The drain costs one EAGAIN syscall on wake-ups without errors. Skipping
    // it when libuv reports plain READABLE would be correct for libuv 1.46,
    // but if a later libuv passed POLLERR through as READABLE, an undrained
    // queue would keep epoll waking us forever; the syscall is the cheaper risk.
    drainErrorQueue();
    bool delivering = errorRecords_.empty() || deliverErrors(env);
    for (std::uint32_t batch = 0; delivering && batch < UdpSocketLimits::kReceiveBatchesPerWakeUpMax && !closed_; ++batch) {
      delivering = receiveBatch(Napi::Env(env));
    }
  } catch (const Napi::Error& error) {
    if (!stopping_) napi_fatal_exception(env, error.Value());
  } catch (const std::exception& failure) {
    if (!stopping_) napi_fatal_exception(env, Napi::Error::New(env, std::string("UdpSocket poll callback: ") + failure.what()).Value());
  }
  napi_close_handle_scope(env, scope);
  // A stopping environment runs no more JavaScript: watching the socket would
  // only wake the loop for datagrams nobody can receive.
  if (stopping_) closeNow(CloseCaller::kEnvironmentStopping);
}

void UdpSocket::drainErrorQueue() {
  for (std::uint32_t read = 0; read < UdpSocketLimits::kErrorQueueReadsPerWakeUpMax; ++read) {
    sockaddr_storage destination;
    std::memset(&destination, 0, sizeof(destination));
    alignas(cmsghdr) unsigned char control[512];
    msghdr message;
    std::memset(&message, 0, sizeof(message));
    // The returned payload (the start of the failed datagram) is not needed:
    // msg_name already names the peer, so no iovec is passed.
    message.msg_name = &destination;
    message.msg_namelen = sizeof(destination);
    message.msg_control = control;
    message.msg_controllen = sizeof(control);
    if (::recvmsg(socket_.get(), &message, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      return;  // EAGAIN: the queue is empty
    }
    ++counters_.errQueueRecords;
    ErrorQueueRecord record;
    if (!decodeErrorQueueMessage(message, record) || !isReportedOrigin(record.origin)) {
      ++counters_.errorsUnknown;
      continue;
    }
    errorRecords_.push_back(std::move(record));
  }
}

// Every Node-API call of the two deliveries is checked by hand, never through
// node-addon-api's throwing wrappers: in a stopping environment a refused call
// must end the delivery quietly (see environmentStopping).
bool UdpSocket::deliverErrors(napi_env env) {
  napi_value records = nullptr;
  bool ok = napi_create_array_with_length(env, errorRecords_.size(), &records) == napi_ok;
  const auto setText = [&](napi_value object, const char* name, const char* text, std::size_t length) {
    napi_value value = nullptr;
    ok = ok && napi_create_string_utf8(env, text, length, &value) == napi_ok &&
         napi_set_named_property(env, object, name, value) == napi_ok;
  };
  const auto setNumber = [&](napi_value object, const char* name, double number) {
    napi_value value = nullptr;
    ok = ok && napi_create_double(env, number, &value) == napi_ok && napi_set_named_property(env, object, name, value) == napi_ok;
  };
  for (std::size_t index = 0; ok && index < errorRecords_.size(); ++index) {
    const ErrorQueueRecord& record = errorRecords_[index];
    const std::string host = record.hasDestination ? unmapIpv4(record.destinationAddress) : std::string();
    const std::uint16_t port = record.hasDestination ? record.destinationPort : 0;
    char peer[UdpSocketLimits::kAddressTextBytesMax] = {0};
    const std::size_t peerLength = record.hasDestination ? formatPeer(host.c_str(), port, peer) : 0;
    const std::string offender = record.hasOffender ? unmapIpv4(record.offenderAddress) : std::string();
    napi_value value = nullptr;
    ok = ok && napi_create_object(env, &value) == napi_ok;
    setText(value, "address", host.c_str(), host.size());
    setNumber(value, "port", port);
    setText(value, "peer", peer, peerLength);
    setNumber(value, "errno", record.errorNumber);
    const char* origin = errorOriginName(record.origin);
    setText(value, "origin", origin, std::strlen(origin));
    setNumber(value, "icmpType", record.icmpType);
    setNumber(value, "icmpCode", record.icmpCode);
    setNumber(value, "info", record.info);
    setText(value, "offender", offender.c_str(), offender.size());
    ok = ok && napi_set_element(env, records, static_cast<std::uint32_t>(index), value) == napi_ok;
  }
  // Cleared before the call, so a callback that throws cannot replay them.
  errorRecords_.clear();
  if (!ok) return refused(env);
  return invoke(env, onErrors_, 1, &records);
}

bool UdpSocket::refused(napi_env env) {
  if (environmentStopping(env)) stopping_ = true;
  return false;
}

bool UdpSocket::invoke(napi_env env, const Napi::FunctionReference& callback, std::size_t argc, const napi_value* argv) {
  napi_value receiver = nullptr;
  napi_value function = nullptr;
  napi_value result = nullptr;
  if (napi_get_reference_value(env, static_cast<napi_ref>(*this), &receiver) != napi_ok ||
      napi_get_reference_value(env, static_cast<napi_ref>(callback), &function) != napi_ok || function == nullptr ||
      napi_make_callback(env, static_cast<napi_async_context>(*asyncContext_), receiver, function, argc, argv, &result) != napi_ok) {
    return refused(env);
  }
  return true;
}

bool UdpSocket::receiveBatch(Napi::Env env) {
  receiveArea(env);
  for (std::uint32_t slot = 0; slot < receiveBatch_; ++slot) {
    receiveMessages_[slot].msg_hdr.msg_namelen = sizeof(sockaddr_storage);
    receiveMessages_[slot].msg_hdr.msg_flags = 0;
    receiveMessages_[slot].msg_len = 0;
  }
  int count;
  do {
    count = ::recvmmsg(socket_.get(), receiveMessages_.data(), receiveBatch_, MSG_DONTWAIT, nullptr);
  } while (count < 0 && errno == EINTR);
  if (count < 0) {
    // Anything but EAGAIN is a pending socket error (an ICMP error that arrived
    // after drainErrorQueue), which recvmmsg returns once and clears; the
    // datagrams behind it are still queued, so the next batch reads them.
    return errno != EAGAIN && errno != EWOULDBLOCK;
  }
  if (count == 0) return false;
  ++counters_.receiveBatches;
  if (!deliverMessages(env, static_cast<std::uint32_t>(count))) return false;
  // A short batch means the queue was empty a moment ago; epoll is level
  // triggered, so anything that arrived since wakes the loop again.
  return static_cast<std::uint32_t>(count) == receiveBatch_;
}

bool UdpSocket::deliverMessages(napi_env env, std::uint32_t count) {
  std::uint32_t deliverable = 0;
  for (std::uint32_t slot = 0; slot < count; ++slot) {
    if (receiveMessages_[slot].msg_hdr.msg_flags & MSG_TRUNC) {
      ++counters_.truncated;
    } else {
      ++deliverable;
    }
  }
  if (deliverable == 0) return true;

  std::uint8_t* bytes = receiveBytes_;
  std::uint32_t* lengths = lengthsArea(Napi::Env(env));
  // The same array every batch, and the same string for the same peer every
  // time (sourceText): a batch from known peers allocates nothing on the
  // JavaScript heap.
  napi_value sources = nullptr;
  if (napi_get_reference_value(env, static_cast<napi_ref>(receiveSourceTexts_), &sources) != napi_ok || sources == nullptr) {
    return refused(env);
  }
  napi_value previousSource = nullptr;
  const sockaddr_storage* previousAddress = nullptr;
  socklen_t previousLength = 0;
  std::uint32_t delivered = 0;
  for (std::uint32_t slot = 0; slot < count; ++slot) {
    const mmsghdr& message = receiveMessages_[slot];
    if (message.msg_hdr.msg_flags & MSG_TRUNC) continue;
    // Compacting keeps "datagram k is at k * slotBytes" true after a drop;
    // truncation is rare, so the copy is too.
    if (delivered != slot) {
      std::memmove(bytes + std::size_t{delivered} * slotBytes_, bytes + std::size_t{slot} * slotBytes_,
                   message.msg_len);
    }
    lengths[delivered] = message.msg_len;
    // A burst usually comes from one peer: its name is formatted once.
    const sockaddr_storage& source = receiveSources_[slot];
    const socklen_t sourceLength = std::min<socklen_t>(message.msg_hdr.msg_namelen, sizeof(sockaddr_storage));
    const bool sameSource = previousAddress != nullptr && previousLength == sourceLength &&
                            std::memcmp(previousAddress, &source, sourceLength) == 0;
    if (!sameSource) {
      previousSource = sourceText(env, source);
      if (previousSource == nullptr) return refused(env);
      previousAddress = &source;
      previousLength = sourceLength;
    }
    if (napi_set_element(env, sources, delivered, previousSource) != napi_ok) return refused(env);
    ++delivered;
  }
  counters_.received += delivered;
  napi_value arguments[4] = {nullptr, nullptr, nullptr, sources};
  if (napi_create_uint32(env, delivered, &arguments[0]) != napi_ok ||
      napi_get_reference_value(env, static_cast<napi_ref>(receiveBuffer_), &arguments[1]) != napi_ok ||
      napi_get_reference_value(env, static_cast<napi_ref>(receiveLengths_), &arguments[2]) != napi_ok) {
    return refused(env);
  }
  return invoke(env, onMessages_, 4, arguments);
}

napi_value UdpSocket::sourceText(napi_env env, const sockaddr_storage& source) {
  SourceKey key;
  key.family = source.ss_family;
  if (source.ss_family == AF_INET) {
    const auto& ipv4 = reinterpret_cast<const sockaddr_in&>(source);
    key.port = ipv4.sin_port;
    std::memcpy(key.address, &ipv4.sin_addr, sizeof(ipv4.sin_addr));
  } else if (source.ss_family == AF_INET6) {
    const auto& ipv6 = reinterpret_cast<const sockaddr_in6&>(source);
    key.port = ipv6.sin6_port;
    std::memcpy(key.address, &ipv6.sin6_addr, sizeof(ipv6.sin6_addr));
  } else {
    // No text for an unknown family (formatPeer gives none): the empty string.
    napi_value empty = nullptr;
    return napi_create_string_utf8(env, "", 0, &empty) == napi_ok ? empty : nullptr;
  }
  // The text is a function of (family, address, port) alone (formatHost).
  if (sourceSlots_.empty() || (sourceSlotsUsed_ + 1) * 2 > sourceSlots_.size()) {
    if (sourceSlots_.size() < UdpSocketLimits::kSourceTextsMax && !growSourceTexts(env)) return nullptr;
  }
  napi_value texts = nullptr;
  if (napi_get_reference_value(env, static_cast<napi_ref>(sourceTexts_), &texts) != napi_ok || texts == nullptr) return nullptr;
  const std::uint32_t mask = static_cast<std::uint32_t>(sourceSlots_.size()) - 1;
  // FNV-1a over the key's bytes.
  std::uint32_t hash = 2166136261u;
  const auto* keyBytes = reinterpret_cast<const std::uint8_t*>(&key);
  for (std::size_t i = 0; i < sizeof(key); ++i) hash = (hash ^ keyBytes[i]) * 16777619u;
  std::uint32_t slot = hash & mask;
  std::uint32_t free = UINT32_MAX;
  for (std::uint32_t probe = 0; probe < UdpSocketLimits::kSourceTextProbesMax; ++probe) {
    const std::uint32_t at = (slot + probe) & mask;
    const SourceSlot& entry = sourceSlots_[at];
    if (!entry.used) {
      free = at;
      break;
    }
    if (std::memcmp(&entry.key, &key, sizeof(key)) == 0) {
      napi_value text = nullptr;
      return napi_get_element(env, texts, at, &text) == napi_ok ? text : nullptr;
    }
  }
  // A new peer: its text is made once. With the table at its largest and the
  // probe run full, it takes the place of the run's first peer.
  if (free == UINT32_MAX) free = slot;
  else ++sourceSlotsUsed_;
  char text[UdpSocketLimits::kAddressTextBytesMax];
  const std::size_t length = formatPeer(source, text);
  napi_value value = nullptr;
  if (napi_create_string_utf8(env, text, length, &value) != napi_ok || napi_set_element(env, texts, free, value) != napi_ok) {
    return nullptr;
  }
  sourceSlots_[free].key = key;
  sourceSlots_[free].used = true;
  return value;
}

bool UdpSocket::growSourceTexts(napi_env env) {
  const std::size_t capacity = sourceSlots_.empty() ? UdpSocketLimits::kSourceTextsInitial : sourceSlots_.size() * 2;
  napi_value texts = nullptr;
  if (napi_create_array_with_length(env, capacity, &texts) != napi_ok) return false;
  std::vector<SourceSlot> slots(capacity);
  const std::uint32_t mask = static_cast<std::uint32_t>(capacity) - 1;
  napi_value oldTexts = nullptr;
  if (!sourceSlots_.empty() &&
      (napi_get_reference_value(env, static_cast<napi_ref>(sourceTexts_), &oldTexts) != napi_ok || oldTexts == nullptr)) {
    return false;
  }
  std::uint32_t used = 0;
  for (std::size_t index = 0; index < sourceSlots_.size(); ++index) {
    const SourceSlot& entry = sourceSlots_[index];
    if (!entry.used) continue;
    std::uint32_t hash = 2166136261u;
    const auto* keyBytes = reinterpret_cast<const std::uint8_t*>(&entry.key);
    for (std::size_t i = 0; i < sizeof(entry.key); ++i) hash = (hash ^ keyBytes[i]) * 16777619u;
    // Twice the room: a free slot within the probe run is all but certain; a
    // peer that finds none is dropped from the table and made again if it returns.
    for (std::uint32_t probe = 0; probe < UdpSocketLimits::kSourceTextProbesMax; ++probe) {
      const std::uint32_t at = (hash + probe) & mask;
      if (slots[at].used) continue;
      napi_value text = nullptr;
      if (napi_get_element(env, oldTexts, static_cast<std::uint32_t>(index), &text) != napi_ok ||
          napi_set_element(env, texts, at, text) != napi_ok) {
        return false;
      }
      slots[at] = entry;
      ++used;
      break;
    }
  }
  sourceTexts_ = Napi::Persistent(Napi::Array(env, texts));
  sourceSlots_ = std::move(slots);
  sourceSlotsUsed_ = used;
  return true;
}

bool UdpSocket::resolveDestination(Napi::Env env, napi_value address, sockaddr_storage& destination,
                                   socklen_t& destinationLength) {
  char text[UdpSocketLimits::kAddressTextBytesMax];
  std::size_t length = 0;
  // Fails for a non-string; a string too long for the buffer is cut short and
  // then fails to parse, since no valid address comes near the buffer size.
  if (napi_get_value_string_utf8(env, address, text, sizeof(text), &length) != napi_ok) return false;
  if (length == lastDestinationTextLength_ && length > 0 && std::memcmp(text, lastDestinationText_, length) == 0) {
    destination = lastDestination_;
    destinationLength = lastDestinationLength_;
    return true;
  }
  if (!parsePeer(text, length, ipv6_, destination, destinationLength)) return false;
  std::memcpy(lastDestinationText_, text, length);
  lastDestinationTextLength_ = length;
  lastDestination_ = destination;
  lastDestinationLength_ = destinationLength;
  return true;
}

Napi::Value UdpSocket::queue(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  throwIfClosed(env);
  if (info.Length() < 4 || !info[1].IsTypedArray() || !info[2].IsNumber() || !info[3].IsNumber() ||
      info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw codedError<Napi::TypeError>(env, kCodeBadArgument,
                                      "queue(address, data, offset, length): data must be a Uint8Array, offset and length numbers");
  }
  const Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  const double offset = info[2].As<Napi::Number>().DoubleValue();
  const double length = info[3].As<Napi::Number>().DoubleValue();
  const double available = static_cast<double>(data.ElementLength());
  if (!(offset >= 0 && length >= 0 && offset + length <= available) || offset != std::floor(offset) ||
      length != std::floor(length)) {
    throw codedError<Napi::RangeError>(env, kCodeBadArgument,
                                       "queue(address, data, offset, length): offset and length must be integers within data");
  }

  const std::size_t bytes = static_cast<std::size_t>(length);
  const std::uint32_t datagramBytesMax =
      ipv6_ ? UdpSocketLimits::kDatagramBytesMaxIpv6 : UdpSocketLimits::kDatagramBytesMaxIpv4;
  if (bytes > datagramBytesMax) {
    ++counters_.sendTooLarge;
    return Napi::Boolean::New(env, false);
  }
  sockaddr_storage destination;
  socklen_t destinationLength = 0;
  if (!resolveDestination(env, info[0], destination, destinationLength)) {
    ++counters_.sendInvalidAddress;
    return Napi::Boolean::New(env, false);
  }
  if (sendQueued_ == sendBatch_ || sendArenaUsed_ + bytes > sendArena_.size()) flushBatch();

  std::uint8_t* payload = sendArena_.data() + sendArenaUsed_;
  if (bytes > 0) std::memcpy(payload, data.Data() + static_cast<std::size_t>(offset), bytes);
  const std::uint32_t slot = sendQueued_;
  sendDestinations_[slot] = destination;
  sendVectors_[slot].iov_base = payload;
  sendVectors_[slot].iov_len = bytes;
  msghdr& header = sendMessages_[slot].msg_hdr;
  header.msg_namelen = destinationLength;
  header.msg_control = nullptr;
  header.msg_controllen = 0;
  header.msg_flags = 0;
  sendArenaUsed_ += bytes;
  ++sendQueued_;
  return Napi::Boolean::New(env, true);
}

std::uint32_t UdpSocket::flushBatch() {
  const std::uint32_t queued = sendQueued_;
  if (queued == 0) return 0;
  ++counters_.sendBatches;
  std::uint32_t next = 0;
  std::uint32_t sentNow = 0;
  std::uint32_t retried = queued;  // the slot already retried once, none yet
  while (next < queued) {
    const int sent = ::sendmmsg(socket_.get(), sendMessages_.data() + next, queued - next, MSG_DONTWAIT);
    if (sent > 0) {
      sentNow += static_cast<std::uint32_t>(sent);
      next += static_cast<std::uint32_t>(sent);
      continue;
    }
    const int errorNumber = sent < 0 ? errno : EAGAIN;
    if (errorNumber == EINTR) continue;
    if (isPushBack(errorNumber)) {
      // Never block and never buffer without bound: UDP may lose these anyway.
      ++counters_.eagain;
      counters_.sendDropped += queued - next;
      break;
    }
    if (errorNumber == EMSGSIZE) {
      ++counters_.sendTooLarge;
      ++next;
      continue;
    }
    // An ICMP error sets the socket's pending error (sk_err), which the next
    // send returns once instead of sending; that datagram deserves a retry.
    // The error itself stays in the error queue for the next wake-up.
    if (retried != next) {
      retried = next;
      continue;
    }
    ++counters_.sendFailed;
    ++next;
  }
  counters_.sent += sentNow;
  sendQueued_ = 0;
  sendArenaUsed_ = 0;
  return sentNow;
}

// flush() only sends. Error-queue records caused by this batch are delivered
// by the next poll wake-up (POLLERR wakes the loop; see kPollEvents), never
// from inside flush() or queue(), so onErrors is not re-entered from a send.
Napi::Value UdpSocket::flush(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  throwIfClosed(env);
  return Napi::Number::New(env, flushBatch());
}

Napi::Value UdpSocket::stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object result = Napi::Object::New(env);
  const auto set = [&](const char* name, std::uint64_t value) {
    result.Set(name, Napi::Number::New(env, static_cast<double>(value)));
  };
  set("received", counters_.received);
  set("receiveBatches", counters_.receiveBatches);
  set("truncated", counters_.truncated);
  set("sent", counters_.sent);
  set("sendBatches", counters_.sendBatches);
  set("sendDropped", counters_.sendDropped);
  set("sendInvalidAddress", counters_.sendInvalidAddress);
  set("sendTooLarge", counters_.sendTooLarge);
  set("sendFailed", counters_.sendFailed);
  set("errQueueRecords", counters_.errQueueRecords);
  set("errorsUnknown", counters_.errorsUnknown);
  set("eagain", counters_.eagain);
  set("pollWakeUps", counters_.pollWakeUps);
  set("pollErrorWakeUps", counters_.pollErrorWakeUps);
  set("pollPrioritizedWakeUps", counters_.pollPrioritizedWakeUps);
  set("sendQueued", sendQueued_);
  return result;
}

Napi::Value UdpSocket::close(const Napi::CallbackInfo& info) {
  // What is queued goes out first: close() after send() should not lose data
  // that a flush a moment earlier would have sent.
  if (!closed_) flushBatch();
  closeNow(CloseCaller::kJavaScript);
  return info.Env().Undefined();
}

Napi::Value UdpSocket::refLoop(const Napi::CallbackInfo& info) {
  throwIfClosed(info.Env());
  uv_ref(reinterpret_cast<uv_handle_t*>(&poll_->poll));
  return info.Env().Undefined();
}

Napi::Value UdpSocket::unrefLoop(const Napi::CallbackInfo& info) {
  throwIfClosed(info.Env());
  uv_unref(reinterpret_cast<uv_handle_t*>(&poll_->poll));
  return info.Env().Undefined();
}

Napi::Value UdpSocket::getReceiveBuffer(const Napi::CallbackInfo& info) {
  throwIfClosed(info.Env());
  receiveArea(info.Env());
  return receiveBuffer_.Value();
}

Napi::Value UdpSocket::getLocalAddress(const Napi::CallbackInfo& info) {
  char text[UdpSocketLimits::kAddressTextBytesMax];
  const std::size_t length = formatPeer(localAddress_, text);
  return Napi::String::New(info.Env(), text, length);
}

Napi::Value UdpSocket::getClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

// What the kernel granted, which getsockopt reports doubled (the kernel
// reserves half for its own bookkeeping).
Napi::Value UdpSocket::getKernelBufferBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  throwIfClosed(env);
  int receive = 0;
  int send = 0;
  socklen_t length = sizeof(receive);
  ::getsockopt(socket_.get(), SOL_SOCKET, SO_RCVBUF, &receive, &length);
  length = sizeof(send);
  ::getsockopt(socket_.get(), SOL_SOCKET, SO_SNDBUF, &send, &length);
  Napi::Object result = Napi::Object::New(env);
  result.Set("receive", Napi::Number::New(env, receive));
  result.Set("send", Napi::Number::New(env, send));
  return result;
}

void UdpSocket::throwIfClosed(Napi::Env env) const {
  if (closed_) throw codedError<Napi::Error>(env, kCodeClosed, "the UdpSocket is closed");
}

void UdpSocket::closeNow(CloseCaller caller) {
  if (closed_) return;
  closed_ = true;
  if (poll_ != nullptr) {
    // uv_close stops watching synchronously (the descriptor leaves epoll now)
    // and frees the handle on a later loop turn, possibly after ~UdpSocket;
    // the environment's cleanup hook stays until then (see PollHandle).
    poll_->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&poll_->poll), &UdpSocket::onPollClosed);
    poll_ = nullptr;
  }
  socket_.reset();
  sendQueued_ = 0;
  sendArenaUsed_ = 0;
  if (caller != CloseCaller::kJavaScript) return;

  // Dropping the callbacks breaks the cycle callback -> wrapper -> this, and
  // Unref lets the garbage collector take the closed socket. asyncContext_
  // lives until ~UdpSocket because close() may run inside a callback that is
  // still using it.
  onMessages_.Reset();
  onErrors_.Reset();
  receiveBuffer_.Reset();
  receiveLengths_.Reset();
  receiveSourceTexts_.Reset();
  sourceTexts_.Reset();
  sourceSlots_.clear();
  sourceSlots_.shrink_to_fit();
  Unref();
}

Napi::Function defineUdpSocketClass(Napi::Env env) { return UdpSocket::defineClass(env); }

#else  // !__linux__

Napi::Function defineUdpSocketClass(Napi::Env env) {
  return Napi::Function::New(
      env,
      [](const Napi::CallbackInfo& info) -> Napi::Value {
        throw codedError<Napi::Error>(info.Env(), kCodeUnsupported,
                                      "UdpSocket needs recvmmsg, sendmmsg and MSG_ERRQUEUE, which only Linux has");
      },
      "UdpSocket");
}

#endif  // __linux__

}  // namespace galaxy
