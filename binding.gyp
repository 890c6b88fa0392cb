# Optional native addon for Galaxy's Linux UDP fast path. Built by
# scripts/build-native.mjs during `npm install`; when it cannot be built,
# src/native/loader.ts reports why and Galaxy uses its TS/Wasm paths.
{
  "targets": [
    {
      "target_name": "galaxy_native",
      "sources": [
        "native/galaxy_native.cc",
        "native/capabilities.cc",
        "native/error_queue_decoder.cc",
        "native/error_queue_probe.cc",
        "native/gcm_keyring.cc",
        "native/socket_address.cc",
        "native/udp_socket.cc"
      ],
      # C++ exceptions (NAPI_CPP_EXCEPTIONS), and any std::exception, such as
      # std::bad_alloc, turned into a JavaScript error instead of terminating the
      # process (NODE_ADDON_API_CPP_EXCEPTIONS_ALL): what node-addon-api's
      # node_addon_api_except_all target sets, written out here because a
      # dependency on that target leaves its stamp file in a node-addon-api/
      # folder inside the installed package.
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      # NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS: a Node-API call refused
      # because the environment is stopping (a worker terminated, process.exit)
      # must not become a fatal error inside node-addon-api's Error. The
      # delivery paths of udp_socket.cc check every call by hand; this covers
      # the remaining wrappers.
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_CPP_EXCEPTIONS_ALL"
      ],
      "cflags!": [ "-fno-exceptions" ],
      "cflags_cc!": [ "-std=gnu++17", "-fno-exceptions" ],
      "cflags_cc": [ "-std=c++17", "-Wall", "-Wextra" ],
      "configurations": {
        "Release": {
          # Node's common.gypi asks for -O3; -O2 is plenty for syscall glue
          # and keeps the object code smaller.
          "cflags!": [ "-O3" ],
          "cflags_cc!": [ "-O3" ],
          "cflags": [ "-O2" ],
          "cflags_cc": [ "-O2" ]
        }
      },
      "conditions": [
        [ "OS=='linux'", { "defines": [ "_GNU_SOURCE" ] } ],
        [ "OS=='mac'", { "xcode_settings": { "GCC_ENABLE_CPP_EXCEPTIONS": "YES" } } ]
      ]
    }
  ]
}
