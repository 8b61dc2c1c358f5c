#pragma once

#include <httplib.h>

#include <optional>
#include <string>

namespace llmctl::serve {

// The TCP connection a request arrived on, to notice a client that went away while its request still
// runs (then it is aborted and its KV blocks freed). cpp-httplib 0.11 does not expose a request's
// socket, so it is found among the process's sockets by its two endpoints, at the first look: most
// requests end before anyone needs to look.
class ClientConnection {
 public:
  explicit ClientConnection(const httplib::Request& request);
  // True once the peer closed or reset the connection. False when the socket was not found.
  bool closed();

 private:
  int find_socket() const;

  std::string remote_addr_, local_addr_;
  int remote_port_, local_port_;
  std::optional<int> fd_;  // known after the first look; -1 when not found
};

}  // namespace llmctl::serve
