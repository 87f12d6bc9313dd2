// POSIX implementation of Env. Every error names the path and the errno text.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>  // renameat2 (glibc >= 2.28)
#include <cstring>
#include <filesystem>

#include "core/direct_file.h"
#include "core/status_macros.h"
#include "persisting/env.h"

namespace persisting {
namespace {

Status posix_error(const std::string& what, const std::string& path, int err) {
  std::string m = what + " '" + path + "': " + std::strerror(err);
  return IOError(std::move(m));
}

class PosixWritableFile final : public WritableFile {
 public:
  // positioned: opened without O_APPEND (reuse_writable_file), so write_at may write anywhere.
  PosixWritableFile(std::string path, int fd, uint64_t size, bool positioned = false)
      : path_(std::move(path)), fd_(fd), size_(size), positioned_(positioned) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status append(std::string_view data) override {
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return posix_error("write", path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      size_ += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

  Status sync() override {
    if (::fdatasync(fd_) != 0) return posix_error("fdatasync", path_, errno);
    return Status::OK();
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return posix_error("ftruncate", path_, errno);
    // Appends continue at the new end (a reused file is not opened O_APPEND).
    if (::lseek(fd_, static_cast<off_t>(size), SEEK_SET) < 0) return posix_error("lseek", path_, errno);
    size_ = size;
    return Status::OK();
  }

  Status start_writeback() override {
    // Length 0: up to the end of the file. Only starts the writes of pages dirty now.
    if (::sync_file_range(fd_, 0, 0, SYNC_FILE_RANGE_WRITE) != 0)
      return posix_error("sync_file_range", path_, errno);
    return Status::OK();
  }

  Status close() override {
    if (fd_ < 0) return Status::OK();
    int r = ::close(fd_);
    fd_ = -1;
    if (r != 0) return posix_error("close", path_, errno);
    return Status::OK();
  }

  uint64_t size() const override { return size_; }

  Status write_at(uint64_t offset, std::string_view data) override {
    // On Linux, pwrite on an O_APPEND descriptor writes at the end whatever the offset.
    if (!positioned_) return WritableFile::write_at(offset, data);
    const char* p = data.data();
    size_t left = data.size();
    while (left > 0) {
      ssize_t n = ::pwrite(fd_, p, left, static_cast<off_t>(offset));
      if (n < 0) {
        if (errno == EINTR) continue;
        return posix_error("pwrite", path_, errno);
      }
      p += n;
      left -= static_cast<size_t>(n);
      offset += static_cast<uint64_t>(n);
    }
    return Status::OK();
  }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
  bool positioned_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status read(uint64_t offset, size_t n, std::string* out) const override {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out->data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        return posix_error("pread", path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return Status::OK();
  }
  uint64_t size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

// flock() locks belong to the open file description, so two opens in one process conflict
// just as two processes do.
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(int fd) : fd_(fd) {}
  ~PosixFileLock() override { ::close(fd_); }  // closing releases the lock

 private:
  int fd_;
};

class PosixEnv final : public Env {
 public:
  Result<std::unique_ptr<FileLock>> lock_file(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return posix_error("open lock file", path, errno);
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      ::close(fd);
      if (e == EWOULDBLOCK) return FailedPrecondition("'" + path + "' is locked by another writer");
      return posix_error("flock", path, e);
    }
    return std::unique_ptr<FileLock>(new PosixFileLock(fd));
  }

  Result<std::unique_ptr<WritableFile>> new_writable_file(const std::string& path,
                                                          bool truncate) override {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_APPEND;
    if (truncate) flags |= O_TRUNC;
    int fd = ::open(path.c_str(), flags, 0644);
    if (fd < 0) return posix_error("open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return posix_error("fstat", path, e);
    }
    return std::unique_ptr<WritableFile>(
        new PosixWritableFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  Result<std::unique_ptr<WritableFile>> reuse_writable_file(const std::string& path, uint64_t size) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return posix_error("open", path, errno);
    struct stat st;
    if (::fstat(fd, &st) != 0 || ::lseek(fd, static_cast<off_t>(size), SEEK_SET) < 0) {
      int e = errno;
      ::close(fd);
      return posix_error("reuse", path, e);
    }
    if (static_cast<uint64_t>(st.st_size) < size) {
      ::close(fd);
      return InvalidArgument("reusing '" + path + "' from byte " + std::to_string(size) + ": the file has only " +
                             std::to_string(st.st_size));
    }
    return std::unique_ptr<WritableFile>(new PosixWritableFile(path, fd, size, /*positioned=*/true));
  }

  Result<std::unique_ptr<WritableFile>> new_unbuffered_file(const std::string& path) override {
    auto direct = open_direct_file(path);
    if (direct.ok() || direct.status().code() != Code::kNotSupported) return direct;
    return new_writable_file(path, /*truncate=*/true);
  }

  Result<std::unique_ptr<RandomAccessFile>> new_random_access_file(
      const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (errno == ENOENT) return NotFound("no such file '" + path + "'");
      return posix_error("open", path, errno);
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int e = errno;
      ::close(fd);
      return posix_error("fstat", path, e);
    }
    return std::unique_ptr<RandomAccessFile>(
        new PosixRandomAccessFile(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  bool file_exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Result<uint64_t> file_size(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return NotFound("no such file '" + path + "'");
      return posix_error("stat", path, errno);
    }
    return static_cast<uint64_t>(st.st_size);
  }

  Result<FileStamp> stamp(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) return NotFound("no such file '" + path + "'");
      return posix_error("stat", path, errno);
    }
    auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; };
    return FileStamp{ns(st.st_mtim), ns(st.st_ctim), static_cast<uint64_t>(st.st_ino),
                     static_cast<uint64_t>(st.st_size)};
  }

  Result<std::vector<std::string>> get_children(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) {
      if (errno == ENOENT) return NotFound("no such directory '" + dir + "'");
      return posix_error("opendir", dir, errno);
    }
    std::vector<std::string> out;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      out.emplace_back(name);
    }
    ::closedir(d);
    return out;
  }

