#include "common/port_forwarder.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <list>

#include "common/log.h"

namespace tandem {
namespace {

// More connections than this are accepted and closed at once: a flood must not exhaust tandem's
// descriptors.
constexpr std::size_t kMaxRelays = 1024;
constexpr std::size_t kChunk = 64 * 1024;

// One relayed connection: side 0 is the client that connected to the host's port, side 1 the
// connection to the workload. buffer[i] holds what side i sent and the other side has not yet
// taken.
struct Relay {
  std::array<UniqueFd, 2> fd;
  std::array<std::string, 2> buffer;
  std::array<bool, 2> readClosed{false, false};
  std::array<bool, 2> writeShut{false, false};
  bool connecting = true;
  bool dead = false;
  // What epoll hands back: the relay and the side.
  std::array<std::pair<Relay*, int>, 2> ends;
};

}  // namespace

Result<std::unique_ptr<PortForwarder>> PortForwarder::start(
    const std::vector<PortMapping>& mappings, Ipv4Address target) {
  std::unique_ptr<PortForwarder> forwarder(new PortForwarder());
  forwarder->target_ = target;
  forwarder->epoll_.reset(::epoll_create1(EPOLL_CLOEXEC));
  forwarder->stop_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!forwarder->epoll_ || !forwarder->stop_) {
    return Error::fromErrno("cannot set up the published ports' event loop");
  }
  epoll_event stopEvent{EPOLLIN, {.ptr = nullptr}};
  if (::epoll_ctl(forwarder->epoll_.get(), EPOLL_CTL_ADD, forwarder->stop_.get(), &stopEvent) !=
      0) {
    return Error::fromErrno("cannot watch the published ports' stop event");
  }
  for (const PortMapping& mapping : mappings) {
    UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int on = 1;
    sockaddr_in address = socketAddress(mapping.hostAddress, mapping.hostPort);
    if (!socket || ::setsockopt(socket.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        ::bind(socket.get(), reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
        ::listen(socket.get(), 128) != 0) {
      return Error::fromErrno(
          "cannot publish port " + mapping.text() + ": cannot listen on " +
          mapping.hostAddress.text() + ":" + std::to_string(mapping.hostPort) +
          (errno == EADDRINUSE ? " (something else uses it; pick another)" : ""));
    }
    socklen_t length = sizeof address;
    ::getsockname(socket.get(), reinterpret_cast<sockaddr*>(&address), &length);
    forwarder->boundPorts_.push_back(ntohs(address.sin_port));
    forwarder->listeners_.push_back({std::move(socket), mapping.workloadPort});
  }
  for (Listener& listener : forwarder->listeners_) {
    epoll_event event{EPOLLIN, {.ptr = &listener}};
    if (::epoll_ctl(forwarder->epoll_.get(), EPOLL_CTL_ADD, listener.socket.get(), &event) != 0) {
      return Error::fromErrno("cannot watch a published port");
    }
  }
  PortForwarder* self = forwarder.get();
  forwarder->thread_ = std::thread([self] { self->serve(); });
  return forwarder;
}

PortForwarder::~PortForwarder() {
  if (thread_.joinable()) {
    std::uint64_t one = 1;
    static_cast<void>(::write(stop_.get(), &one, sizeof one));
    thread_.join();
  }
}

void PortForwarder::serve() {
  // Signals to tandem are for the thread that supervises the workload (it reads them from a
  // signalfd); delivered here, SIGTERM would end the process with nothing cleaned up.
  sigset_t all;
  sigfillset(&all);
  ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::list<Relay> relays;
  int epoll = epoll_.get();
  auto watch = [&](Relay& relay, int side, int op) {
    std::uint32_t events = 0;
    int other = 1 - side;
    if (!relay.readClosed[side] && relay.buffer[side].empty() && !relay.connecting) {
      events |= EPOLLIN;
    }
    if (!relay.buffer[other].empty() || (side == 1 && relay.connecting)) {
      events |= EPOLLOUT;
    }
    epoll_event event{events, {.ptr = &relay.ends[side]}};
    ::epoll_ctl(epoll, op, relay.fd[side].get(), &event);
  };
  auto flush = [&](Relay& relay, int to) {
    std::string& pending = relay.buffer[1 - to];
    while (!pending.empty()) {
      ssize_t sent = ::send(relay.fd[to].get(), pending.data(), pending.size(), MSG_NOSIGNAL);
      if (sent < 0) {
        if (errno == EAGAIN || errno == EINTR) return;
        relay.dead = true;
        return;
      }
      pending.erase(0, static_cast<std::size_t>(sent));
    }
    if (relay.readClosed[1 - to] && !relay.writeShut[to]) {
      ::shutdown(relay.fd[to].get(), SHUT_WR);
      relay.writeShut[to] = true;
    }
  };
  std::array<epoll_event, 64> events;
  for (;;) {
    int ready = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), -1);
    if (ready < 0) {
      if (errno == EINTR) continue;
      spdlog::warn("published ports: epoll_wait failed: {}", std::strerror(errno));
      return;
    }
    for (int i = 0; i < ready; ++i) {
      void* tag = events[i].data.ptr;
      if (tag == nullptr) {
        return;  // the stop event
      }
      if (auto* listener = static_cast<Listener*>(tag);
          std::any_of(listeners_.begin(), listeners_.end(),
                      [&](const Listener& l) { return &l == listener; })) {
        UniqueFd client(
            ::accept4(listener->socket.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!client || relays.size() >= kMaxRelays) continue;
        UniqueFd upstream(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        sockaddr_in to = socketAddress(target_, listener->workloadPort);
        if (!upstream ||
            (::connect(upstream.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 &&
             errno != EINPROGRESS)) {
          spdlog::debug("published port: cannot connect to {}:{}: {}", target_.text(),
                        listener->workloadPort, std::strerror(errno));
          continue;
        }
        Relay& relay = relays.emplace_back();
        relay.fd = {std::move(client), std::move(upstream)};
        relay.ends = {std::pair{&relay, 0}, std::pair{&relay, 1}};
        watch(relay, 0, EPOLL_CTL_ADD);
        watch(relay, 1, EPOLL_CTL_ADD);
        continue;
      }
      auto* end = static_cast<std::pair<Relay*, int>*>(tag);
      Relay& relay = *end->first;
      int side = end->second;
      if (relay.dead) continue;
      std::uint32_t what = events[i].events;
      if (side == 1 && relay.connecting) {
        int error = 0;
        socklen_t length = sizeof error;
        ::getsockopt(relay.fd[1].get(), SOL_SOCKET, SO_ERROR, &error, &length);
        if (error != 0) {
          spdlog::debug("published port: the workload refused the connection: {}",
                        std::strerror(error));
          relay.dead = true;
          continue;
        }
        relay.connecting = false;
      }
      if ((what & EPOLLOUT) && !relay.connecting) {
        flush(relay, side);
      }
      if ((what & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !relay.readClosed[side] &&
          relay.buffer[side].empty()) {
        char chunk[kChunk];
        ssize_t got = ::recv(relay.fd[side].get(), chunk, sizeof chunk, 0);
        if (got > 0) {
          relay.buffer[side].assign(chunk, static_cast<std::size_t>(got));
        } else if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
          relay.readClosed[side] = true;
          if (got < 0) relay.dead = true;
        }
        if (!relay.connecting) flush(relay, 1 - side);
      }
      bool finished = relay.readClosed[0] && relay.readClosed[1] && relay.buffer[0].empty() &&
                      relay.buffer[1].empty();
      if (finished) relay.dead = true;
      if (!relay.dead) {
        watch(relay, 0, EPOLL_CTL_MOD);
        watch(relay, 1, EPOLL_CTL_MOD);
      }
    }
    relays.remove_if([](const Relay& relay) { return relay.dead; });
  }
}

}  // namespace tandem
