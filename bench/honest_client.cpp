// The honest peer of the register-spoofed runs: a blocking socket on a thread of its own, so
// that the load's loop and its timing stay as they are.
#include "honest_client.hpp"

#include "workloads.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <random>

namespace punch::bench {
namespace {

using clock = std::chrono::steady_clock;
constexpr auto resend_after = std::chrono::milliseconds(200);
constexpr auto give_up_after = std::chrono::seconds(2);

std::uint64_t now_ms() {
  const auto t = std::chrono::system_clock::now().time_since_epoch();
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(t).count());
}

// One registration: TIMESTAMP first, then the NONCE of each challenge (twice at most, as a
// session). True when the broker answered with success.
bool register_once(int fd, const udp_endpoint& broker, const identity& key, std::mt19937_64& random,
                   honest_result& out) {
  const auto start = clock::now();
  std::vector<std::byte> nonce;
  std::array<std::byte, stun::max_message_size> request{};
  std::array<std::byte, 2048> answer{};
  for (int step = 0; step < 3; ++step) {
    stun::transaction_id id{};
    for (auto& b : id) b = static_cast<std::byte>(random());
    auto f = fields(request_kind::register_signed, "honest", {}, {asio::ip::make_address_v4("192.168.77.2"), 4000}, 600);
    f.key = &key;
    f.nonce = nonce;
    if (nonce.empty()) f.timestamp = now_ms();
    const auto bytes = build_request(request, f, id);
    std::span<const std::byte> got;
    while (got.empty()) {
      if (clock::now() - start > give_up_after) return false;
      ::sendto(fd, bytes.data(), bytes.size(), 0, broker.data(), static_cast<socklen_t>(broker.size()));
      const auto sent = clock::now();
      while (got.empty() && clock::now() - sent < resend_after) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 20) <= 0) continue;
        const auto n = ::recv(fd, answer.data(), answer.size(), MSG_DONTWAIT);
        if (n < static_cast<ssize_t>(stun::header_size)) continue;
        const auto d = std::span<const std::byte>(answer.data(), static_cast<std::size_t>(n));
        if (std::equal(id.begin(), id.end(), d.begin() + 8)) got = d;
      }
      if (got.empty()) ++out.resent;
    }
    if (classify(got) == answer_class::success) {
      out.latency_ms.push_back(std::chrono::duration<double, std::milli>(clock::now() - start).count());
      if (step == 0) ++out.first_datagram;
      return true;
    }
    const auto n = nonce_of(got);
    const int code = error_code_of(got);
    if (n.empty() || (code != wire::error::unauthenticated && code != wire::error::stale_nonce)) return false;
    nonce.assign(n.begin(), n.end());
  }
  return false;
}

}  // namespace

honest_client::honest_client(udp_endpoint broker, std::chrono::milliseconds every)
    : broker_(broker), every_(every), thread_([this] { run(); }) {}

honest_client::~honest_client() { stop(); }

honest_result honest_client::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  return result_;
}

void honest_client::run() {
  const int fd = ::socket(broker_.protocol().family(), SOCK_DGRAM, 0);
  if (fd < 0) return;
  std::array<std::byte, 32> seed{};
  seed[0] = std::byte{0x4f};
  const auto key = identity::from_seed(seed);
  std::mt19937_64 random(std::random_device{}());
  while (!stop_) {
    ++result_.attempts;
    if (register_once(fd, broker_, key, random, result_)) ++result_.registered;
    // Pacing, not synchronisation: a registration every `every_`, stopping within 10 ms.
    const auto next = clock::now() + every_;
    while (!stop_ && clock::now() < next) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::close(fd);
}

}  // namespace punch::bench
