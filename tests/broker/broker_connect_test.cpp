// The broker's Connect over real UDP on 127.0.0.1: both peers learn each other's candidates
// and one token at once, Introduce retransmission, the Connect cache, refusals, expiry of
// registrations, and a clean stop.
#include "broker_test_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>

BOOST_AUTO_TEST_SUITE(broker_connect_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace broker_test;
namespace stun = punch::stun;
namespace wire = punch::wire;
using cls = stun::message_class;
using kind = punch::broker_event::kind;

namespace {

const punch::identity alice_key = test_identity(1), bob_key = test_identity(2);

// Registers `c` as "alice" or "bob" (their keys), with the NONCE exchange; the success answer.
asio::awaitable<std::optional<answer>> register_peer(client& c, const endpoint& broker, std::string_view peer,
                                                     std::vector<endpoint> host = {}, std::uint32_t lifetime = 60) {
  const register_fields fields{std::string(peer), lifetime, std::move(host)};
  auto a = co_await c.register_as(peer == "bob" ? bob_key : alice_key, fields, broker);
  BOOST_TEST_REQUIRE(a.has_value());
  BOOST_TEST_REQUIRE(a->msg.cls() == cls::success_response,
                     "registering " << peer << ": " << a->error_code() << " " << a->reason());
  co_return a;
}

// PUBLIC-KEY follows PEER-ID (docs/protocol.md, "Connect", "Introduce").
bool key_follows_id(const answer& a) {
  auto it = a.msg.begin();
  while (it != a.msg.end() && (*it).type != wire::attr::peer_id) ++it;
  return it != a.msg.end() && ++it != a.msg.end() && (*it).type == wire::attr::public_key;
}

bytes connect_request(const stun::transaction_id& id, std::string_view requester, std::string_view target) {
  return make_request(
      wire::method::connect, id,
      [&](stun::builder& b) {
        if (!requester.empty()) b.add_string(wire::attr::peer_id, requester);
        if (!target.empty()) b.add_string(wire::attr::target_id, target);
      },
      400);
}

// The next datagram on `c`, parsed, which must be an Introduce request from the broker.
asio::awaitable<std::optional<answer>> next_introduce(client& c, const endpoint& broker,
                                                      std::chrono::milliseconds timeout = 2s) {
  endpoint from;
  auto data = co_await c.receive(timeout, &from);
  if (!data) co_return std::nullopt;
  BOOST_TEST(from == broker);
  auto m = parse(std::move(*data));
  if (m) {
    BOOST_TEST(m->msg.cls() == cls::request);
    BOOST_TEST(m->msg.method() == wire::method::introduce);
  }
  co_return m;
}

asio::awaitable<void> acknowledge(client& c, const answer& introduce, const endpoint& broker) {
  co_await c.send(make_message(cls::success_response, wire::method::introduce, introduce.msg.id()), broker);
}

const std::vector<endpoint> alice_host{{asio::ip::make_address("192.168.1.10"), 7000}};
const std::vector<endpoint> bob_host{{asio::ip::make_address("10.1.1.20"), 8000},
                                     {asio::ip::make_address("fd00::20"), 8001}};

// Registers `bob` as a session does first: one datagram, signed over the broker's wall clock
// (docs/protocol.md, "TIMESTAMP"); no round trip has proven its address. The success answer.
const register_fields bob_fields{"bob", 60, {}};
asio::awaitable<std::optional<answer>> register_bob_on_a_timestamp(broker_fixture& f, client& bob) {
  const auto stamp = std::chrono::duration_cast<std::chrono::milliseconds>(punch::wall_time(f.clock).time_since_epoch());
  auto a = co_await bob.exchange(
      timestamped_register_request(bob_key, bob_fields, static_cast<std::uint64_t>(stamp.count()), random_id()),
      f.address);
  BOOST_TEST_REQUIRE(a->msg.cls() == cls::success_response);
  co_return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(broker_connect)

BOOST_AUTO_TEST_CASE(connect_gives_both_peers_each_others_candidates_and_the_same_token) {
  broker_fixture f;
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    co_await register_peer(alice, f.address, "alice", alice_host);
    co_await register_peer(bob, f.address, "bob", bob_host);

    auto a = co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);
    BOOST_TEST_REQUIRE(a->msg.cls() == cls::success_response);
    BOOST_TEST(a->text(wire::attr::peer_id) == "bob");
    BOOST_TEST((a->key() == bob_key.key()));
    BOOST_TEST(key_follows_id(*a));
    BOOST_TEST(a->xor_address(wire::attr::reflexive_candidate) == std::optional<endpoint>(bob.local()));
    BOOST_TEST((a->all_xor_addresses(wire::attr::host_candidate) == bob_host));
    BOOST_TEST(a->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(alice.local()));
    BOOST_TEST(a->msg.has_fingerprint());
    const auto token = a->token();
    BOOST_TEST_REQUIRE(token.has_value());

    auto i = co_await next_introduce(bob, f.address);
    BOOST_TEST_REQUIRE(i.has_value());
    BOOST_TEST(i->text(wire::attr::peer_id) == "alice");
    BOOST_TEST((i->key() == alice_key.key()));
    BOOST_TEST(key_follows_id(*i));
    BOOST_TEST(i->xor_address(wire::attr::reflexive_candidate) == std::optional<endpoint>(alice.local()));
    BOOST_TEST((i->all_xor_addresses(wire::attr::host_candidate) == alice_host));
    BOOST_TEST((i->token() == token));
    BOOST_TEST(i->msg.has_fingerprint());

    co_await acknowledge(bob, *i, f.address);
    BOOST_TEST(co_await f.wait_for(kind::introduced, 2s));
    const auto& e = f.events.back();
    BOOST_TEST(e.id == "alice");
    BOOST_TEST(e.target == "bob");
    BOOST_TEST(e.address == alice.local());
    BOOST_TEST((e.token == *token));
  });
  BOOST_TEST(f.broker.stats().introductions_acked == 1u);
}

