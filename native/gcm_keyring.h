// AES-256-GCM sealing with OpenSSL EVP contexts made once per key and reused
// for every message, in the wire format of src/security/keyring.ts:
//   u8 version (1, authenticated as additional data) | 12-byte nonce |
//   ciphertext | 16-byte tag.
// Node exports its own OpenSSL (the one node:crypto uses), so the addon links
// against the very library the TypeScript fallback calls.
#pragma once

#include <napi.h>

namespace galaxy {

Napi::Function defineGcmKeyringClass(Napi::Env env);

}  // namespace galaxy
