#include "core/direct_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace persisting {
namespace {

// Buffer and file offsets of O_DIRECT writes must be multiples of the device's logical block
// size; 4 KiB covers every block device Linux supports today.
constexpr size_t kAlign = 4096;
constexpr size_t kBufferBytes = 1 << 20;

Status io_error(const char* what, const std::string& path, int err) {
  return IOError(std::string(what) + " '" + path + "' (direct I/O): " + std::strerror(err));
}

class DirectWritableFile final : public WritableFile {
 public:
  DirectWritableFile(std::string path, int fd, char* buffer)
      : path_(std::move(path)), fd_(fd), buf_(buffer) {}
  ~DirectWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
    std::free(buf_);
  }

  Status append(std::string_view data) override {
    if (fd_ < 0) return FailedPrecondition("append to closed file '" + path_ + "'");
    if (!data.empty()) tail_written_ = false;
    while (!data.empty()) {
      size_t n = std::min(data.size(), kBufferBytes - used_);
      std::memcpy(buf_ + used_, data.data(), n);
      used_ += n;
      data.remove_prefix(n);
      if (used_ == kBufferBytes) {
        RETURN_IF_ERROR(write_at(base_, kBufferBytes));
        base_ += kBufferBytes;
        used_ = 0;
      }
    }
    return Status::OK();
  }

  Status sync() override {
    RETURN_IF_ERROR(write_tail());
    if (::fdatasync(fd_) != 0) return io_error("fdatasync", path_, errno);
    return Status::OK();
  }

  Status truncate(uint64_t size) override {
    // Only within what is still buffered: cutting into blocks already written would need them
    // read back, and nothing that writes direct files does that.
    if (size < base_ || size > base_ + used_)
      return NotSupported("truncate '" + path_ + "' to " + std::to_string(size) +
                          ": a direct-I/O file can only drop bytes it has not written yet");
    used_ = static_cast<size_t>(size - base_);
    tail_written_ = false;
    return Status::OK();
  }

  Status close() override {
    if (fd_ < 0) return Status::OK();
    Status st = write_tail();
    int r = ::close(fd_);
    fd_ = -1;
    if (st.ok() && r != 0) st = io_error("close", path_, errno);
    return st;
  }

  uint64_t size() const override { return base_ + used_; }

 private:
  Status write_at(uint64_t offset, size_t n) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd_, buf_ + done, n - done, static_cast<off_t>(offset + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        return io_error("write", path_, errno);
      }
      if (w == 0 || (static_cast<size_t>(w) % kAlign) != 0)  // a short direct write is not resumable
        return IOError("write '" + path_ + "' (direct I/O): short write of " + std::to_string(w) + " bytes");
      done += static_cast<size_t>(w);
    }
    return Status::OK();
  }

  // Writes the buffered bytes as whole blocks (zero-padded) and cuts the file to its true size.
  // The buffer keeps them: a later append continues the same block and rewrites it.
  Status write_tail() {
    if (fd_ < 0) return FailedPrecondition("sync of closed file '" + path_ + "'");
    if (tail_written_) return Status::OK();
    if (used_ > 0) {
      size_t padded = (used_ + kAlign - 1) / kAlign * kAlign;
      std::memset(buf_ + used_, 0, padded - used_);
      RETURN_IF_ERROR(write_at(base_, padded));
    }
    if (::ftruncate(fd_, static_cast<off_t>(base_ + used_)) != 0) return io_error("ftruncate", path_, errno);
    tail_written_ = true;
    return Status::OK();
  }

  std::string path_;
  int fd_;
  char* buf_;
  uint64_t base_ = 0;  // file offset of buf_[0], a multiple of kAlign
  size_t used_ = 0;
  bool tail_written_ = false;
};

}  // namespace

Result<std::unique_ptr<WritableFile>> open_direct_file(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  if (fd < 0) {
    if (errno == EINVAL) return NotSupported("file system of '" + path + "' refuses O_DIRECT");
    return io_error("open", path, errno);
  }
  char* buf = static_cast<char*>(std::aligned_alloc(kAlign, kBufferBytes));
  if (buf == nullptr) {
    ::close(fd);
    return ResourceExhausted("no memory for the direct-I/O buffer of '" + path + "'");
  }
  return std::unique_ptr<WritableFile>(new DirectWritableFile(path, fd, buf));
}

}  // namespace persisting
