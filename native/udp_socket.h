// Galaxy's native UDP socket: one non-blocking datagram socket driven by the
// libuv loop that Node already runs. Datagrams arrive in recvmmsg batches and
// leave in sendmmsg batches, and ICMP errors (port unreachable, no route) are
// read back from the socket error queue. That last part is the platform
// knowledge a portable heartbeat-only failure detector lacks (the paper's
// lesson 5): a crashed process answers the next probe with an ICMP error
// within microseconds, long before any probe timeout would fire.
//
// Everything runs on the loop thread: no worker threads, no busy polling, no
// locks. src/native/native-udp-socket.ts is the typed wrapper that Galaxy uses.
#pragma once

#include <napi.h>

#ifdef __linux__
#include <netinet/in.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "error_queue_decoder.h"
#include "scoped_socket.h"
#endif

namespace galaxy {

// Returns the JavaScript UdpSocket constructor. Where recvmmsg, sendmmsg and
// MSG_ERRQUEUE do not exist (everything but Linux), the constructor throws an
// Error whose code is GALAXY_NATIVE_UNSUPPORTED.
Napi::Function defineUdpSocketClass(Napi::Env env);

#ifdef __linux__

// Every buffer, batch and loop below has a named upper bound.
struct UdpSocketLimits {
  // recvmmsg slots per call; one onMessages call per recvmmsg batch.
  static constexpr std::uint32_t kReceiveBatchDefault = 64;
  static constexpr std::uint32_t kReceiveBatchMax = 256;
  // Bytes per receive slot; a longer datagram is truncated by the kernel
  // (MSG_TRUNC), counted as truncated and dropped.
  static constexpr std::uint32_t kSlotBytesDefault = 2048;
  static constexpr std::uint32_t kSlotBytesMin = 16;
  static constexpr std::uint32_t kSlotBytesMax = 65536;
  // sendmmsg slots per flush; queue() flushes by itself when they are full.
  // 1024 is the kernel's UIO_MAXIOV, the most one sendmmsg call accepts.
  static constexpr std::uint32_t kSendBatchDefault = 64;
  static constexpr std::uint32_t kSendBatchMax = 1024;
  // Requested SO_RCVBUF and SO_SNDBUF; best effort (see applySocketBufferBytes).
  static constexpr std::uint32_t kSocketBufferBytesDefault = 1u << 20;
  static constexpr std::uint32_t kSocketBufferBytesMax = 64u << 20;
  // recvmmsg calls per loop wake-up, so one busy socket cannot starve timers
  // and other sockets: 16 × 64 datagrams before the loop gets a turn.
  static constexpr std::uint32_t kReceiveBatchesPerWakeUpMax = 16;
  // Error-queue messages read per wake-up; the kernel bounds the queue by
  // SO_RCVBUF, this bounds the time one wake-up spends on it.
  static constexpr std::uint32_t kErrorQueueReadsPerWakeUpMax = 256;
  // UDP payload limits: 65535 minus the IPv4 (20) and UDP (8) headers, and
  // 65535 minus the UDP header for IPv6 (its header is outside the length).
  static constexpr std::uint32_t kDatagramBytesMaxIpv4 = 65507;
  static constexpr std::uint32_t kDatagramBytesMaxIpv6 = 65527;
  // "[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535" is 55 bytes;
  // longer address text cannot be valid.
  static constexpr std::size_t kAddressTextBytesMax = 64;
  // Source address texts kept for reuse (see UdpSocket::sourceText): the
  // table starts small, doubles while it is more than half full, and stops
  // growing at kSourceTextsMax peers (a 10,000-member farm fits); past that a
  // new peer takes the place of one in its probe run. Power-of-two sizes.
  static constexpr std::uint32_t kSourceTextsInitial = 64;
  static constexpr std::uint32_t kSourceTextsMax = 32768;
  static constexpr std::uint32_t kSourceTextProbesMax = 8;
};

// Monotonic counters, read by stats(). Operating failures (a bad address, a
// full send buffer, an ICMP error) are counted here instead of thrown.
struct UdpSocketCounters {
  std::uint64_t received = 0;            // datagrams delivered to onMessages
  std::uint64_t receiveBatches = 0;      // recvmmsg calls that returned datagrams
  std::uint64_t truncated = 0;           // datagrams longer than slotBytes, dropped
  std::uint64_t sent = 0;                // datagrams the kernel accepted
  std::uint64_t sendBatches = 0;         // flushes that had something to send
  std::uint64_t sendDropped = 0;         // dropped because the kernel pushed back
  std::uint64_t sendInvalidAddress = 0;  // unparsable address or wrong family
  std::uint64_t sendTooLarge = 0;        // over the UDP limit, or EMSGSIZE
  std::uint64_t sendFailed = 0;          // any other send errno, twice in a row
  std::uint64_t errQueueRecords = 0;     // messages read from the error queue
  std::uint64_t errorsUnknown = 0;       // of those, undecodable or not ICMP/local
  std::uint64_t eagain = 0;              // sendmmsg stops on EAGAIN or ENOBUFS
  std::uint64_t pollWakeUps = 0;         // uv_poll callbacks
  std::uint64_t pollErrorWakeUps = 0;    // of those, with a negative status
  std::uint64_t pollPrioritizedWakeUps = 0;  // of those, with UV_PRIORITIZED (POLLERR here)
};

class UdpSocket;

// The libuv registration of one socket, with what its close needs. libuv owns
// it from uv_close until the close callback runs, which may be after
// ~UdpSocket and, at environment teardown, after the JavaScript side is gone.
// The async cleanup hook stays registered until that callback has run: Node
// keeps the closing environment's loop turning until the hook is removed, so
// the callback (code in this addon) runs before Node may unload the addon.
// With a plain cleanup hook Node could dlclose the addon with the close still
// pending, and the worker's last loop turn then jumped into unmapped code
// (the SIGSEGV of a second SIGINT, issue 16).
struct PollHandle {
  uv_poll_t poll{};
  // Null once the socket is closed: the close callback must not touch it.
  UdpSocket* owner = nullptr;
  napi_async_cleanup_hook_handle cleanupHook = nullptr;
};

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function defineClass(Napi::Env env);

