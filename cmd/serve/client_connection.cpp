#include "serve/client_connection.hpp"

#include <filesystem>
#include <string>

#include <netdb.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace llmctl::serve {
namespace {

// The address and port as cpp-httplib writes them (getnameinfo, numeric).
bool endpoint_matches(const sockaddr_storage& address, socklen_t length, const std::string& host, int port) {
  char name[NI_MAXHOST];
  char service[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<const sockaddr*>(&address), length, name, sizeof name, service, sizeof service,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return false;
  return host == name && std::to_string(port) == service;
}

}  // namespace

ClientConnection::ClientConnection(const httplib::Request& request)
    : remote_addr_(request.remote_addr),
      local_addr_(request.local_addr),
      remote_port_(request.remote_port),
      local_port_(request.local_port) {}

int ClientConnection::find_socket() const {
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd", error)) {
    const int fd = std::stoi(entry.path().filename().string());
    struct stat info {};
    if (fstat(fd, &info) != 0 || !S_ISSOCK(info.st_mode)) continue;
    sockaddr_storage local{}, peer{};
    socklen_t local_length = sizeof local, peer_length = sizeof peer;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0 ||
        getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) != 0)
      continue;
    if (endpoint_matches(peer, peer_length, remote_addr_, remote_port_) &&
        endpoint_matches(local, local_length, local_addr_, local_port_))
      return fd;
  }
  return -1;
}

bool ClientConnection::closed() {
  if (!fd_) fd_ = find_socket();
  if (*fd_ < 0) return false;
  char byte;
  const auto received = recv(*fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  // 0: the peer shut the connection down; an error other than "nothing yet": it was reset. Bytes
  // waiting (a pipelined request) mean it is still there.
  return received == 0 || (received < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

}  // namespace llmctl::serve
