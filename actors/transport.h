// ZeroMQ channels between actor processes and the learner (docs/architecture.md, "Data flow"). No LibTorch here.
//
// A learner endpoint names three sockets:
//   control  ROUTER (learner) <-> DEALER (actor): hello / welcome (the run's config and weights)
//   data     PULL   (learner) <-  PUSH   (actor): trajectory chunks
//   weights  PUB    (learner)  -> SUB    (actor): new weights with their version
// ipc://PATH gives PATH-control, PATH-data, PATH-weights; tcp://HOST:PORT gives PORT, PORT+1, PORT+2.
// A learner bound off loopback must have a CURVE secret key; its actors then need its public key, and a
// peer with another key completes no handshake: it gets nothing in and nothing out.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include <zmq.hpp>

#include "actors/wire.h"

namespace apiary::actors {

struct Endpoints {
  std::string control, data, weights;
};

// Splits a base endpoint as above. Throws std::invalid_argument naming `what` for anything but
// ipc://PATH or tcp://HOST:PORT with PORT in [1, 65533].
Endpoints split_endpoint(const std::string& base, const std::string& what);

// True for ipc:// and for tcp:// to 127.0.0.0/8, ::1 or localhost.
bool is_loopback(const std::string& endpoint);

// A CURVE key pair as Z85 text (40 characters each).
struct CurveKeys {
  std::string public_key;
  std::string secret_key;
};
CurveKeys make_curve_keys();
// Writes `keys` to PATH.key (public and secret, mode 0600) and PATH.pub (public only).
void write_curve_keys(const CurveKeys& keys, const std::string& path);
// Reads "public: ..." (and "secret: ..." when `need_secret`) from a key file; throws
// std::invalid_argument naming the file when the key is missing or malformed.
CurveKeys read_curve_keys(const std::string& path, bool need_secret);

struct TransportOptions {
  std::int64_t max_message_bytes = std::int64_t{1} << 28;  // ZMQ_MAXMSGSIZE on receiving sockets
  std::string curve_secret_key_file;  // learner: serve CURVE with this key (empty: plain)
  std::string curve_server_key_file;  // actor: the learner's public key (empty: plain)
  // Chunks an actor queues before a send would block: small, since a queued chunk ages (policy lag).
  int send_hwm = 1;
  // Kernel buffer of the data sockets (SO_SNDBUF / SO_RCVBUF; 0: the OS default). About one chunk:
  // chunks waiting in kernel buffers age as much as those in ZeroMQ's queues.
  int data_buffer_bytes = 0;
};

// Sends `frames` as one multipart without copying (each frame's owner lives until ZeroMQ is done).
// Returns false when the socket would block and `dontwait` is set (EAGAIN); throws zmq::error_t else.
bool send_frames(zmq::socket_t& socket, std::vector<wire::OutFrame>&& frames, bool dontwait);
// Receives one multipart; false when nothing is waiting and `dontwait` is set.
bool recv_frames(zmq::socket_t& socket, std::vector<zmq::message_t>& frames, bool dontwait);
// zmq::poll that returns (with no events) when a signal interrupts it, so that the caller sees its stop
// flag; other errors throw.
void poll_items(zmq::pollitem_t* items, std::size_t count, std::chrono::milliseconds timeout);
// Bytes of a multipart (payload accounting).
std::size_t frames_bytes(const std::vector<zmq::message_t>& frames);

class LearnerSockets {
 public:
  // Binds the three sockets of `base`. Throws std::invalid_argument for a non-loopback endpoint
  // without a CURVE key and std::runtime_error naming the endpoint when a bind fails.
  LearnerSockets(const std::string& base, const TransportOptions& options);
  zmq::socket_t& control() { return control_; }
  zmq::socket_t& data() { return data_; }
  zmq::socket_t& weights() { return weights_; }
  const Endpoints& endpoints() const { return endpoints_; }

 private:
  zmq::context_t context_{1};
  Endpoints endpoints_;
  zmq::socket_t control_, data_, weights_;
};

class ActorSockets {
 public:
  // Connects to `base` (ZeroMQ reconnects by itself whenever the learner comes back).
  ActorSockets(const std::string& base, const TransportOptions& options);
  zmq::socket_t& control() { return control_; }
  zmq::socket_t& data() { return data_; }
  zmq::socket_t& weights() { return weights_; }
  // A new control socket (a hello that got no welcome is dropped with the old one).
  void reset_control();
  // A new data socket whose kernel send buffer holds about `buffer_bytes` (once the chunk size is known).
  void reset_data(int buffer_bytes);

 private:
  void setup_client(zmq::socket_t& socket);
  zmq::context_t context_{1};
  Endpoints endpoints_;
  TransportOptions options_;
  CurveKeys client_keys_;
  std::string server_key_;
  zmq::socket_t control_, data_, weights_;
};

}  // namespace apiary::actors