  // new UdpSocket(options, onMessages, onErrors); see udp_socket.cc.
  explicit UdpSocket(const Napi::CallbackInfo& info);
  ~UdpSocket() override;

  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

 private:
  // Who asked for the close decides which Node-API calls are still allowed.
  // kEnvironmentStopping: a Node-API call failed on the loop side because the
  // environment is being torn down (a worker terminated, process.exit): no
  // JavaScript may run any more, but the cleanup hook has not run yet.
  enum class CloseCaller { kJavaScript, kEnvironmentTeardown, kEnvironmentStopping, kDestructor };

  // JavaScript methods and accessors.
  Napi::Value queue(const Napi::CallbackInfo& info);
  Napi::Value flush(const Napi::CallbackInfo& info);
  Napi::Value stats(const Napi::CallbackInfo& info);
  Napi::Value close(const Napi::CallbackInfo& info);
  // JavaScript ref()/unref(): whether the socket keeps the loop alive. Named
  // apart from ObjectWrap::Ref/Unref, which pin the wrapper against the GC.
  Napi::Value refLoop(const Napi::CallbackInfo& info);
  Napi::Value unrefLoop(const Napi::CallbackInfo& info);
  Napi::Value getReceiveBuffer(const Napi::CallbackInfo& info);
  Napi::Value getLocalAddress(const Napi::CallbackInfo& info);
  Napi::Value getClosed(const Napi::CallbackInfo& info);
  Napi::Value getKernelBufferBytes(const Napi::CallbackInfo& info);

  // Construction steps, each throwing a coded JavaScript error.
  void readOptions(const Napi::Object& options);
  void openAndBind(Napi::Env env);
  void allocateBatches(Napi::Env env);
  void startPolling(Napi::Env env);

  // The loop side.
  static void onPoll(uv_poll_t* handle, int status, int events);
  static void onPollClosed(uv_handle_t* handle);
  static void onEnvironmentCleanup(napi_async_cleanup_hook_handle hook, void* pollHandle);
  void serviceWakeUp(int status, int events);
  void drainErrorQueue();
  // The delivering calls return false when Node-API refused a call because the
  // environment is stopping; nothing may be thrown then (see serviceWakeUp).
  bool deliverErrors(napi_env env);
  // Returns false when the receive queue looks empty or delivery was refused.
  bool receiveBatch(Napi::Env env);
  bool deliverMessages(napi_env env, std::uint32_t count);
  // Calls a JavaScript callback on the wrapper; false when refused or thrown.
  bool invoke(napi_env env, const Napi::FunctionReference& callback, std::size_t argc, const napi_value* argv);
  // Handles a failed Node-API call of a delivery (see environmentStopping in
  // udp_socket.cc); always false, so a delivery can end with it.
  bool refused(napi_env env);
  // The address text of a datagram's source: the same JavaScript string for
  // the same peer every time, made once (issue 14: no allocation per datagram);
  // nullptr when Node-API refused a call.
  napi_value sourceText(napi_env env, const sockaddr_storage& source);
  bool growSourceTexts(napi_env env);
  std::uint8_t* receiveArea(Napi::Env env);
  std::uint32_t* lengthsArea(Napi::Env env);

