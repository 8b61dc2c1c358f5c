#pragma once

#include <httplib.h>

namespace llmctl::serve {

// The TCP connection a request arrived on, to notice a client that went away while its request still
// runs (then it is aborted and its KV blocks freed). cpp-httplib 0.11 does not expose a request's
// socket, so it is found among the process's sockets by its two endpoints.
class ClientConnection {
 public:
  explicit ClientConnection(const httplib::Request& request);
  // True once the peer closed or reset the connection. False when the socket was not found.
  bool closed() const;

 private:
  int fd_ = -1;
};

}  // namespace llmctl::serve
