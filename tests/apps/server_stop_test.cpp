// punch-broker and punch-relay stop promptly on SIGTERM whatever they are doing (issue 16,
// "Stopping cleanly"; ring: real). Each server is started 20 times as a process on 127.0.0.1,
// put under a closed-loop load from 16 sockets (Binding for the broker; ALLOCATE and
// forwarded datagrams between 8 allocated pairs for the relay), and sent SIGTERM while the
// load still runs, right after it stopped, together with datagrams it has yet to read, or once
// it is idle (a probe from a fresh socket answered after the load); load lengths come from a
// seeded generator. Every round must end with exit code 0 within a second of the signal, as
// the README promises.
// The executables come from the environment (PUNCH_BROKER, PUNCH_RELAY; see CMakeLists.txt).
#include "datagram_load.hpp"
#include "relay_test_support.hpp"
#include "server_process.hpp"

#include <boost/test/unit_test.hpp>

#include <csignal>
#include <optional>
#include <cstdlib>
#include <random>
#include <sstream>

using namespace apps_test;
using namespace std::chrono_literals;

namespace {

using steady = std::chrono::steady_clock;
using udp = asio::ip::udp;

constexpr int rounds = 20;
constexpr std::size_t window = 32;             // datagrams in flight per socket
constexpr auto exit_bound = 1000ms;            // the README: SIGTERM stops within a second
constexpr auto longest_load = 250ms;

// When the signal comes. with_datagrams_queued: the server is paused (SIGSTOP) once idle, a
// datagram from every socket and SIGTERM both wait for it, and it resumes (SIGCONT): it meets
// both in one turn of its event loop, which a busy server does by chance (issue 16).
enum class moment { during_load, right_after_load, with_datagrams_queued, idle };
constexpr int moments = 4;

const char* name_of(moment m) {
  switch (m) {
    case moment::during_load: return "during the load";
    case moment::right_after_load: return "right after the load";
    case moment::with_datagrams_queued: return "with datagrams queued";
    default: return "idle";
  }
}

std::string executable(const char* variable) {
  const char* path = std::getenv(variable);
  if (!path) throw std::runtime_error(std::string(variable) + " is not set (run through CTest)");
  return path;
}

// 127.0.0.first, 127.0.0.first+1, …: one source address per socket, so that the servers' per-
// address rate limits (ALLOCATE's) treat each socket on its own.
std::vector<asio::ip::address> loopback_sources(std::size_t n, unsigned first) {
  std::vector<asio::ip::address> out;
  for (std::size_t i = 0; i < n; ++i) out.push_back(asio::ip::make_address_v4(0x7F000000u + first + static_cast<unsigned>(i)));
  return out;
}

// A 20-byte Binding request (RFC 8489 §5): every socket sends the same one.
const bytes& binding_request() {
  static const bytes request = [] {
    bytes b(20, std::byte{0});
    b[1] = std::byte{0x01};  // type 0x0001, length 0
    const std::byte cookie[] = {std::byte{0x21}, std::byte{0x12}, std::byte{0xA4}, std::byte{0x42}};
    std::copy(std::begin(cookie), std::end(cookie), b.begin() + 4);
    for (std::size_t i = 8; i < 20; ++i) b[i] = std::byte(i);
    return b;
  }();
  return request;
}

// What one round does before the signal: a server and a load toward it.
struct server_kind {
  const char* name;
  std::string path;
  // Sets up the sockets (the relay's allocations) and says what each sends next.
  std::function<datagram_load::next_datagram(datagram_load&)> prepare;
  // A request from a fresh socket that the server answers (the idle probe).
  bytes probe;
};

server_kind broker_kind() {
  return {"punch-broker", executable("PUNCH_BROKER"),
          [](datagram_load&) -> datagram_load::next_datagram {
            return [](std::size_t, std::span<const std::byte>) { return std::span<const std::byte>(binding_request()); };
          },
          binding_request()};
}

server_kind relay_kind() {
  // Sockets 2k and 2k+1 allocate RELAY-ID k (NONCE exchange first, as a session does); then
  // every datagram one receives is followed by one more to the relay, which the relay forwards
  // to the other side, and every 8th is an ALLOCATE refresh that the relay answers.
  struct pairs {
    std::vector<bytes> refresh;
    std::vector<std::uint64_t> sent;
    bytes data = bytes(64, std::byte{0xAB});  // not STUN: forwarded
  };
  auto prepare = [](datagram_load& load) -> datagram_load::next_datagram {
    auto p = std::make_shared<pairs>();
    for (std::size_t i = 0; i < load.size(); ++i) {
      const auto id = relay_test::make_relay_id(static_cast<unsigned char>(i / 2 + 1));
      const auto challenge = load.exchange(i, relay_test::allocate_request(id), 1s);
      BOOST_TEST_REQUIRE(challenge.has_value(), "no answer to ALLOCATE");
      const auto nonce = relay_test::parse(*challenge)->nonce();
      const auto ok = load.exchange(i, relay_test::allocate_request(id, nonce), 1s);
      BOOST_TEST_REQUIRE(ok.has_value(), "no answer to ALLOCATE with the NONCE");
      BOOST_TEST_REQUIRE(relay_test::parse(*ok)->cls() == punch::stun::message_class::success_response);
      p->refresh.push_back(relay_test::allocate_request(id, nonce));
      p->sent.push_back(0);
    }
    return [p](std::size_t i, std::span<const std::byte>) {
      return std::span<const std::byte>(++p->sent[i] % 8 == 0 ? p->refresh[i] : p->data);
    };
  };
  return {"punch-relay", executable("PUNCH_RELAY"), prepare,
          relay_test::allocate_request(relay_test::make_relay_id(200))};
}

struct round_result {
  std::string failure;  // empty: exited 0 within the bound
  std::uint64_t received = 0;
};

// The moment of the signal, measured from it to the exit (the load keeps running meanwhile
// when `when` is during_load).
round_result run_round(const server_kind& kind, moment when, std::chrono::milliseconds load_for) {
  asio::io_context ctx;
  server_process server({kind.path, "--listen", "127.0.0.1:0", "--rate-limit", "0", "-q"});
  const udp::endpoint at(asio::ip::make_address_v4("127.0.0.1"), server.wait_listening(5s));
  datagram_load load(ctx, loopback_sources(16, 10), at);
  load.set_next(kind.prepare(load));
  if (load_for > 0ms) {
    load.prime(window);
    for (const auto end = steady::now() + load_for; steady::now() < end;) load.pump(20ms);
  }
  if (when == moment::with_datagrams_queued || when == moment::idle) {
    // Answered after everything the load sent before it: the server has caught up. The load
    // may have filled the server's socket buffer on a busy machine, and UDP then drops the
    // probe itself: it is asked again, as a client would, at most 5 times (a server that is
    // stuck answers none of them).
    datagram_load prober(ctx, loopback_sources(1, 100), at);
    std::optional<bytes> answer;
    for (int tries = 0; tries < 5 && !answer; ++tries) answer = prober.exchange(0, kind.probe, 1s);
    BOOST_TEST_REQUIRE(answer.has_value(), kind.name << " did not answer the probe, asked 5 times");
  }
  // A last burst, socket after socket: the server serves it in small batches as it comes.
  if (when == moment::right_after_load) load.burst(window);
  if (when == moment::with_datagrams_queued) {
    server.pause();
    load.prime(1);  // fewer than a receive batch: the server takes them all at once
    server.send_signal(SIGTERM);
    server.send_signal(SIGCONT);
  } else {
    server.send_signal(SIGTERM);
  }
  const auto signalled = steady::now();
  std::optional<int> status;
  if (when == moment::during_load) {
    while (steady::now() - signalled < exit_bound && !load.pump(20ms, server.exit_descriptor())) {
    }
  }
  const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - signalled);
  status = server.wait_exit(spent < exit_bound ? exit_bound - spent : 0ms);
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(steady::now() - signalled);
  round_result r;
  r.received = load.received();
  std::ostringstream why;
  if (!status)
    why << "still running " << took.count() << " ms after SIGTERM";
  else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0)
    why << describe_status(*status) << " after SIGTERM; output: " << server.output();
  r.failure = why.str();
  return r;
}

