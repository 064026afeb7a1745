#include "common/port_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <thread>

#include "tests/unit/unit_test.h"

using namespace tandem;

namespace {

const Ipv4Address kLoopback{0x7f000001};

sockaddr_in loopback(std::uint16_t port) {
  return socketAddress(kLoopback, port);
}

// A server on 127.0.0.1 that echoes one connection back until its client stops sending.
struct EchoServer {
  UniqueFd listener{::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  std::uint16_t port = 0;
  std::thread thread;

  EchoServer() {
    sockaddr_in address = loopback(0);
    assert_int_equal(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof address),
                     0);
    assert_int_equal(::listen(listener.get(), 4), 0);
    socklen_t length = sizeof address;
    ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port = ntohs(address.sin_port);
    thread = std::thread([this] {
      UniqueFd connection(::accept(listener.get(), nullptr, nullptr));
      char buffer[8192];
      ssize_t got;
      while ((got = ::recv(connection.get(), buffer, sizeof buffer, 0)) > 0) {
        ::send(connection.get(), buffer, static_cast<std::size_t>(got), MSG_NOSIGNAL);
      }
    });
  }
  ~EchoServer() { thread.join(); }
};

UniqueFd connectTo(std::uint16_t port) {
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address = loopback(port);
  assert_int_equal(::connect(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address),
                   0);
  return socket;
}

void mappings_parse_as_docker_writes_them(void**) {
  auto both = parsePortMapping("8080:80");
  assert_true(both.ok());
  assert_int_equal(both->hostPort, 8080);
  assert_int_equal(both->workloadPort, 80);
  assert_int_equal(both->hostAddress.value, 0);
  auto same = parsePortMapping("443/tcp");
  assert_int_equal(same->hostPort, 443);
  assert_int_equal(same->workloadPort, 443);
  auto bound = parsePortMapping("127.0.0.1:0:22");
  assert_true(bound->hostAddress == kLoopback);
  assert_int_equal(bound->hostPort, 0);
  assert_string_equal(bound->text().c_str(), "127.0.0.1:0:22");
  for (const char* bad : {"", "0", "80:", ":80", "70000:80", "8080:0", "x:80", "1.2.3:80:80",
                          "80/udp", "8080:80:90:1"}) {
    if (parsePortMapping(bad).ok()) fail_msg("\"%s\" parsed", bad);
  }
}

void a_connection_is_relayed_both_ways(void**) {
  EchoServer server;
  auto forwarder = PortForwarder::start({{0, server.port, kLoopback}}, kLoopback);
  assert_true(forwarder.ok());
  std::uint16_t published = (*forwarder)->boundPorts().front();
  assert_true(published != 0 && published != server.port);

  UniqueFd client = connectTo(published);
  std::string sent(1 << 20, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>(i * 7 + i / 4096);
  std::thread writer([&] {
    std::size_t done = 0;
    while (done < sent.size()) {
      ssize_t n = ::send(client.get(), sent.data() + done, sent.size() - done, MSG_NOSIGNAL);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    ::shutdown(client.get(), SHUT_WR);
  });
  std::string received;
  char buffer[65536];
  ssize_t got;
  while ((got = ::recv(client.get(), buffer, sizeof buffer, 0)) > 0) {
    received.append(buffer, static_cast<std::size_t>(got));
  }
  writer.join();
  assert_int_equal(received.size(), sent.size());
  assert_true(received == sent);
}

void a_refused_workload_closes_the_client(void**) {
  // A port nothing listens on: bind one, note it, close it.
  std::uint16_t closed;
  {
    UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address = loopback(0);
    ::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t length = sizeof address;
    ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length);
    closed = ntohs(address.sin_port);
  }
  auto forwarder = PortForwarder::start({{0, closed, kLoopback}}, kLoopback);
  assert_true(forwarder.ok());
  UniqueFd client = connectTo((*forwarder)->boundPorts().front());
  char byte;
  assert_true(::recv(client.get(), &byte, 1, 0) <= 0);
}

void a_port_in_use_is_an_error_at_start(void**) {
  EchoServer server;
  auto forwarder = PortForwarder::start({{server.port, 80, kLoopback}}, kLoopback);
  assert_false(forwarder.ok());
  assert_int_equal(forwarder.error().errnum(), EADDRINUSE);
  assert_non_null(std::strstr(forwarder.error().message().c_str(), "pick another"));
  // The server still waits for its one connection.
  UniqueFd client = connectTo(server.port);
}

}  // namespace

int main() {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(mappings_parse_as_docker_writes_them),
      cmocka_unit_test(a_connection_is_relayed_both_ways),
      cmocka_unit_test(a_refused_workload_closes_the_client),
      cmocka_unit_test(a_port_in_use_is_an_error_at_start),
  };
  return cmocka_run_group_tests(tests, nullptr, nullptr);
}
