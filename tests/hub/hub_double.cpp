// hub_double: a loopback test double of the Hugging Face Hub and of ModelScope, with fault injection, for
// the integration tests of `llmctl download`. Its surface follows /work/shared/reference/hub.md §6.
//
// It listens on two ephemeral ports of 127.0.0.1: the hub (HF API, /resolve, ModelScope API) and the CDN
// (signed file URLs). Each request is logged as one JSON line when its answer is decided, before the body
// is sent, so that a client that has seen an answer always finds its line.

#include "faults.hpp"
#include "routes.hpp"
#include "transfer.hpp"

#include <pthread.h>
#include <sys/socket.h>

#include <charconv>
#include <csignal>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>

namespace llmctl::hub_double {

namespace {

constexpr const char* usage =
    "Usage: hub_double --repos DIR [--scenario FILE] [--page-size N] [--token TOKEN]\n"
    "                  [--unapproved-token TOKEN] [--log FILE] [--port-file FILE]\n";

class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Options {
  std::filesystem::path repos;
  std::filesystem::path scenario;
  std::filesystem::path log;
  std::filesystem::path port_file;  // empty: the ports go to stdout
  std::size_t page_size = 2;        // small, so that listings need several pages
  std::string token;
  std::string unapproved_token;
};

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw UsageError(flag + " needs a value");
    const std::string value = argv[i + 1];
    if (flag == "--repos") {
      options.repos = value;
    } else if (flag == "--scenario") {
      options.scenario = value;
    } else if (flag == "--log") {
      options.log = value;
    } else if (flag == "--port-file") {
      options.port_file = value;
    } else if (flag == "--token") {
      options.token = value;
    } else if (flag == "--unapproved-token") {
      options.unapproved_token = value;
    } else if (flag == "--page-size") {
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), options.page_size);
      if (ec != std::errc() || ptr != value.data() + value.size() || options.page_size == 0) {
        throw UsageError("--page-size needs a positive number");
      }
    } else {
      throw UsageError("unknown option '" + flag + "'");
    }
  }
  if (options.repos.empty()) throw UsageError("--repos is required");
  return options;
}

class RequestLog {
 public:
  explicit RequestLog(const std::filesystem::path& path) {
    if (path.empty()) return;
    out_.open(path);
    if (!out_) throw std::runtime_error(path.string() + ": cannot be written");
  }

  void write(Server server, const httplib::Request& req, const std::string& query, int status,
             const std::optional<Fault>& fault) {
    if (!out_.is_open()) return;
    const auto header = [&](const char* name) {
      return req.has_header(name) ? nlohmann::ordered_json(req.get_header_value(name)) : nullptr;
    };
    const nlohmann::ordered_json line{{"server", server_name(server)},
                                      {"method", req.method},
                                      {"path", req.path},
                                      {"query", query},
                                      {"range", header("Range")},
                                      {"authorization", req.has_header("Authorization")},
                                      {"status", status},
                                      {"fault", fault ? nlohmann::ordered_json(fault->type) : nullptr}};
    const std::lock_guard lock(mutex_);
    // Flushed at once: tests read the log while the double runs.
    out_ << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
  }

 private:
  std::mutex mutex_;
  std::ofstream out_;
};

Reply route(const Context& ctx, const Call& call) {
  if (call.server == Server::cdn) return cdn_route(ctx, call);
  const auto& s = call.segments;
  if (s.size() >= 3 && s[0] == "api" && s[1] == "v1" && s[2] == "models") return modelscope_route(ctx, call);
  return hf_route(ctx, call);
}

void handle(const Context& ctx, Scenario& scenario, RequestLog& log, Server server, const httplib::Request& req,
            httplib::Response& res) {
  // httplib would apply Range itself (slicing bodies, turning statuses into 206); this double does, so
  // that faults can answer it wrongly. The request object is httplib's own, not const.
  const_cast<httplib::Request&>(req).ranges.clear();
  const Call call(server, req, req.target);
  std::optional<Fault> fault;
  Reply reply;
  if (auto hop = detour(ctx, call)) {  // part of a fault already: takes none
    reply = hop->redirect ? std::move(*hop->redirect) : route(ctx, Call(server, req, hop->target));
  } else {
    fault = scenario.take(server, req.method, req.path);
    auto replaced = fault ? fault_reply(ctx, *fault, call) : std::nullopt;
    reply = replaced ? std::move(*replaced) : route(ctx, call);
  }
  apply_range(req, reply, fault);
  static std::atomic<unsigned long long> requests{0};
  reply.headers.emplace("X-Request-Id", "hub-double-" + std::to_string(++requests));
  log.write(server, req, call.query, reply.status, fault);
  send(res, reply, fault);
}

// httplib listens with a backlog of 5; tests open dozens of connections at once.
class Listener : public httplib::Server {
 public:
  int bind_loopback() {
    const int port = bind_to_any_port("127.0.0.1");
    if (port < 0 || ::listen(svr_sock_, 256) != 0) throw std::runtime_error("cannot listen on 127.0.0.1");
    return port;
  }
};

// Written to a temporary name and renamed, so that a reader never sees half a line.
void write_ports(const std::filesystem::path& file, int hub_port, int cdn_port) {
  const auto line = std::to_string(hub_port) + " " + std::to_string(cdn_port) + "\n";
  if (file.empty()) {
    std::cout << line << std::flush;
    return;
  }
  auto temporary = file;
  temporary += ".tmp";
  std::ofstream(temporary) << line;
  std::filesystem::rename(temporary, file);
}

nlohmann::json read_scenario(const std::filesystem::path& path) {
  if (path.empty()) return nlohmann::json::array();
  std::ifstream in(path);
  if (!in) throw std::runtime_error(path.string() + ": cannot be read");
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(path.string() + ": " + e.what());
  }
}

int run(const Options& options) {
  Context ctx;
  ctx.repos = Repos(options.repos);
  ctx.token = options.token;
  ctx.unapproved_token = options.unapproved_token;
  ctx.page_size = options.page_size;
  std::random_device random;
  for (int i = 0; i < 4; ++i) ctx.secret += std::to_string(random());
  Scenario scenario(read_scenario(options.scenario));
  RequestLog log(options.log);

  // Every thread inherits the blocked stop signals; this one waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  Listener hub;
  Listener cdn;
  for (auto [listener, server] : {std::pair{&hub, Server::hub}, std::pair{&cdn, Server::cdn}}) {
    listener->new_task_queue = [] { return new httplib::ThreadPool(64); };  // downloads use many connections
    listener->Get(".*", [&ctx, &scenario, &log, server](const httplib::Request& req, httplib::Response& res) {
      handle(ctx, scenario, log, server, req, res);
    });
  }
  ctx.hub_port = hub.bind_loopback();
  ctx.cdn_port = cdn.bind_loopback();
  write_ports(options.port_file, ctx.hub_port, ctx.cdn_port);  // connections wait in the backlog meanwhile
  std::thread hub_thread([&hub] { hub.listen_after_bind(); });
  std::thread cdn_thread([&cdn] { cdn.listen_after_bind(); });

  int signal = 0;
  sigwait(&stop_signals, &signal);
  stopping = true;
  hub.stop();
  cdn.stop();
  hub_thread.join();
  cdn_thread.join();
  return 0;
}

}  // namespace

}  // namespace llmctl::hub_double

int main(int argc, char** argv) {
  using namespace llmctl::hub_double;
  try {
    return run(parse_options(argc, argv));
  } catch (const UsageError& e) {
    std::cerr << "hub_double: " << e.what() << "\n" << usage;
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "hub_double: " << e.what() << "\n";
    return 1;
  }
}
