// A socket descriptor that closes itself, so that every early return in the
// probes releases its file descriptors without a hand-written cleanup path.
#pragma once

#include <unistd.h>

namespace galaxy {

class ScopedSocket {
 public:
  explicit ScopedSocket(int fileDescriptor = -1) noexcept : fileDescriptor_(fileDescriptor) {}
  ~ScopedSocket() { reset(); }

  ScopedSocket(const ScopedSocket&) = delete;
  ScopedSocket& operator=(const ScopedSocket&) = delete;

  ScopedSocket(ScopedSocket&& other) noexcept : fileDescriptor_(other.fileDescriptor_) {
    other.fileDescriptor_ = -1;
  }
  ScopedSocket& operator=(ScopedSocket&& other) noexcept {
    if (this != &other) {
      reset();
      fileDescriptor_ = other.fileDescriptor_;
      other.fileDescriptor_ = -1;
    }
    return *this;
  }

  int get() const noexcept { return fileDescriptor_; }
  bool valid() const noexcept { return fileDescriptor_ >= 0; }

  // Closing early matters when a probe needs a port to become free again.
  void reset() noexcept {
    if (fileDescriptor_ >= 0) {
      ::close(fileDescriptor_);
      fileDescriptor_ = -1;
    }
  }

 private:
  int fileDescriptor_;
};

}  // namespace galaxy