BOOST_AUTO_TEST_CASE(introduce_is_retransmitted_until_acknowledged_then_stops) {
  punch::broker_options o;
  o.introduce_rto = 50ms;
  o.introduce_attempts = 6;
  broker_fixture f(o);
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    co_await register_peer(alice, f.address, "alice");
    co_await register_peer(bob, f.address, "bob");
    co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);

    // Bob stays silent for two copies: the third one is the same transaction.
    auto first = co_await next_introduce(bob, f.address);
    auto second = co_await next_introduce(bob, f.address);
    auto third = co_await next_introduce(bob, f.address);
    BOOST_TEST_REQUIRE((first && second && third));
    BOOST_TEST((second->data == first->data));
    BOOST_TEST((third->data == first->data));
    co_await acknowledge(bob, *third, f.address);
    BOOST_TEST(co_await f.wait_for(kind::introduced, 2s));
    // Copies 4 and 5 would come 200 and 600 ms after the third; nothing comes any more.
    auto late = co_await bob.receive(800ms);
    BOOST_TEST(!late.has_value(), "an Introduce was sent after the acknowledgement");
  });
  BOOST_TEST(f.broker.stats().introductions == 1u);
  BOOST_TEST(f.broker.stats().introductions_failed == 0u);
}

BOOST_AUTO_TEST_CASE(introduce_gives_up_after_the_configured_number_of_attempts) {
  punch::broker_options o;
  o.introduce_rto = 10ms;
  o.introduce_attempts = 3;
  broker_fixture f(o);
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    co_await register_peer(alice, f.address, "alice");
    co_await register_peer(bob, f.address, "bob");
    co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);
    int copies = 0;
    while (co_await next_introduce(bob, f.address, 300ms)) ++copies;
    BOOST_TEST(copies == 3);
    BOOST_TEST(co_await f.wait_for(kind::introduce_failed, 2s));
  });
  BOOST_TEST(f.count(kind::introduced) == 0u);
  BOOST_TEST(f.broker.stats().introductions_failed == 1u);
}

// A Register taken on its first datagram proves no address (its source may be spoofed, and the
// Introduce then aimed at a victim): one copy per Connect until the peer's first refresh by
// credential shows that it receives there; then the full retransmission schedule.
BOOST_AUTO_TEST_CASE(introduce_to_an_address_no_round_trip_proved_is_sent_once_until_the_peer_refreshes) {
  punch::broker_options o;
  o.introduce_rto = 10ms;
  o.introduce_attempts = 3;
  broker_fixture f(o);
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    co_await register_peer(alice, f.address, "alice");
    auto registered = co_await register_bob_on_a_timestamp(f, bob);
    BOOST_TEST(f.broker.stats().first_datagram == 1u);

    co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);
    int copies = 0;
    while (co_await next_introduce(bob, f.address, 300ms)) ++copies;
    BOOST_TEST(copies == 1);
    BOOST_TEST(f.broker.stats().introductions_unproven == 1u);

    // The refresh carries the credential that only bob's address received: proven.
    auto refreshed = co_await bob.exchange(
        refresh_request(bob_key, bob_fields, credential_of(registered->msg), random_id()), f.address);
    BOOST_TEST_REQUIRE(refreshed->msg.cls() == cls::success_response);
    co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);
    copies = 0;
    while (co_await next_introduce(bob, f.address, 300ms)) ++copies;
    BOOST_TEST(copies == 3);
    BOOST_TEST(f.broker.stats().introductions_unproven == 1u);
  });
}

