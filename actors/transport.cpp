#include "actors/transport.h"

#include <sys/stat.h>

#include <cerrno>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "core/atomic_file.h"

namespace apiary::actors {

namespace {

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

struct TcpAddress {
  std::string host;
  int port = 0;
};

TcpAddress parse_tcp(const std::string& endpoint, const std::string& what) {
  const std::string rest = endpoint.substr(6);
  const auto colon = rest.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument(what + ": " + endpoint + " is not tcp://HOST:PORT");
  TcpAddress a;
  a.host = rest.substr(0, colon);
  try {
    std::size_t used = 0;
    a.port = std::stoi(rest.substr(colon + 1), &used);
    if (used != rest.size() - colon - 1) throw std::invalid_argument("port");
  } catch (const std::exception&) {
    throw std::invalid_argument(what + ": " + endpoint + " has no numeric PORT");
  }
  if (a.port < 1 || a.port > 65533)
    throw std::invalid_argument(what + ": port " + std::to_string(a.port) + " out of [1, 65533] (uses PORT..PORT+2)");
  return a;
}

std::string read_key_line(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (starts_with(line, (name + ":").c_str())) {
      std::string value = line.substr(name.size() + 1);
      const auto b = value.find_first_not_of(" \t");
      const auto e = value.find_last_not_of(" \t\r");
      return b == std::string::npos ? "" : value.substr(b, e - b + 1);
    }
  }
  return "";
}

void zero_copy_free(void* /*data*/, void* hint) { delete static_cast<std::shared_ptr<const void>*>(hint); }

}  // namespace

Endpoints split_endpoint(const std::string& base, const std::string& what) {
  if (starts_with(base, "ipc://")) {
    if (base.size() <= 6) throw std::invalid_argument(what + ": ipc:// needs a path");
    if (base.size() - 6 + 8 > 100)
      throw std::invalid_argument(what + ": " + base + " is too long for an ipc path (at most 92 characters)");
    return Endpoints{base + "-control", base + "-data", base + "-weights"};
  }
  if (starts_with(base, "tcp://")) {
    const TcpAddress a = parse_tcp(base, what);
    const std::string prefix = "tcp://" + a.host + ":";
    return Endpoints{prefix + std::to_string(a.port), prefix + std::to_string(a.port + 1),
                     prefix + std::to_string(a.port + 2)};
  }
  throw std::invalid_argument(what + ": " + base + " is neither ipc://PATH nor tcp://HOST:PORT");
}

bool is_loopback(const std::string& endpoint) {
  if (starts_with(endpoint, "ipc://")) return true;
  if (!starts_with(endpoint, "tcp://")) return false;
  const TcpAddress a = parse_tcp(endpoint, "endpoint");
  return starts_with(a.host, "127.") || a.host == "localhost" || a.host == "[::1]" || a.host == "::1";
}

CurveKeys make_curve_keys() {
  char pub[41] = {}, sec[41] = {};
  if (zmq_curve_keypair(pub, sec) != 0)
    throw std::runtime_error("zmq_curve_keypair failed: this libzmq was built without CURVE (libsodium)");
  return CurveKeys{pub, sec};
}

void write_curve_keys(const CurveKeys& keys, const std::string& path) {
  const std::string secret_path = path + ".key", public_path = path + ".pub";
  core::write_file_atomic(secret_path,
                          "# Apiary CURVE key pair: keep this file private (learner.curve_secret_key)\n"
                          "public: " + keys.public_key + "\nsecret: " + keys.secret_key + "\n",
                          0600);
  core::write_file_atomic(public_path,
                          "# Apiary CURVE public key: give it to actors (actors.curve_server_key / --server-key)\n"
                          "public: " + keys.public_key + "\n");
}

CurveKeys read_curve_keys(const std::string& path, bool need_secret) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("CURVE key file " + path + " cannot be read");
  std::stringstream ss;
  ss << in.rdbuf();
  CurveKeys keys{read_key_line(ss.str(), "public"), read_key_line(ss.str(), "secret")};
  if (keys.public_key.size() != 40 || (need_secret && keys.secret_key.size() != 40))
    throw std::invalid_argument("CURVE key file " + path + " holds no valid " +
                                (need_secret ? "key pair" : "public key") + " (make one with `apiary keys`)");
  return keys;
}

bool send_frames(zmq::socket_t& socket, std::vector<wire::OutFrame>&& frames, bool dontwait) {
  for (std::size_t i = 0; i < frames.size(); ++i) {
    wire::OutFrame& f = frames[i];
    auto* hint = new std::shared_ptr<const void>(std::move(f.owner));
    zmq::message_t msg(const_cast<void*>(f.data), f.size, zero_copy_free, hint);
    auto flags = i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none;
    if (dontwait) flags = flags | zmq::send_flags::dontwait;
    // A multipart is atomic: once its first frame is queued, the rest never meet EAGAIN or EINTR.
    try {
      if (!socket.send(msg, flags)) return false;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR && i == 0) return false;
      throw;
    }
  }
  return true;
}

