#include "core/direct_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "core/status_macros.h"

namespace persisting {
namespace {

constexpr size_t kDefaultAlign = 4096;  // covers every block device with logical blocks up to 4 KiB
constexpr size_t kBufferBytes = 1 << 20;

Status io_error(const char* what, const std::string& path, int err) {
  return IOError(std::string(what) + " '" + path + "' (direct I/O): " + std::strerror(err));
}

class DirectWritableFile final : public WritableFile {
 public:
  DirectWritableFile(std::string path, int fd, char* buffer, size_t align)
      : path_(std::move(path)), fd_(fd), buf_(buffer), align_(align) {}
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

  bool direct() const { return direct_; }

 private:
  Status write_at(uint64_t offset, size_t n) {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::pwrite(fd_, buf_ + done, n - done, static_cast<off_t>(offset + done));
      if (w < 0) {
        if (errno == EINTR) continue;
        if (errno == EINVAL && direct_) {  // the kernel wants other alignment: write buffered
          RETURN_IF_ERROR(stop_direct());
          continue;
        }
        return io_error("write", path_, errno);
      }
      if (w == 0 || (direct_ && static_cast<size_t>(w) % align_ != 0))  // a short direct write is not resumable
        return IOError("write '" + path_ + "' (direct I/O): short write of " + std::to_string(w) + " bytes");
      done += static_cast<size_t>(w);
    }
    return Status::OK();
  }

  Status stop_direct() {
    int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_DIRECT) != 0) return io_error("fcntl", path_, errno);
    direct_ = false;
    return Status::OK();
  }

  // Writes the buffered bytes as whole blocks (zero-padded) and cuts the file to its true size.
  // The buffer keeps them: a later append continues the same block and rewrites it.
  Status write_tail() {
    if (fd_ < 0) return FailedPrecondition("sync of closed file '" + path_ + "'");
    if (tail_written_) return Status::OK();
    if (used_ > 0) {
      size_t padded = (used_ + align_ - 1) / align_ * align_;
      std::memset(buf_ + used_, 0, padded - used_);
      RETURN_IF_ERROR(write_at(base_, padded));
    }
    if (::ftruncate(fd_, static_cast<off_t>(base_ + used_)) != 0) return io_error("ftruncate", path_, errno);
    tail_written_ = true;
    return Status::OK();
  }

  std::string path_;
  int fd_;
  char* buf_;          // kBufferBytes, aligned for direct I/O
  const size_t align_; // file offsets and lengths of direct writes are multiples of it
  uint64_t base_ = 0;  // file offset of buf_[0], a multiple of kBufferBytes
  size_t used_ = 0;
  bool tail_written_ = false;
  bool direct_ = true;
};

// The offset alignment the file system asks of direct I/O on fd; 0 if it cannot do direct I/O
// on this file; kDefaultAlign when it does not say (kernels before 6.1, some file systems).
size_t dio_alignment(int fd) {
  struct statx sx {};
  if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) != 0 || !(sx.stx_mask & STATX_DIOALIGN)) return kDefaultAlign;
  if (sx.stx_dio_offset_align == 0) return 0;
  return std::max<size_t>({sx.stx_dio_offset_align, sx.stx_dio_mem_align, 512});
}

}  // namespace

Result<std::unique_ptr<WritableFile>> open_direct_file(const std::string& path, DirectFileOptions options) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0644);
  if (fd < 0) {
    if (errno == EINVAL) return NotSupported("file system of '" + path + "' refuses O_DIRECT");
    return io_error("open", path, errno);
  }
  size_t align = options.alignment != 0 ? options.alignment : dio_alignment(fd);
  if (align == 0 || align > kBufferBytes || kBufferBytes % align != 0) {
    ::close(fd);
    return NotSupported("file system of '" + path + "' offers no usable direct I/O alignment");
  }
  char* buf = static_cast<char*>(std::aligned_alloc(std::max(align, kDefaultAlign), kBufferBytes));
  if (buf == nullptr) {
    ::close(fd);
    return ResourceExhausted("no memory for the direct-I/O buffer of '" + path + "'");
  }
  return std::unique_ptr<WritableFile>(new DirectWritableFile(path, fd, buf, align));
}

bool writes_direct(const WritableFile& f) {
  auto* d = dynamic_cast<const DirectWritableFile*>(&f);
  return d != nullptr && d->direct();
}

}  // namespace persisting
