// Issue 13, the node's defects: each test starts persistingd (and the CLI) as processes and
// checks what an operator or a hostile user sees.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include <fstream>

#include "net/node_process.h"
#include "util/run_process.h"

namespace persisting {
namespace {

using testing::Cluster;
using testing::free_port;
using testing::Process;
using testing::run_process;

constexpr auto kExitWait = std::chrono::seconds(15);

std::string loopback(int port) { return "127.0.0.1:" + std::to_string(port); }

// A node that must refuse to start: its exit code (-2 when it was still running after kExitWait,
// then killed) and its output.
struct Refused {
  int exit_code;
  std::string log;
};
Refused start_refused(const std::vector<std::string>& args, const std::string& log_path) {
  Process p;
  std::vector<std::string> argv{PERSISTINGD_BIN};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!p.start(argv, log_path)) return {-3, "spawn failed"};
  int code = p.wait_exit(kExitWait);
  if (code == -2) p.kill(SIGKILL);
  return {code, p.log()};
}

TEST(NodeHardening, Defect1_SecondNodeOnServedPortFailsAddressInUse) {
  Cluster cluster(1, {"--token", "secret"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto r = start_refused({"--id", "n1", "--listen", cluster.address(0), "--data-dir", cluster.dir() + "/b"},
                         cluster.dir() + "/second.log");
  EXPECT_NE(r.exit_code, 0) << r.log;
  EXPECT_NE(r.exit_code, -2) << "the second node is serving on a port in use:\n" << r.log;
  EXPECT_NE(r.log.find("address in use"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find(cluster.address(0)), std::string::npos) << r.log;
}

TEST(NodeHardening, Defect1_SecondNodeOnServedMetricsPortFailsAddressInUse) {
  std::string metrics = loopback(free_port());
  Cluster cluster(1, {"--metrics", metrics});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto r = start_refused({"--id", "n2", "--listen", loopback(free_port()), "--data-dir", cluster.dir() + "/b",
                          "--metrics", metrics},
                         cluster.dir() + "/second.log");
  EXPECT_NE(r.exit_code, 0) << r.log;
  EXPECT_NE(r.exit_code, -2) << "the second node is serving metrics on a port in use:\n" << r.log;
  EXPECT_NE(r.log.find("address in use"), std::string::npos) << r.log;
}

TEST(NodeHardening, Defect8_SecondNodeOnADataDirInUseRefusesToStart) {
  Cluster cluster(1);
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  std::string dir = cluster.dir() + "/n1";
  auto r = start_refused({"--id", "n2", "--listen", loopback(free_port()), "--data-dir", dir},
                         cluster.dir() + "/second.log");
  EXPECT_NE(r.exit_code, 0) << r.log;
  EXPECT_NE(r.exit_code, -2) << "the second node is serving a data dir in use:\n" << r.log;
  EXPECT_NE(r.log.find("data dir " + dir + " is in use by another process"), std::string::npos) << r.log;
  // The embedded CLI does not write behind the node's back either.
  auto put = run_process({PERSISTING_BIN, "put", "--data-dir", dir, "--topic", "behind", "-"}, "{\"id\":1}\n");
  EXPECT_NE(put.exit_code, 0) << put.out << put.err;
  EXPECT_NE(put.err.find("served by a persistingd node"), std::string::npos) << put.err;
  EXPECT_NE(put.err.find("--server"), std::string::npos) << put.err;
  // Once the node stopped, both work again.
  EXPECT_EQ(cluster.kill(0, SIGTERM), 0) << cluster.log(0);
  auto again = run_process({PERSISTING_BIN, "put", "--data-dir", dir, "--topic", "behind", "-"}, "{\"id\":1}\n");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  ASSERT_TRUE(cluster.start(0)) << cluster.log(0);
}

// A connected socket that sent part of a request and then nothing.
int slow_client(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    return -1;
  }
  const char partial[] = "GET /healthz HTTP/1.1\r\n";
  (void)!::write(fd, partial, sizeof partial - 1);
  return fd;
}

int healthz_status(int port) {
  httplib::Client http("127.0.0.1", port);
  http.set_connection_timeout(3, 0);
  http.set_read_timeout(3, 0);
  auto r = http.Get("/healthz");
  return r ? r->status : -1;
}

TEST(NodeHardening, Defect9_HealthzAnswersWhileSlowClientsHoldConnections) {
  int mport = free_port();
  Cluster cluster(1, {"--metrics", loopback(mport)});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  for (int i = 0; i < 100 && !testing::port_open(mport); ++i)  // bounded: 5 s
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(healthz_status(mport), 200);
  std::vector<int> fds;
  for (int n : {8, 50}) {
    while (static_cast<int>(fds.size()) < n) {
      int fd = slow_client(mport);
      ASSERT_GE(fd, 0);
      fds.push_back(fd);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the server take them
    EXPECT_EQ(healthz_status(mport), 200) << "with " << n << " slow clients";
  }
  for (int fd : fds) ::close(fd);
}

TEST(NodeHardening, Defect11_NonLoopbackAddressWithoutTokenWarns) {
  testing::TempDir dir;
  // 192.0.2.1 (TEST-NET-1) is no local address: the node warns, then fails to bind, and nothing
  // is ever exposed.
  auto r = start_refused({"--id", "n1", "--listen", "192.0.2.1:" + std::to_string(free_port())},
                         dir.path() + "/a.log");
  EXPECT_NE(r.exit_code, 0) << r.log;
  EXPECT_NE(r.log.find("WARNING"), std::string::npos) << r.log;
  EXPECT_NE(r.log.find("no --token"), std::string::npos) << r.log;
  auto m = start_refused({"--id", "n1", "--listen", loopback(free_port()), "--metrics",
                          "192.0.2.1:" + std::to_string(free_port())},
                         dir.path() + "/b.log");
  EXPECT_NE(m.exit_code, 0) << m.log;
  EXPECT_NE(m.log.find("WARNING"), std::string::npos) << m.log;
  // A loopback node says nothing of the kind.
  Cluster quiet(1);
  ASSERT_TRUE(quiet.start_all());
  EXPECT_EQ(quiet.log(0).find("WARNING"), std::string::npos) << quiet.log(0);
}

TEST(NodeHardening, Defect11_EmptyTokenIsRefused) {
  testing::TempDir dir;
  auto r = start_refused({"--id", "n1", "--listen", loopback(free_port()), "--token", ""}, dir.path() + "/a.log");
  EXPECT_EQ(r.exit_code, 2) << r.log;
  EXPECT_NE(r.log.find("--token is empty"), std::string::npos) << r.log;
  std::ofstream(dir.path() + "/empty") << "\n";
  auto f = start_refused({"--id", "n1", "--listen", loopback(free_port()), "--token-file", dir.path() + "/empty"},
                         dir.path() + "/b.log");
  EXPECT_EQ(f.exit_code, 2) << f.log;
  EXPECT_NE(f.log.find("is empty"), std::string::npos) << f.log;
}

// persistingd --log-level: an unknown level is a usage error naming it (exit 2, nothing served).
TEST(NodeHardening, UnknownLogLevelIsRefused) {
  testing::TempDir dir;
  auto r = start_refused({"--id", "n1", "--listen", loopback(free_port()), "--log-level", "loud"}, dir.path() + "/a.log");
  EXPECT_EQ(r.exit_code, 2) << r.log;
  EXPECT_NE(r.log.find("log level 'loud'"), std::string::npos) << r.log;
}

TEST(NodeHardening, Defect11_NodeWithoutDataDirSaysMemoryOnly) {
  testing::TempDir dir;
  int port = free_port();
  Process node;
  ASSERT_TRUE(node.start({PERSISTINGD_BIN, "--id", "n1", "--listen", loopback(port)}, dir.path() + "/n.log"));
  ASSERT_TRUE(testing::wait_for_port(port, node)) << node.log();
  EXPECT_NE(node.log().find("no --data-dir: only the memory backend"), std::string::npos) << node.log();
  for (const char* backend : {"persisting", "lance"}) {
    auto put = run_process(
        {PERSISTING_BIN, "put", "--server", loopback(port), "--topic", backend, "--backend", backend, "-"},
        "{\"id\":1}\n");
    EXPECT_NE(put.exit_code, 0) << put.out;
    EXPECT_NE(put.err.find("no --data-dir"), std::string::npos) << backend << ": " << put.err;
  }
  auto mem = run_process({PERSISTING_BIN, "put", "--server", loopback(port), "--topic", "m", "--backend", "memory", "-"},
                         "{\"id\":1}\n");
  EXPECT_EQ(mem.exit_code, 0) << mem.err;
}

TEST(NodeHardening, Defect11_FrozenNodeIsNotAliveInClusterStatus) {
  Cluster cluster(2);
  ASSERT_TRUE(cluster.start_all());
  auto before = run_process({PERSISTING_BIN, "cluster", "status", "--server", cluster.address(0)});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  EXPECT_EQ(before.out.find("\"alive\":false"), std::string::npos) << before.out;
  cluster.signal(1, SIGSTOP);
  auto st = run_process({PERSISTING_BIN, "cluster", "status", "--server", cluster.address(0)});
  cluster.signal(1, SIGCONT);
  ASSERT_EQ(st.exit_code, 0) << st.err;
  auto n2 = st.out.find("\"id\":\"n2\"");
  ASSERT_NE(n2, std::string::npos) << st.out;
  auto end = st.out.find('}', n2);
  std::string entry = st.out.substr(n2, end - n2);
  EXPECT_NE(entry.find("\"alive\":false"), std::string::npos) << st.out;
  EXPECT_NE(entry.find("\"detail\":"), std::string::npos) << st.out;
}

TEST(NodeHardening, Defect11_PlaintextClientToTlsNodeGetsAHintAndNoGrpcLogLines) {
  testing::TempDir pki;
  std::string d = pki.path();
  auto sh = [&](const std::string& cmd) {
    auto r = run_process({"/bin/sh", "-c", cmd});
    ASSERT_EQ(r.exit_code, 0) << cmd << "\n" << r.err;
  };
  sh("cd " + d + " && " + OPENSSL_BIN +
     " req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1"
     " -keyout node.key -out node.pem 2>/dev/null");
  Cluster cluster(1, {"--tls-cert", d + "/node.pem", "--tls-key", d + "/node.key"});
  ASSERT_TRUE(cluster.start_all()) << cluster.log(0);
  auto plain = run_process({PERSISTING_BIN, "topics", "--server", cluster.address(0)});
  EXPECT_NE(plain.exit_code, 0);
  EXPECT_NE(plain.err.find("--tls-ca"), std::string::npos) << plain.err;
  EXPECT_EQ(plain.err.find(".cc:"), std::string::npos) << plain.err;
  // TLS to a plaintext node: the client's own TLS failure is no raw gRPC line either.
  Cluster clear(1);
  ASSERT_TRUE(clear.start_all());
  auto tls = run_process({PERSISTING_BIN, "topics", "--server", clear.address(0), "--tls-ca", d + "/node.pem"});
  EXPECT_NE(tls.exit_code, 0);
  EXPECT_EQ(tls.err.find(".cc:"), std::string::npos) << tls.err;
  EXPECT_NE(tls.err.find("may not serve TLS"), std::string::npos) << tls.err;
  EXPECT_EQ(cluster.kill(0, SIGTERM), 0);
  EXPECT_EQ(cluster.log(0).find("ssl_transport_security"), std::string::npos) << cluster.log(0);
}

}  // namespace
}  // namespace persisting
