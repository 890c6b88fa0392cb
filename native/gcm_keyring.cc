#include "gcm_keyring.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

namespace galaxy {
namespace {

constexpr std::size_t kKeyBytes = 32;
constexpr std::uint8_t kSealVersion = 1;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kOverheadBytes = 1 + kNonceBytes + kTagBytes;
// Must match kKeyringKeysMax in src/security/keyring.ts.
constexpr std::size_t kKeysMax = 16;
// The largest message either direction handles (a UDP payload); frames above it
// take the TypeScript path.
constexpr std::size_t kMessageBytesMax = 65536;

// Results of open(): a non-negative plaintext length, or one of these.
constexpr int kResultMalformed = -1;
constexpr int kResultNotAuthenticated = -2;
constexpr int kResultBadBuffer = -3;

const char* const kCodeBadArgument = "GALAXY_NATIVE_BAD_ARGUMENT";
const char* const kCodeCrypto = "GALAXY_NATIVE_CRYPTO";

struct ContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using Context = std::unique_ptr<EVP_CIPHER_CTX, ContextDeleter>;

Napi::Error codedError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error error = code == kCodeBadArgument ? Napi::TypeError::New(env, message) : Napi::Error::New(env, message);
  error.Set("code", Napi::String::New(env, code));
  return error;
}

class GcmKeyring : public Napi::ObjectWrap<GcmKeyring> {
 public:
  static Napi::Function defineClass(Napi::Env env) {
    return DefineClass(env, "GcmKeyring",
                       {InstanceMethod<&GcmKeyring::open>("open"), InstanceMethod<&GcmKeyring::seal>("seal"),
                        InstanceMethod<&GcmKeyring::openBatch>("openBatch"), InstanceMethod<&GcmKeyring::sealBatch>("sealBatch")});
  }

  // new GcmKeyring(keys: Uint8Array[]): the first key seals, every key opens.
  explicit GcmKeyring(const Napi::CallbackInfo& info) : Napi::ObjectWrap<GcmKeyring>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw codedError(env, kCodeBadArgument, "new GcmKeyring(keys): keys must be an array");
    Napi::Array keys = info[0].As<Napi::Array>();
    if (keys.Length() == 0 || keys.Length() > kKeysMax) throw codedError(env, kCodeBadArgument, "new GcmKeyring(keys): 1 to 16 keys");
    for (std::uint32_t index = 0; index < keys.Length(); ++index) {
      Napi::Value key = keys.Get(index);
      if (!key.IsTypedArray() || key.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
          key.As<Napi::Uint8Array>().ElementLength() != kKeyBytes) {
        throw codedError(env, kCodeBadArgument, "new GcmKeyring(keys): every key must be a 32-byte Uint8Array");
      }
      const std::uint8_t* bytes = key.As<Napi::Uint8Array>().Data();
      // The key schedule is computed here, once; each message only sets its nonce.
      Context opener(EVP_CIPHER_CTX_new());
      if (!opener || EVP_DecryptInit_ex(opener.get(), EVP_aes_256_gcm(), nullptr, bytes, nullptr) != 1) {
        throw codedError(env, kCodeCrypto, "new GcmKeyring: EVP_DecryptInit_ex failed");
      }
      openers_.push_back(std::move(opener));
      if (index == 0) {
        sealer_.reset(EVP_CIPHER_CTX_new());
        if (!sealer_ || EVP_EncryptInit_ex(sealer_.get(), EVP_aes_256_gcm(), nullptr, bytes, nullptr) != 1) {
          throw codedError(env, kCodeCrypto, "new GcmKeyring: EVP_EncryptInit_ex failed");
        }
      }
    }
  }

