// What the WAL kill tests share: starting a child that appends and reports what it has
// acknowledged on stdout, and killing it with SIGKILL at a random moment while it works.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

namespace persisting::wal::testing {

// PERSISTING_KILL_ITERATIONS, else 50 (CI); 1,000 by hand.
inline int kill_iterations() {
  const char* v = std::getenv("PERSISTING_KILL_ITERATIONS");
  return v != nullptr && std::atoi(v) > 0 ? std::atoi(v) : 50;
}

struct Child {
  pid_t pid = -1;
  int out = -1;  // read end of the child's stdout
};

// Runs program with args, its stdout on a pipe. pid -1 when the pipe could not be made.
inline Child spawn_child(const char* program, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    std::vector<const char*> argv{program};
    for (const auto& a : args) argv.push_back(a.c_str());
    argv.push_back(nullptr);
    ::execv(program, const_cast<char* const*>(argv.data()));
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

// Reads what is available on fd into *buf, waiting at most timeout_ms. Returns false at EOF.
inline bool pump(int fd, std::string* buf, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, timeout_ms) <= 0) return true;
  char tmp[65536];
  ssize_t n = ::read(fd, tmp, sizeof(tmp));
  if (n <= 0) return false;
  buf->append(tmp, static_cast<size_t>(n));
  return true;
}

// Lets the child get going (its first line; a hang guard of 60 s, nothing here measures time),
// kills it with SIGKILL within 30 ms after, and reads all it wrote. Returns its wait status.
inline int kill_at_random(Child c, std::mt19937& rng, std::string* out) {
  const auto guard = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool open = true;
  while (open && out->find('\n') == std::string::npos && std::chrono::steady_clock::now() < guard) {
    open = pump(c.out, out, 100);
  }
  const auto kill_at = std::chrono::steady_clock::now() + std::chrono::microseconds(rng() % 30000);
  while (open && std::chrono::steady_clock::now() < kill_at) open = pump(c.out, out, 1);
  ::kill(c.pid, SIGKILL);
  int status = 0;
  ::waitpid(c.pid, &status, 0);
  while (pump(c.out, out, 1000)) {
  }
  ::close(c.out);
  return status;
}

}  // namespace persisting::wal::testing