bool recv_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames, bool dontwait) {
  frames.clear();
  do {
    zmq::message_t msg;
    try {
      if (!socket.recv(msg, dontwait && frames.empty() ? zmq::recv_flags::dontwait : zmq::recv_flags::none))
        return false;
    } catch (const zmq::error_t& e) {
      if (e.num() == EINTR && frames.empty()) return false;  // a signal: the caller checks its stop flag
      throw;
    }
    frames.push_back(std::move(msg));
  } while (frames.back().more());
  return true;
}

void poll_items(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout) {
  try {
    zmq::poll(items, count, timeout);
  } catch (const zmq::error_t& e) {
    if (e.num() != EINTR) throw;
    for (std::size_t i = 0; i < count; ++i) items[i].revents = 0;
  }
}

std::size_t frames_bytes(const std::vector<zmq::message_t>& frames) {
  std::size_t n = 0;
  for (const auto& f : frames) n += f.size();
  return n;
}

LearnerSockets::LearnerSockets(const std::string& base, const TransportOptions& options)
    : endpoints_(split_endpoint(base, "learner endpoint")),
      control_(context_, zmq::socket_type::router),
      data_(context_, zmq::socket_type::pull),
      weights_(context_, zmq::socket_type::pub) {
  CurveKeys keys;
  if (!options.curve_secret_key_file.empty()) {
    keys = read_curve_keys(options.curve_secret_key_file, /*need_secret=*/true);
  } else if (!is_loopback(base)) {
    throw std::invalid_argument("learner endpoint " + base +
                                " is not loopback: binding it needs CURVE keys (learner.curve_secret_key; make "
                                "a pair with `apiary keys`)");
  }
  for (zmq::socket_t* s : {&control_, &data_, &weights_}) {
    s->set(zmq::sockopt::linger, 0);
    if (!keys.secret_key.empty()) {
      s->set(zmq::sockopt::curve_server, 1);
      s->set(zmq::sockopt::curve_secretkey, keys.secret_key);
    }
  }
  control_.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
  data_.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
  if (options.data_buffer_bytes > 0) data_.set(zmq::sockopt::rcvbuf, options.data_buffer_bytes);
  data_.set(zmq::sockopt::rcvhwm, 1);  // with the actors' send_hwm, bounds the queued chunks' lag
  weights_.set(zmq::sockopt::sndhwm, 4);  // slow subscribers skip versions rather than queue them
  const std::pair<zmq::socket_t*, const std::string*> binds[] = {
      {&control_, &endpoints_.control}, {&data_, &endpoints_.data}, {&weights_, &endpoints_.weights}};
  for (const auto& [socket, endpoint] : binds) {
    try {
      socket->bind(*endpoint);
    } catch (const zmq::error_t& e) {
      throw std::runtime_error("learner: cannot bind " + *endpoint + ": " + e.what());
    }
  }
}

ActorSockets::ActorSockets(const std::string& base, const TransportOptions& options)
    : endpoints_(split_endpoint(base, "actor --connect")),
      options_(options),
      control_(context_, zmq::socket_type::dealer),
      data_(context_, zmq::socket_type::push),
      weights_(context_, zmq::socket_type::sub) {
  if (!options.curve_server_key_file.empty()) {
    server_key_ = read_curve_keys(options.curve_server_key_file, /*need_secret=*/false).public_key;
    client_keys_ = make_curve_keys();  // an actor's own pair is ephemeral
  }
  setup_client(control_);
  setup_client(data_);
  setup_client(weights_);
  data_.set(zmq::sockopt::sndhwm, options.send_hwm);
  weights_.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
  weights_.set(zmq::sockopt::rcvhwm, 4);
  weights_.set(zmq::sockopt::subscribe, "");
  control_.connect(endpoints_.control);
  data_.connect(endpoints_.data);
  weights_.connect(endpoints_.weights);
}

void ActorSockets::setup_client(zmq::socket_t& socket) {
  socket.set(zmq::sockopt::linger, 0);
  socket.set(zmq::sockopt::reconnect_ivl, 100);
  socket.set(zmq::sockopt::reconnect_ivl_max, 2000);
  socket.set(zmq::sockopt::maxmsgsize, options_.max_message_bytes);
  if (!server_key_.empty()) {
    socket.set(zmq::sockopt::curve_serverkey, server_key_);
    socket.set(zmq::sockopt::curve_publickey, client_keys_.public_key);
    socket.set(zmq::sockopt::curve_secretkey, client_keys_.secret_key);
  }
}

void ActorSockets::reset_data(int buffer_bytes) {
  data_ = zmq::socket_t(context_, zmq::socket_type::push);
  setup_client(data_);
  data_.set(zmq::sockopt::sndhwm, options_.send_hwm);
  if (buffer_bytes > 0) data_.set(zmq::sockopt::sndbuf, buffer_bytes);
  data_.connect(endpoints_.data);
}

void ActorSockets::reset_control() {
  control_ = zmq::socket_t(context_, zmq::socket_type::dealer);
  setup_client(control_);
  control_.connect(endpoints_.control);
}

}  // namespace apiary::actors