// The peer's refresh comes a round trip after its Register: an introduction under way then
// goes on with its retransmissions, so a first copy lost meanwhile does not lose the Connect.
BOOST_AUTO_TEST_CASE(an_introduction_to_an_unproven_address_resumes_its_retransmissions_once_the_peer_refreshes) {
  punch::broker_options o;
  o.introduce_rto = 100ms;
  o.introduce_attempts = 4;
  broker_fixture f(o);
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    co_await register_peer(alice, f.address, "alice");
    auto registered = co_await register_bob_on_a_timestamp(f, bob);
    co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);
    auto first = co_await next_introduce(bob, f.address);
    BOOST_TEST_REQUIRE(first.has_value());
    // Bob "lost" it, and refreshes: the broker's next copies come.
    auto refreshed = co_await bob.exchange(
        refresh_request(bob_key, bob_fields, credential_of(registered->msg), random_id()), f.address);
    BOOST_TEST_REQUIRE(refreshed->msg.cls() == cls::success_response);
    auto again = co_await next_introduce(bob, f.address);
    BOOST_TEST_REQUIRE(again.has_value());
    BOOST_TEST((again->data == first->data));
    co_await acknowledge(bob, *again, f.address);
    BOOST_TEST(co_await f.wait_for(kind::introduced, 2s));
  });
  BOOST_TEST(f.broker.stats().introductions_unproven == 1u);
  BOOST_TEST(f.broker.stats().introductions_failed == 0u);
}

BOOST_AUTO_TEST_CASE(a_retransmitted_connect_gets_the_same_answer_and_introduces_once) {
  punch::broker_options o;
  o.introduce_rto = 2s;  // no retransmitted Introduce gets in the way of the checks
  broker_fixture f(o);
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    co_await register_peer(alice, f.address, "alice");
    co_await register_peer(bob, f.address, "bob");
    const auto request = connect_request(random_id(), "alice", "bob");
    auto first = co_await alice.exchange(request, f.address);
    auto intro = co_await next_introduce(bob, f.address);
    BOOST_TEST_REQUIRE(intro.has_value());
    co_await acknowledge(bob, *intro, f.address);
    auto again = co_await alice.exchange(request, f.address);
    BOOST_TEST((again->data == first->data));
    auto second_intro = co_await bob.receive(300ms);
    BOOST_TEST(!second_intro.has_value(), "a retransmitted Connect introduced bob again");

    // A new Connect is a new introduction with a new token.
    auto other = co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);
    BOOST_TEST((other->token() != first->token()));
    auto intro2 = co_await next_introduce(bob, f.address);
    BOOST_TEST_REQUIRE(intro2.has_value());
    BOOST_TEST((intro2->token() == other->token()));
    co_await acknowledge(bob, *intro2, f.address);
  });
  BOOST_TEST(f.broker.stats().introductions == 2u);
  BOOST_TEST(f.broker.stats().connects == 3u);
}

BOOST_AUTO_TEST_CASE(connect_is_refused_to_strangers_and_impostors_and_for_unknown_targets) {
  broker_fixture f;
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp), mallory(*f.udp);
    co_await register_peer(alice, f.address, "alice");
    co_await register_peer(bob, f.address, "bob");
    struct refusal {
      client* from;
      std::string requester, target;
      int code;
      std::string reason;
    };
    const std::vector<refusal> cases{
        {&mallory, "mallory", "bob", 403, "PEER-ID not registered"},
        {&mallory, "alice", "bob", 403, "PEER-ID registered elsewhere"},
        {&alice, "alice", "carol", 404, "TARGET-ID not registered"},
        {&alice, "alice", "alice", 400, "TARGET-ID is PEER-ID"},
        {&alice, "alice", "", 400, "missing TARGET-ID"},
        {&alice, "", "bob", 400, "missing PEER-ID"},
        {&alice, "alice", "b b", 400, "TARGET-ID: bad character"},
    };
    for (const auto& c : cases) {
      BOOST_TEST_CONTEXT(c.requester << " → " << c.target) {
        auto a = co_await c.from->exchange(connect_request(random_id(), c.requester, c.target), f.address);
        BOOST_TEST(a->msg.cls() == cls::error_response);
        BOOST_TEST(a->error_code() == c.code);
        BOOST_TEST(a->reason() == c.reason);
      }
    }
    auto nothing = co_await bob.receive(200ms);
    BOOST_TEST(!nothing.has_value(), "a refused Connect introduced bob");
  });
  BOOST_TEST(f.broker.stats().introductions == 0u);
}