 private:
  // Opens one sealed message into `out` (at offset 0). Returns the plaintext
  // length, kResultMalformed, or kResultNotAuthenticated when no key opens it.
  int openOne(const std::uint8_t* sealed, std::size_t length, std::uint8_t* out) {
    if (length < kOverheadBytes || length > kMessageBytesMax || sealed[0] != kSealVersion) return kResultMalformed;
    const std::uint8_t* nonce = sealed + 1;
    const std::uint8_t* body = sealed + 1 + kNonceBytes;
    const int bodyBytes = static_cast<int>(length - kOverheadBytes);
    std::uint8_t tag[kTagBytes];
    std::memcpy(tag, sealed + length - kTagBytes, kTagBytes);
    for (Context& context : openers_) {
      EVP_CIPHER_CTX* c = context.get();
      int written = 0;
      int ignored = 0;
      if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce) != 1) continue;
      if (EVP_DecryptUpdate(c, nullptr, &ignored, sealed, 1) != 1) continue;
      if (bodyBytes > 0 && EVP_DecryptUpdate(c, out, &written, body, bodyBytes) != 1) continue;
      if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, kTagBytes, tag) != 1) continue;
      int tail = 0;
      // A wrong key fails here, as a return value: no exception on the hot path.
      if (EVP_DecryptFinal_ex(c, out + written, &tail) == 1) return written + tail;
    }
    return kResultNotAuthenticated;
  }

  // open(sealed: Uint8Array, out: Uint8Array): number — plaintext length at
  // out[0..], -1 malformed, -2 not authenticated, -3 out too small.
  Napi::Value open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Uint8Array sealed = uint8Argument(info, 0, "open(sealed, out)");
    Napi::Uint8Array out = uint8Argument(info, 1, "open(sealed, out)");
    if (sealed.ElementLength() >= kOverheadBytes && out.ElementLength() < sealed.ElementLength() - kOverheadBytes) {
      return Napi::Number::New(env, kResultBadBuffer);
    }
    return Napi::Number::New(env, openOne(sealed.Data(), sealed.ElementLength(), out.Data()));
  }

  // The arguments openBatch and sealBatch share: (buffer, count, slotBytes, lengths:
  // Uint32Array, results: Int32Array, out), checked so that count slots of slotBytes fit
  // in buffer and out and count entries in lengths and results.
  struct Batch {
    Napi::Uint8Array buffer;
    std::uint32_t count;
    std::uint32_t slotBytes;
    Napi::Uint32Array lengths;
    Napi::Int32Array results;
    Napi::Uint8Array out;
  };

  Batch batchArguments(const Napi::CallbackInfo& info, const char* usage) {
    Napi::Env env = info.Env();
    Napi::Uint8Array buffer = uint8Argument(info, 0, usage);
    if (!info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsTypedArray() || !info[4].IsTypedArray() ||
        info[3].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array ||
        info[4].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
      throw codedError(env, kCodeBadArgument, std::string(usage) + ": count and slotBytes numbers, lengths a Uint32Array, results an Int32Array");
    }
    Napi::Uint8Array out = uint8Argument(info, 5, usage);
    const std::uint32_t count = info[1].As<Napi::Number>().Uint32Value();
    const std::uint32_t slotBytes = info[2].As<Napi::Number>().Uint32Value();
    Napi::Uint32Array lengths = info[3].As<Napi::Uint32Array>();
    Napi::Int32Array results = info[4].As<Napi::Int32Array>();
    if (lengths.ElementLength() < count || results.ElementLength() < count ||
        std::size_t{count} * slotBytes > buffer.ElementLength() || std::size_t{count} * slotBytes > out.ElementLength()) {
      throw codedError(env, kCodeBadArgument, std::string(usage) + ": buffers too small for count slots");
    }
    return Batch{buffer, count, slotBytes, lengths, results, out};
  }

  // openBatch(buffer, count, slotBytes, lengths: Uint32Array, results: Int32Array, out):
  // opens `count` messages, message i at buffer[i * slotBytes] with length
  // lengths[i], into out[i * slotBytes]; results[i] is openOne's result. One
  // crossing for a whole recvmmsg batch. Returns how many opened.
  Napi::Value openBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* usage = "openBatch(buffer, count, slotBytes, lengths, results, out)";
    Batch b = batchArguments(info, usage);
    std::uint32_t opened = 0;
    for (std::uint32_t i = 0; i < b.count; ++i) {
      const std::size_t at = std::size_t{i} * b.slotBytes;
      const std::uint32_t length = b.lengths[i];
      const int result = length > b.slotBytes ? kResultMalformed : openOne(b.buffer.Data() + at, length, b.out.Data() + at);
      b.results[i] = result;
      if (result >= 0) ++opened;
    }
    return Napi::Number::New(env, opened);
  }

  // Seals message i at buffer[i*slotBytes] (lengths[i] bytes) into out[i*slotBytes] with
  // the primary key's context, in one call for a whole send batch (issue 14); results[i]
  // is the sealed length, or kResultBadBuffer when it would not fit its slot. `nonces`
  // (count*12 bytes, tests only) replaces the generated nonces. Returns how many sealed.
  Napi::Value sealBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* usage = "sealBatch(buffer, count, slotBytes, lengths, results, out, nonces?)";
    Batch b = batchArguments(info, usage);
    const std::uint8_t* nonces = nullptr;
    if (info.Length() >= 7 && !info[6].IsUndefined()) {
      Napi::Uint8Array given = uint8Argument(info, 6, usage);
      if (given.ElementLength() < std::size_t{b.count} * kNonceBytes) throw codedError(env, kCodeBadArgument, "sealBatch: nonces must hold 12 bytes per message");
      nonces = given.Data();
    }
    std::uint32_t sealedCount = 0;
    for (std::uint32_t i = 0; i < b.count; ++i) {
      const std::size_t at = std::size_t{i} * b.slotBytes;
      const std::uint32_t length = b.lengths[i];
      if (length > b.slotBytes || std::size_t{length} + kOverheadBytes > b.slotBytes) {
        b.results[i] = kResultBadBuffer;
        continue;
      }
      std::uint8_t* sealed = b.out.Data() + at;
      sealed[0] = kSealVersion;
      if (nonces != nullptr) std::memcpy(sealed + 1, nonces + std::size_t{i} * kNonceBytes, kNonceBytes);
      else nextNonce(env, sealed + 1);
      const int written = sealOne(b.buffer.Data() + at, length, sealed);
      if (written < 0) throw codedError(env, kCodeCrypto, "sealBatch: AES-256-GCM encryption failed");
      b.results[i] = written;
      ++sealedCount;
    }
    return Napi::Number::New(env, sealedCount);
  }

  // Seals `length` plaintext bytes into sealed[] whose version byte and nonce are set; the sealed length, or -1.
  int sealOne(const std::uint8_t* plaintext, std::size_t length, std::uint8_t* sealed) {
    EVP_CIPHER_CTX* c = sealer_.get();
    int written = 0;
    int ignored = 0;
    int tail = 0;
    if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, sealed + 1) != 1 ||
        EVP_EncryptUpdate(c, nullptr, &ignored, sealed, 1) != 1 ||
        (length > 0 && EVP_EncryptUpdate(c, sealed + 1 + kNonceBytes, &written, plaintext, static_cast<int>(length)) != 1) ||
        EVP_EncryptFinal_ex(c, sealed + 1 + kNonceBytes + written, &tail) != 1 ||
        EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, kTagBytes, sealed + 1 + kNonceBytes + written + tail) != 1) {
      return -1;
    }
    return static_cast<int>(kOverheadBytes + written + tail);
  }

  // seal(plaintext: Uint8Array, out: Uint8Array, nonce?: Uint8Array): number —
  // the sealed length written at out[0..], or -3 when out is too small. The
  // nonce comes from nextNonce() unless one is given (tests compare bytes).
  Napi::Value seal(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Uint8Array plaintext = uint8Argument(info, 0, "seal(plaintext, out, nonce?)");
    Napi::Uint8Array out = uint8Argument(info, 1, "seal(plaintext, out, nonce?)");
    const std::size_t length = plaintext.ElementLength();
    if (length > kMessageBytesMax || out.ElementLength() < length + kOverheadBytes) return Napi::Number::New(env, kResultBadBuffer);
    std::uint8_t* sealed = out.Data();
    sealed[0] = kSealVersion;
    if (info.Length() >= 3 && !info[2].IsUndefined()) {
      Napi::Uint8Array nonce = uint8Argument(info, 2, "seal(plaintext, out, nonce?)");
      if (nonce.ElementLength() != kNonceBytes) throw codedError(env, kCodeBadArgument, "seal: the nonce must be 12 bytes");
      std::memcpy(sealed + 1, nonce.Data(), kNonceBytes);
    } else {
      nextNonce(env, sealed + 1);
    }
    // The plaintext may be a view of the same memory as out only if it does not overlap the output.
    const int written = sealOne(plaintext.Data(), length, sealed);
    if (written < 0) throw codedError(env, kCodeCrypto, "seal: AES-256-GCM encryption failed");
    return Napi::Number::New(env, written);
  }

  // Nonces: a random 96-bit start drawn from OpenSSL's DRBG, then a counter added to
  // its low 64 bits, redrawn every kNoncesPerDraw messages. A per-message RAND_bytes
  // cost as much as the encryption itself. Collisions between senders sharing a key
  // are as unlikely as with a fresh random nonce per message (the starts are random
  // and the runs short against 2^64); within one sender they cannot happen.
  void nextNonce(Napi::Env env, std::uint8_t* nonce) {
    if (noncesLeft_ == 0) {
      if (RAND_bytes(nonceBase_, kNonceBytes) != 1) throw codedError(env, kCodeCrypto, "seal: RAND_bytes failed");
      std::memcpy(&nonceCounter_, nonceBase_ + 4, sizeof nonceCounter_);
      noncesLeft_ = kNoncesPerDraw;
    }
    --noncesLeft_;
    ++nonceCounter_;
    std::memcpy(nonce, nonceBase_, 4);
    std::memcpy(nonce + 4, &nonceCounter_, sizeof nonceCounter_);
  }

  static Napi::Uint8Array uint8Argument(const Napi::CallbackInfo& info, std::size_t index, const char* usage) {
    if (info.Length() <= index || !info[index].IsTypedArray() ||
        info[index].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw codedError(info.Env(), kCodeBadArgument, std::string(usage) + ": argument " + std::to_string(index + 1) + " must be a Uint8Array");
    }
    return info[index].As<Napi::Uint8Array>();
  }

  static constexpr std::uint32_t kNoncesPerDraw = 1u << 20;
  std::vector<Context> openers_;
  Context sealer_;
  std::uint8_t nonceBase_[kNonceBytes] = {};
  std::uint64_t nonceCounter_ = 0;
  std::uint32_t noncesLeft_ = 0;
};

}  // namespace

Napi::Function defineGcmKeyringClass(Napi::Env env) { return GcmKeyring::defineClass(env); }

}  // namespace galaxy
