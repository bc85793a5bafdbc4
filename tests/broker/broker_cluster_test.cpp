// The broker's answers that wait for its cluster (docs/protocol.md, "Brokers sharing a
// registry"), one datagram at a time through broker::handle() with the answers sent from the
// broker's socket on the simulated network: a retransmission while the cluster has not
// answered yet is not asked again, the answer keeps the request's amplification budget, the
// requests waiting are bounded, refreshes never wait, the answers of one burst each reach
// their request whole, and the re-claim goes in batches.
#include "broker_requests.hpp"

#include "punch/broker.hpp"
#include "punch/cluster.hpp"
#include "punch/plugins/sim.hpp"
#include "punch/registry.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(broker_cluster_test)

using namespace punch;
using namespace broker_test;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

asio::ip::address addr(const char* s) { return asio::ip::make_address(s); }

// A broker on member "a" of a hub (member "b" stands for another broker), fed through
// handle(); a client whose answers, sent now or later from the broker's socket, are collected.
struct defer_fixture {
  explicit defer_fixture(broker_options o = {}) {
    a->start();
    b->start();
    o.cluster = a.get();
    o.clock = &net.clock();
    service.emplace(socket, *reg, o);
    asio::co_spawn(ctx, receive(), asio::detached);
  }
  ~defer_fixture() {
    client.close();
    socket.close();
    settle();
  }

  asio::awaitable<void> receive() {
    std::array<std::byte, stun::max_message_size> buf;
    endpoint from;
    for (;;) {
      auto [ec, n] = co_await client.async_receive_from(asio::buffer(buf), from, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      later.emplace_back(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    }
  }
  // The answer handle() gives at once, if any.
  std::optional<bytes> send(const bytes& request) {
    auto answer = service->handle(request, client_endpoint, out);
    if (answer.empty()) return std::nullopt;
    return bytes(answer.begin(), answer.end());
  }
  // Lets the cluster answer and the answers arrive.
  void settle() {
    ctx.restart();
    sim::run(ctx, net.virtual_time(), {}, {.time = 1s});
  }
  // `id` held by broker "b" in the cluster.
  void held_elsewhere(std::string_view id) {
    registration_record r;
    r.set_id(id);
    r.key = test_identity(9).key();
    r.reflexive = {addr("198.51.100.50"), 6000};
    b->claim(r, 60s, [](error_code ec) { BOOST_TEST(!ec); });
    settle();
  }
  static bytes lookup(std::string_view target, const stun::transaction_id& tid,
                      std::size_t pad_to = wire::answer_bound::lookup) {
    return make_request(wire::method::lookup, tid, [&](stun::builder& m) { m.add_string(wire::attr::target_id, target); },
                        pad_to);
  }
  // A signed Register of `who` as `id`: the 401 with a NONCE first, then the signed request.
  bytes signed_register(const identity& who, const std::string& id) {
    auto challenge = send(register_request(who, register_fields(id), {}, random_id()));
    BOOST_REQUIRE(challenge);
    auto a = parse(*challenge);
    BOOST_REQUIRE(a);
    BOOST_REQUIRE(a->error_code() == wire::error::unauthenticated);
    return register_request(who, register_fields(id), a->nonce(), random_id());
  }

  asio::io_context ctx;
  sim::network net{ctx.get_executor(), 1};
  sim::link link{5ms, {}, 0.0};
  sim::host& broker_host = net.add_host("broker", net.internet(), addr("203.0.113.1"), link);
  sim::host& client_host = net.add_host("client", net.internet(), addr("198.51.100.9"), link);
  datagram_socket socket = broker_host.transport().open({{}, 3478});
  datagram_socket client = client_host.transport().open({{}, 5000});
  endpoint client_endpoint{addr("198.51.100.9"), 5000};
  memory_cluster_hub hub;
  std::unique_ptr<cluster> a = hub.join("a", ctx.get_executor(), &net.clock());
  std::unique_ptr<cluster> b = hub.join("b", ctx.get_executor(), &net.clock());
  std::unique_ptr<registry> reg = make_memory_registry(100);
  std::optional<punch::broker> service;
  std::array<std::byte, stun::max_message_size> out{};
  std::vector<bytes> later;  // what the client received
};

struct small_wait_bound : defer_fixture {
  small_wait_bound() : defer_fixture(waits(1)) {}
  static broker_options waits(std::size_t n) {
    broker_options o;
    o.max_cluster_waits = n;
    return o;
  }
};

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_lookup_retransmitted_while_the_cluster_answers_is_asked_once_and_answered_once, defer_fixture) {
  held_elsewhere("bob");
  const auto tid = random_id();
  BOOST_TEST(!send(lookup("bob", tid)));  // waits for the cluster
  BOOST_TEST(!send(lookup("bob", tid)));  // the retransmission: nothing more
  BOOST_TEST(a->stats().finds == 1u);
  settle();
  BOOST_REQUIRE(later.size() == 1u);
  auto answer = parse(later[0]);
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->msg.cls() == stun::message_class::success_response);
  BOOST_TEST(answer->msg.id() == tid);
  BOOST_TEST((answer->key() == test_identity(9).key()));
  BOOST_TEST(service->stats().cluster_lookups == 1u);
  BOOST_TEST(service->stats().cluster_waiting == 0u);
}