BOOST_AUTO_TEST_CASE(a_registration_expires_after_its_lifetime) {
  punch::broker_options o;
  o.min_lifetime = 1s;
  o.default_lifetime = 1s;
  o.expiry_interval = 100ms;
  broker_fixture f(o);
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    const auto registered = std::chrono::steady_clock::now();
    auto r = co_await register_peer(bob, f.address, "bob", {}, 1);
    BOOST_TEST(r->u32(wire::attr::lifetime) == std::optional<std::uint32_t>(1));
    // Poll with Lookup (bounded) until the broker says 404.
    asio::steady_timer pause(co_await asio::this_coro::executor);
    int code = 0;
    for (int i = 0; i < 50 && code != 404; ++i) {
      auto a = co_await alice.exchange(
          make_request(wire::method::lookup, random_id(),
                       [](stun::builder& b) { b.add_string(wire::attr::target_id, "bob"); }, 400),
          f.address);
      code = a->msg.cls() == cls::error_response ? a->error_code() : 200;
      if (code == 404) break;
      pause.expires_after(100ms);
      co_await pause.async_wait(asio::use_awaitable);
    }
    BOOST_TEST(code == 404);
    BOOST_TEST((std::chrono::steady_clock::now() - registered >= 900ms));
    BOOST_TEST(co_await f.wait_for(kind::expired, 2s));
    BOOST_TEST(f.events.back().id == "bob");
    BOOST_TEST(f.events.back().address == bob.local());
  });
  BOOST_TEST(f.registry->size() == 0u);
}

BOOST_AUTO_TEST_CASE(a_dual_stack_broker_reports_ipv4_peers_as_ipv4_and_introduces_them) {
  {
    asio::io_context probe;
    asio::ip::udp::socket v6(probe);
    punch::error_code ec;
    v6.open(asio::ip::udp::v6(), ec);
    if (!ec) v6.bind(endpoint{asio::ip::address_v6::any(), 0}, ec);
    if (ec) {
      BOOST_TEST_MESSAGE("no IPv6 socket on this host, dual-stack case not run: " << ec.message());
      return;
    }
  }
  broker_fixture f({}, 100, endpoint{asio::ip::address_v6::any(), 0});
  const endpoint to{asio::ip::make_address("127.0.0.1"), f.address.port()};
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    auto r = co_await register_peer(alice, to, "alice");
    BOOST_TEST(r->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(alice.local()));
    co_await register_peer(bob, to, "bob");
    auto a = co_await alice.exchange(connect_request(random_id(), "alice", "bob"), to);
    BOOST_TEST(a->xor_address(wire::attr::reflexive_candidate) == std::optional<endpoint>(bob.local()));
    endpoint from;
    auto data = co_await bob.receive(2s, &from);
    BOOST_TEST_REQUIRE(data.has_value(), "the Introduce did not reach an IPv4 peer");
    BOOST_TEST(from.address().is_v4());
    auto i = parse(std::move(*data));
    BOOST_TEST(i->xor_address(wire::attr::reflexive_candidate) == std::optional<endpoint>(alice.local()));
    co_await acknowledge(bob, *i, to);
    BOOST_TEST(co_await f.wait_for(kind::introduced, 2s));
  });
}