  Status create_dirs(const std::string& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return IOError("mkdir -p '" + dir + "': " + ec.message());
    return Status::OK();
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return posix_error("unlink", path, errno);
    return Status::OK();
  }

  Status remove_all(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return IOError("rm -r '" + path + "': " + ec.message());
    return Status::OK();
  }

  Status rename_file(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return posix_error("rename to '" + to + "'", from, errno);
    return Status::OK();
  }

  Status link_file(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) {
      if (errno == EEXIST) return AlreadyExists("'" + to + "' already exists");
      return posix_error("link to '" + to + "'", from, errno);
    }
    return Status::OK();
  }

  Status rename_no_replace(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) == 0) return Status::OK();
    if (errno == EEXIST) return AlreadyExists("'" + to + "' already exists");
    if (errno == EINVAL || errno == ENOSYS) return Env::rename_no_replace(from, to);  // no support here
    return posix_error("rename (no replace) to '" + to + "'", from, errno);
  }

  Status sync_dir(const std::string& dir) override {
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return posix_error("open dir", dir, errno);
    int r = ::fsync(fd);
    int e = errno;
    ::close(fd);
    if (r != 0) return posix_error("fsync dir", dir, e);
    return Status::OK();
  }
};

}  // namespace

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv();  // never destroyed: used until process exit
  return env;
}

Result<std::string> Env::read_file(const std::string& path) {
  ASSIGN_OR_RETURN(auto f, new_random_access_file(path));
  std::string out;
  RETURN_IF_ERROR(f->read(0, f->size(), &out));
  return out;
}

Status Env::rename_no_replace(const std::string& from, const std::string& to) {
  RETURN_IF_ERROR(link_file(from, to));
  return remove_file(from);
}

Result<FileStamp> Env::stamp(const std::string& path) {
  return NotSupported("stamp of '" + path + "': this Env cannot say whether a file changed");
}

Result<std::unique_ptr<WritableFile>> Env::reuse_writable_file(const std::string& path, uint64_t) {
  return NotSupported("reusing '" + path + "': this Env cannot write over a file in place");
}

Status WritableFile::write_at(uint64_t offset, std::string_view) {
  return NotSupported("writing at byte " + std::to_string(offset) + ": this file only appends");
}

Result<std::unique_ptr<WritableFile>> Env::new_unbuffered_file(const std::string& path) {
  return new_writable_file(path, /*truncate=*/true);
}

Status Env::write_file_atomic(const std::string& path, std::string_view data) {
  std::string tmp = path + ".tmp";
  {
    ASSIGN_OR_RETURN(auto f, new_writable_file(tmp, /*truncate=*/true));
    RETURN_IF_ERROR(f->append(data));
    RETURN_IF_ERROR(f->sync());
    RETURN_IF_ERROR(f->close());
  }
  RETURN_IF_ERROR(rename_file(tmp, path));
  return sync_dir(dir_name(path));
}

std::string join_path(std::string_view a, std::string_view b) {
  std::string out(a);
  if (!out.empty() && out.back() != '/') out += '/';
  out += b;
  return out;
}

std::string dir_name(std::string_view path) {
  auto pos = path.rfind('/');
  if (pos == std::string_view::npos) return ".";
  if (pos == 0) return "/";
  return std::string(path.substr(0, pos));
}

}  // namespace persisting