// The answers of one burst of the cluster's replies go out as one batch, built one after the
// other in one buffer: each must still be its own request's, whole, with its FINGERPRINT
// (the waiting copy of a request is kept without one).
BOOST_FIXTURE_TEST_CASE(lookups_answered_in_one_burst_each_get_their_own_whole_answer, defer_fixture) {
  constexpr std::size_t n = 24;
  std::vector<stun::transaction_id> asked;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string id = "peer" + std::to_string(i);
    held_elsewhere(id);
    asked.push_back(random_id());
  }
  for (std::size_t i = 0; i < n; ++i) BOOST_TEST(!send(lookup("peer" + std::to_string(i), asked[i])));
  BOOST_TEST(service->stats().cluster_waiting == n);
  settle();
  BOOST_REQUIRE(later.size() == n);
  std::vector<stun::transaction_id> answered;
  for (const auto& datagram : later) {
    auto answer = parse(datagram);
    BOOST_REQUIRE(answer);
    BOOST_TEST(answer->msg.cls() == stun::message_class::success_response);
    BOOST_TEST(answer->msg.has_fingerprint());
    BOOST_TEST((answer->key() == test_identity(9).key()));
    answered.push_back(answer->msg.id());
  }
  std::sort(asked.begin(), asked.end());
  std::sort(answered.begin(), answered.end());
  BOOST_TEST((answered == asked));
  BOOST_TEST(service->stats().cluster_waiting == 0u);
}

BOOST_FIXTURE_TEST_CASE(an_answer_that_waited_keeps_the_request_s_amplification_budget, defer_fixture) {
  held_elsewhere("bob");
  const auto request = lookup("bob", random_id(), 0);  // not padded: the answer would be larger
  BOOST_TEST(!send(request));
  settle();
  BOOST_REQUIRE(later.size() == 1u);
  BOOST_TEST(later[0].size() <= std::max(request.size(), response_floor));
  auto answer = parse(later[0]);
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->error_code() == wire::error::bad_request);
  BOOST_TEST(answer->reason().starts_with("pad request to"));
}

BOOST_FIXTURE_TEST_CASE(a_lookup_of_an_id_held_nowhere_is_answered_404_later, defer_fixture) {
  BOOST_TEST(!send(lookup("nobody", random_id())));
  settle();
  BOOST_REQUIRE(later.size() == 1u);
  BOOST_TEST(parse(later[0])->error_code() == wire::error::not_found);
  BOOST_TEST(service->stats().cluster_misses == 1u);
}

BOOST_FIXTURE_TEST_CASE(requests_beyond_max_cluster_waits_are_refused_with_429_at_once, small_wait_bound) {
  held_elsewhere("bob");
  BOOST_TEST(!send(lookup("bob", random_id())));
  auto refused = send(lookup("bob", random_id()));
  BOOST_REQUIRE(refused);
  BOOST_TEST(parse(*refused)->error_code() == wire::error::rate_limited);
  BOOST_TEST(service->stats().cluster_busy == 1u);
  BOOST_TEST(service->stats().cluster_waiting == 1u);
  settle();
  BOOST_TEST(later.size() == 1u);  // the first one, answered
  // Its place is free again.
  BOOST_TEST(!send(lookup("bob", random_id())));
}