// Runs every round of `kind`; every failure is reported with its round, moment and load.
void every_round_exits_promptly(const server_kind& kind, unsigned seed) {
  std::mt19937 random(seed);
  std::uniform_int_distribution<int> load_ms(0, static_cast<int>(longest_load.count()));
  int failed = 0;
  std::uint64_t received = 0;
  for (int round = 0; round < rounds; ++round) {
    const auto when = static_cast<moment>(round % moments);
    // An idle server was loaded in every other idle round; the others were, 1 ms at least.
    const int draw = load_ms(random);
    const auto load_for = std::chrono::milliseconds(when != moment::idle ? 1 + draw : round / moments % 2 ? draw : 0);
    const round_result r = run_round(kind, when, load_for);
    received += r.received;
    if (!r.failure.empty()) {
      ++failed;
      BOOST_TEST_ERROR(kind.name << ", round " << round << ", SIGTERM " << name_of(when) << " of "
                                 << load_for.count() << " ms: " << r.failure);
    }
  }
  BOOST_TEST_MESSAGE(kind.name << ": " << failed << " of " << rounds << " rounds did not exit 0 within "
                               << exit_bound.count() << " ms; the load received " << received << " datagrams");
  BOOST_TEST(failed == 0);
  // The rounds put the server under load, or they would prove little.
  BOOST_TEST(received > std::uint64_t{rounds} * window);
}

}  // namespace

BOOST_AUTO_TEST_CASE(punch_broker_exits_0_within_a_second_of_sigterm_at_every_moment_of_a_binding_load) {
  every_round_exits_promptly(broker_kind(), 16);
}

BOOST_AUTO_TEST_CASE(punch_relay_exits_0_within_a_second_of_sigterm_at_every_moment_of_an_allocate_and_forwarding_load) {
  every_round_exits_promptly(relay_kind(), 16);
}
