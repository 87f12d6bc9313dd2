// Runs persistingd nodes as separate processes on loopback for the cluster tests.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util/temp_dir.h"

namespace persisting::testing {

// A port nobody listens on right now (the kernel's pick for port 0), never one this process
// handed out before: the kernel may pick a just-closed port again, and two nodes of one cluster
// given the same port refuse to start.
inline int free_port() {
  static std::mutex mu;
  static std::set<int> given;
  std::lock_guard lock(mu);
  for (int attempt = 0;; ++attempt) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    int port = ntohs(a.sin_port);
    ::close(fd);
    if (given.insert(port).second || attempt >= 100) return port;
  }
}

inline bool port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// One child process with stdout+stderr in a log file.
class Process {
 public:
  Process() = default;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process() { kill(SIGKILL); }

  bool start(const std::vector<std::string>& argv, const std::string& log) {
    log_ = log;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) pid_ = -1;
    return pid_ > 0;
  }
  // Sends sig and reaps the process; returns its exit code (-1 when a signal ended it).
  // A process still running kKillPatience after sig (a shutdown that hangs) gets its threads'
  // stacks appended to its log (when gdb is installed), is killed with SIGKILL, and kill returns
  // -3: the test fails with the stacks in front of it instead of waiting for ctest's timeout.
  static constexpr std::chrono::seconds kKillPatience{90};
  int kill(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    if (int code = wait_exit(kKillPatience); code != -2) return code;
    std::fprintf(stderr, "process %d still runs %llds after signal %d: its stacks go to %s\n", static_cast<int>(pid_),
                 static_cast<long long>(kKillPatience.count()), sig, log_.c_str());
    if (::access("/usr/bin/gdb", X_OK) == 0) {
      const std::string cmd = "/usr/bin/gdb -p " + std::to_string(pid_) +
                              " -batch -ex 'thread apply all bt' >> '" + log_ + "' 2>&1 < /dev/null";
      (void)std::system(cmd.c_str());  // best effort: the failure below is what counts
    }
    ::kill(pid_, SIGKILL);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return -3;
  }
  // Waits (bounded) for the process to exit by itself; its exit code (-1 when a signal ended it),
  // or -2 when it still runs after timeout (it is left running).
  int wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    auto end = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= end) return -2;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  // Sends sig without reaping (SIGSTOP, SIGCONT).
  void signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  bool running() const { return pid_ > 0; }
  std::string log() const { return slurp(log_); }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// Waits (bounded: 20 s in 50 ms steps) until something accepts connections on port.
inline bool wait_for_port(int port, const Process& p) {
  for (int i = 0; i < 400; ++i) {
    if (port_open(port)) return true;
    if (!p.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

// n persistingd nodes n1..nN with static membership, each with its own data dir and log.
class Cluster {
 public:
  explicit Cluster(int n, std::vector<std::string> extra_args = {}) : extra_(std::move(extra_args)) {
    for (int i = 0; i < n; ++i) {
      ids_.push_back("n" + std::to_string(i + 1));
      ports_.push_back(free_port());
    }
    use_members(n);
    procs_.resize(n);
  }
  // Nodes started from now on list only the first k nodes as members.
  void use_members(int k) {
    members_.clear();
    for (int i = 0; i < k; ++i) {
      members_ += (i ? "," : "") + ids_[i] + "=127.0.0.1:" + std::to_string(ports_[i]);
      if (static_cast<size_t>(i) < zones_.size() && !zones_[i].empty()) members_ += "@" + zones_[i];
    }
  }
  // Node i's zone in the static member list (id=host:port@zone) from the next start on.
  void set_zones(std::vector<std::string> zones) {
    zones_ = std::move(zones);
    use_members(static_cast<int>(ids_.size()));
  }
  const std::string& members() const { return members_; }
  // Arguments node i gets (after the common ones) from its next start on.
  void set_node_args(int i, std::vector<std::string> args) {
    if (node_args_.size() <= static_cast<size_t>(i)) node_args_.resize(i + 1);
    node_args_[i] = std::move(args);
  }
  // Starts node i (again); true once it accepts connections.
  bool start(int i) {
    procs_[i] = std::make_unique<Process>();
    std::vector<std::string> argv{PERSISTINGD_BIN, "--id", ids_[i], "--listen", address(i),
                                  "--data-dir", dir_.path() + "/" + ids_[i]};
    if (std::find(extra_.begin(), extra_.end(), "--etcd") == extra_.end()) {
      argv.push_back("--members");
      argv.push_back(members_);
    }
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    if (static_cast<size_t>(i) < node_args_.size())
      argv.insert(argv.end(), node_args_[i].begin(), node_args_[i].end());
    if (procs_[i]->start(argv, dir_.path() + "/" + ids_[i] + ".log") && wait_for_port(ports_[i], *procs_[i]))
      return true;
    std::fprintf(stderr, "node %s (%s) did not start (%s); its log:\n%s\n", ids_[i].c_str(), address(i).c_str(),
                 procs_[i]->running() ? "still running, port closed after 20 s" : "exited", log(i).c_str());
    return false;
  }
  bool start_all() {
    for (size_t i = 0; i < ids_.size(); ++i)
      if (!start(static_cast<int>(i))) return false;
    return true;
  }
  int kill(int i, int sig) { return procs_[i]->kill(sig); }
  void signal(int i, int sig) { procs_[i]->signal(sig); }
  std::string address(int i) const { return "127.0.0.1:" + std::to_string(ports_[i]); }
  const std::string& id(int i) const { return ids_[i]; }
  int index_of(const std::string& id) const {
    for (size_t i = 0; i < ids_.size(); ++i)
      if (ids_[i] == id) return static_cast<int>(i);
    return -1;
  }
  std::string log(int i) const { return procs_[i] ? procs_[i]->log() : ""; }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  std::vector<std::string> extra_;
  std::vector<std::vector<std::string>> node_args_;
  std::vector<std::string> ids_;
  std::vector<int> ports_;
  std::string members_;
  std::vector<std::string> zones_;
  std::vector<std::unique_ptr<Process>> procs_;
};

}  // namespace persisting::testing