BOOST_FIXTURE_TEST_CASE(a_register_retransmitted_while_its_claim_is_in_flight_claims_once, defer_fixture) {
  const auto request = signed_register(test_identity(1), "alice");
  BOOST_TEST(!send(request));  // waits for the claim
  BOOST_TEST(!send(request));  // the retransmission
  BOOST_TEST(a->stats().claims == 1u);
  BOOST_TEST(!reg->find("alice", net.clock().now()));  // registered only once the cluster agreed
  settle();
  BOOST_REQUIRE(later.size() == 1u);
  auto answer = parse(later[0]);
  BOOST_REQUIRE(answer);
  BOOST_TEST(answer->msg.cls() == stun::message_class::success_response);
  BOOST_TEST(!answer->credential().empty());
  BOOST_TEST(reg->find("alice", net.clock().now()).has_value());
  BOOST_TEST(service->stats().claims == 1u);
  BOOST_TEST(service->stats().registrations == 1u);

  // The keepalive's refresh is answered at once and costs the store nothing yet (lazy extend).
  const auto refresh = refresh_request(test_identity(1), register_fields("alice"),
                                       answer->credential(), random_id());
  auto refreshed = send(refresh);
  BOOST_REQUIRE(refreshed);
  BOOST_TEST(parse(*refreshed)->msg.cls() == stun::message_class::success_response);
  BOOST_TEST(a->stats().claims == 1u);
  BOOST_TEST(a->stats().extends_skipped == 1u);

  // A refresh that tells the NAT-MAPPING the peer measured updates the cluster's entry too:
  // peers at other brokers choose how to punch by it.
  const auto told = refresh_request(test_identity(1), register_fields("alice"),
                                    answer->credential(), random_id(), 1);
  BOOST_REQUIRE(send(told));
  settle();
  std::optional<cluster_entry> entry;
  b->find("alice", [&](error_code ec, cluster_entry e) {
    if (!ec) entry = std::move(e);
  });
  settle();
  BOOST_REQUIRE(entry);
  BOOST_TEST(entry->record.nat == 1);
  BOOST_TEST(entry->holder == "a");
}

BOOST_FIXTURE_TEST_CASE(a_register_of_an_id_another_key_holds_in_the_cluster_gets_403, defer_fixture) {
  held_elsewhere("bob");  // under test_identity(9)
  BOOST_TEST(!send(signed_register(test_identity(1), "bob")));
  settle();
  BOOST_REQUIRE(later.size() == 1u);
  auto answer = parse(later[0]);
  BOOST_TEST(answer->error_code() == wire::error::forbidden);
  BOOST_TEST(answer->reason() == "PEER-ID held by another key");
  BOOST_TEST(!reg->find("bob", net.clock().now()));
  BOOST_TEST(service->stats().claims_refused == 1u);
}

BOOST_FIXTURE_TEST_CASE(with_the_store_down_a_register_is_answered_at_once_and_a_remote_lookup_gets_503, defer_fixture) {
  hub.set_down(true);
  settle();
  auto registered = send(signed_register(test_identity(1), "alice"));
  BOOST_REQUIRE(registered);
  BOOST_TEST(parse(*registered)->msg.cls() == stun::message_class::success_response);
  auto refused = send(lookup("bob", random_id()));
  BOOST_REQUIRE(refused);
  BOOST_TEST(parse(*refused)->error_code() == wire::error::service_unavailable);
  // A local id is still found.
  auto found = send(lookup("alice", random_id()));
  BOOST_REQUIRE(found);
  BOOST_TEST(parse(*found)->msg.cls() == stun::message_class::success_response);
  BOOST_TEST(service->stats().claims_local == 1u);
  BOOST_TEST(service->stats().store_unavailable == 1u);
}

BOOST_AUTO_TEST_CASE(the_re_claim_after_the_store_comes_back_goes_in_batches) {
  broker_options o;
  o.reclaim_batch = 2;
  defer_fixture f(o);
  for (int i = 0; i < 5; ++i) {
    const std::string id = "peer" + std::to_string(i);
    BOOST_TEST(!f.send(f.signed_register(test_identity(10 + i), id)));
    f.settle();
  }
  BOOST_TEST(f.a->stats().claims == 5u);
  f.hub.set_down(true);
  f.settle();
  f.hub.set_down(false);
  // The state change starts the first batch; the next starts when its answers are all in.
  f.ctx.restart();
  std::vector<std::uint64_t> seen;  // reclaims issued, after each handler that changed it
  while (f.ctx.poll_one() != 0) {
    const auto n = f.service->stats().reclaims;
    if (seen.empty() ? n != 0 : n != seen.back()) seen.push_back(n);
  }
  BOOST_TEST((seen == std::vector<std::uint64_t>{2, 4, 5}));
  BOOST_TEST(f.service->stats().reclaims == 5u);
  BOOST_TEST(f.a->stats().claims == 10u);
  f.settle();
  // Everything is in the cluster again: "b" finds each one.
  for (int i = 0; i < 5; ++i) {
    std::optional<error_code> got;
    f.b->find("peer" + std::to_string(i), [&](error_code ec, cluster_entry) { got = ec; });
    f.settle();
    BOOST_TEST((got && !*got));
  }
}

BOOST_AUTO_TEST_SUITE_END()