// A dual-stack peer registers over both families: the broker keeps both addresses, lists both
// as REFLEXIVE-CANDIDATE, and takes Connect from either. A Connect's RESUME reaches the target
// in its Introduce (a re-introduction after a move); a RESUME of the wrong size is a 400.
BOOST_AUTO_TEST_CASE(a_peer_registered_over_both_families_is_listed_with_both_and_resume_is_passed_on) {
  {
    asio::io_context probe;
    asio::ip::udp::socket v6(probe);
    punch::error_code ec;
    v6.open(asio::ip::udp::v6(), ec);
    if (!ec) v6.bind(endpoint{asio::ip::make_address("::1"), 0}, ec);
    if (ec) {
      BOOST_TEST_MESSAGE("no IPv6 loopback on this host, dual-family case not run: " << ec.message());
      return;
    }
  }
  broker_fixture f({}, 100, endpoint{asio::ip::address_v6::any(), 0});
  const endpoint to4{asio::ip::make_address("127.0.0.1"), f.address.port()};
  const endpoint to6{asio::ip::make_address("::1"), f.address.port()};
  f.run([&]() -> asio::awaitable<void> {
    client alice(*f.udp), alice6(*f.udp, "::1"), bob(*f.udp);
    co_await register_peer(alice, to4, "alice");
    auto r6 = co_await register_peer(alice6, to6, "alice");
    BOOST_TEST(r6->xor_address(stun::attr::xor_mapped_address) == std::optional<endpoint>(alice6.local()));
    co_await register_peer(bob, to4, "bob");
    auto stored = f.registry->find("alice", std::chrono::steady_clock::now());
    BOOST_TEST_REQUIRE(stored.has_value());
    BOOST_TEST(stored->reflexive == alice.local());
    BOOST_TEST(stored->reflexive_alt == alice6.local());
    auto l = co_await bob.exchange(make_request(wire::method::lookup, random_id(),
                                                [](stun::builder& b) { b.add_string(wire::attr::target_id, "alice"); }, 424),
                                   to4);
    BOOST_TEST((l->all_xor_addresses(wire::attr::reflexive_candidate) == std::vector<endpoint>{alice.local(), alice6.local()}));
    // From the IPv6 address, with a RESUME.
    const std::array<std::byte, wire::resume_size> resume{std::byte{1}, std::byte{2}, std::byte{3}, std::byte{4},
                                                          std::byte{5}, std::byte{6}, std::byte{7}, std::byte{8}};
    auto connect_with = [&](std::span<const std::byte> value) {
      return make_request(
          wire::method::connect, random_id(),
          [&](stun::builder& b) {
            b.add_string(wire::attr::peer_id, "alice");
            b.add_string(wire::attr::target_id, "bob");
            b.add(wire::attr::resume, value);
          },
          424);
    };
    auto bad = co_await alice6.exchange(connect_with(std::span(resume).first(7)), to6);
    BOOST_TEST(bad->error_code() == 400);
    auto a = co_await alice6.exchange(connect_with(resume), to6);
    BOOST_TEST_REQUIRE(a->msg.cls() == cls::success_response, a->error_code() << " " << a->reason());
    auto i = co_await next_introduce(bob, to4);
    BOOST_TEST_REQUIRE(i.has_value());
    auto got = i->msg.find(wire::attr::resume);
    BOOST_TEST_REQUIRE(got.has_value());
    BOOST_TEST((bytes(got->value.begin(), got->value.end()) == bytes(resume.begin(), resume.end())));
    BOOST_TEST(i->all_xor_addresses(wire::attr::reflexive_candidate).size() == 2u);
    co_await acknowledge(bob, *i, to4);
  });
}

BOOST_AUTO_TEST_CASE(cancelling_run_ends_it_and_stops_introductions_in_flight) {
  punch::broker_options o;
  o.introduce_rto = 200ms;
  broker_fixture f(o);
  asio::cancellation_signal stop;
  bool ended = false;
  std::exception_ptr failure;
  asio::co_spawn(f.ctx, f.broker.run(), asio::bind_cancellation_slot(stop.slot(), [&](std::exception_ptr e) {
    ended = true;
    failure = e;
  }));
  bool tested = false;
  asio::co_spawn(f.ctx, [&]() -> asio::awaitable<void> {
    client alice(*f.udp), bob(*f.udp);
    co_await register_peer(alice, f.address, "alice");
    co_await register_peer(bob, f.address, "bob");
    co_await alice.exchange(connect_request(random_id(), "alice", "bob"), f.address);
    BOOST_TEST((co_await next_introduce(bob, f.address)).has_value());
    stop.emit(asio::cancellation_type::terminal);
    // Unacknowledged, the Introduce would be resent 200 and 600 ms after the first.
    auto late = co_await bob.receive(800ms);
    BOOST_TEST(!late.has_value(), "an introduction outlived run()");
    BOOST_TEST(ended);
    tested = true;
  }, [&](std::exception_ptr e) { if (e) failure = e; });
  f.ctx.run_for(10s);
  BOOST_TEST(tested);
  BOOST_TEST(ended);
  if (failure) std::rethrow_exception(failure);
  BOOST_TEST(f.count(kind::introduce_failed) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE_END()  // broker_connect_test