  // The send side.
  bool resolveDestination(Napi::Env env, napi_value address, sockaddr_storage& destination,
                          socklen_t& destinationLength);
  std::uint32_t flushBatch();

  void throwIfClosed(Napi::Env env) const;
  void closeNow(CloseCaller caller);

  // Options, fixed at construction.
  bool ipv6_ = false;
  std::uint32_t receiveBatch_ = UdpSocketLimits::kReceiveBatchDefault;
  std::uint32_t slotBytes_ = UdpSocketLimits::kSlotBytesDefault;
  std::uint32_t sendBatch_ = UdpSocketLimits::kSendBatchDefault;
  std::uint32_t socketBufferBytes_ = UdpSocketLimits::kSocketBufferBytesDefault;
  sockaddr_storage bindAddress_{};
  socklen_t bindAddressLength_ = 0;

  // The socket and its loop registration. poll_ is heap allocated because
  // libuv owns it until the close callback runs, which may be after ~UdpSocket.
  ScopedSocket socket_;
  napi_env env_ = nullptr;
  PollHandle* poll_ = nullptr;
  bool closed_ = false;
  // Set during a wake-up when Node-API refused a call because the
  // environment is stopping; the wake-up then closes the socket.
  bool stopping_ = false;
  sockaddr_storage localAddress_{};
  socklen_t localAddressLength_ = 0;

  // JavaScript callbacks and the views they receive, allocated once.
  Napi::FunctionReference onMessages_;
  Napi::FunctionReference onErrors_;
  std::unique_ptr<Napi::AsyncContext> asyncContext_;
  Napi::Reference<Napi::Buffer<std::uint8_t>> receiveBuffer_;
  Napi::Reference<Napi::Uint32Array> receiveLengths_;
  std::uint8_t* receiveBytes_ = nullptr;  // receiveBuffer_'s data when the iovecs were set
  // The sources array handed to onMessages, reused by every batch (only its
  // first `count` elements are the batch's).
  Napi::Reference<Napi::Array> receiveSourceTexts_;
  // The source text table: open addressing on (family, address, port), the
  // texts themselves in the JavaScript array sourceTexts_ at the same index.
  struct SourceKey {
    std::uint16_t family = 0;
    std::uint16_t port = 0;
    std::uint8_t address[16] = {0};
  };
  struct SourceSlot {
    SourceKey key;
    bool used = false;
  };
  std::vector<SourceSlot> sourceSlots_;
  std::uint32_t sourceSlotsUsed_ = 0;
  Napi::Reference<Napi::Array> sourceTexts_;

  // recvmmsg batch: receiveBatch_ slots pointing into receiveBuffer_.
  std::vector<mmsghdr> receiveMessages_;
  std::vector<iovec> receiveVectors_;
  std::vector<sockaddr_storage> receiveSources_;

  // sendmmsg batch: sendBatch_ slots whose payloads are copied into one arena.
  std::vector<mmsghdr> sendMessages_;
  std::vector<iovec> sendVectors_;
  std::vector<sockaddr_storage> sendDestinations_;
  std::vector<std::uint8_t> sendArena_;
  std::size_t sendArenaUsed_ = 0;
  std::uint32_t sendQueued_ = 0;

  // The last destination parsed, because a burst usually goes to one peer.
  char lastDestinationText_[UdpSocketLimits::kAddressTextBytesMax] = {0};
  std::size_t lastDestinationTextLength_ = 0;
  sockaddr_storage lastDestination_{};
  socklen_t lastDestinationLength_ = 0;

  // Error-queue records of the current wake-up, delivered in one call.
  std::vector<ErrorQueueRecord> errorRecords_;

  UdpSocketCounters counters_;
};

#endif  // __linux__

}  // namespace galaxy
