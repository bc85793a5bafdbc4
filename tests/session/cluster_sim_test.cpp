// Two brokers serving one population through one memory_cluster_hub, with peer sessions on the
// simulated network (ring: sim): a peer at broker A connects to a peer at broker B behind a
// port-restricted NAT (only B's Introduce gets through it), Lookup across brokers, two peers
// racing on one id at two brokers, the shared store down (each broker serves its own peers) and
// back up (registrations claimed again), and a peer that expired.
#include "session_test_support.hpp"
#include "sim_world.hpp"

#include "punch/cluster.hpp"
#include "punch/identity.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(cluster_sim_test)  // CTest runs this file by its suite's name (punch_add_test GROUP)

using namespace punch;
using namespace punch::test;
using namespace boost::asio::experimental::awaitable_operators;
namespace asio = boost::asio;

namespace {

identity key_of(int n) {
  std::array<std::byte, 32> seed{};
  seed[0] = std::byte(n);
  seed[31] = std::byte{0xc1};
  return identity::from_seed(seed);
}

// broker A at 203.0.113.1:3478 (the world's) and broker B at 203.0.113.3:3478, members "a" and
// "b" of one hub; their events are collected.
struct cluster_world {
  cluster_world() {
    a = hub.join("a", w.ctx.get_executor(), &w.net.clock());
    b = hub.join("b", w.ctx.get_executor(), &w.net.clock());
    w.broker_opts.cluster = a.get();
    w.restart_broker();
    broker_a = &w.current_broker();
    auto& host_b = w.net.add_host("broker-b", w.net.internet(), addr("203.0.113.3"), w.link);
    auto inst = std::make_unique<sim_world::broker_instance>();
    inst->socket = host_b.transport().open({{}, 3478});
    inst->reg = make_memory_registry(1000);
    auto ob = w.broker_opts;
    ob.cluster = b.get();
    ob.other_address.reset();  // no second port at B
    inst->service = std::make_unique<punch::broker>(inst->socket, *inst->reg, ob);
    asio::co_spawn(w.ctx, inst->service->run(), asio::detached);
    broker_b = inst->service.get();
    w.brokers.push_back(std::move(inst));
    broker_a->on_event([this](const broker_event& e) { events_a.push_back(e.what); });
    broker_b->on_event([this](const broker_event& e) { events_b.push_back(e.what); });
    a->start();
    b->start();
  }

  // A peer behind its own port-restricted NAT (host `host`, or its id), registered (later) at `at`.
  session& peer(const std::string& id, punch::broker& at, int key = 0, const std::string& host = {}) {
    auto& h = w.add_peer_host(host.empty() ? id : host, "port-restricted-cone");
    session_options o = quick();
    o.broker = &at == broker_a ? w.broker_endpoint() : b_endpoint;
    o.id = id;
    o.clock = &w.net.clock();
    if (key != 0) o.key = key_of(key);
    w.sessions.push_back(std::make_unique<session>(h.transport(), o));
    return *w.sessions.back();
  }

  static std::size_t count(const std::vector<broker_event::kind>& events, broker_event::kind k) {
    return static_cast<std::size_t>(std::count(events.begin(), events.end(), k));
  }

  // Destroyed in this order: the world (brokers, sessions), the members, the hub.
  memory_cluster_hub hub;
  std::unique_ptr<cluster> a, b;
  sim_world w;
  punch::broker* broker_a = nullptr;
  punch::broker* broker_b = nullptr;
  endpoint b_endpoint{addr("203.0.113.3"), 3478};
  std::vector<broker_event::kind> events_a, events_b;
};

// How an operation ended: its error code, or none.
template <typename Awaitable>
asio::awaitable<error_code> outcome_of(Awaitable a) {
  try {
    co_await std::move(a);
    co_return error_code{};
  } catch (const system_error& e) {
    co_return e.code();
  }
}

asio::awaitable<void> exchange(session& from, session& to, const std::string& to_id) {
  auto [ca, cb] = co_await (from.connect(to_id) && to.accept());
  co_await send_text(ca, "hello");
  BOOST_CHECK_EQUAL(co_await receive_text(cb), "hello");
  co_await send_text(cb, "hello back");
  BOOST_CHECK_EQUAL(co_await receive_text(ca), "hello back");
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_peer_connects_to_a_peer_held_by_the_other_broker_which_sends_the_introduce, cluster_world) {
  auto& alice = peer("alice", *broker_a);
  auto& bob = peer("bob", *broker_b);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    // bob's NAT filters by address and port: only B, where bob registered, gets through it.
    co_await exchange(alice, bob, "bob");
  }());
  const auto& sa = broker_a->stats();
  const auto& sb = broker_b->stats();
  BOOST_TEST(sa.remote_connects == 1u);
  BOOST_TEST(sa.introductions_forwarded == 1u);
  BOOST_TEST(sa.introductions == 0u);  // A sent no Introduce itself
  BOOST_TEST(sb.introductions_taken == 1u);
  BOOST_TEST(sb.introductions_acked == 1u);
  BOOST_TEST(sa.claims == 1u);
  BOOST_TEST(sb.claims == 1u);
  BOOST_TEST(count(events_b, broker_event::kind::introduced) == 1u);
}

BOOST_FIXTURE_TEST_CASE(lookup_finds_a_peer_held_by_the_other_broker, cluster_world) {
  auto& alice = peer("alice", *broker_a);
  auto& bob = peer("bob", *broker_b, 7);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    const peer_info info = co_await alice.lookup("bob");
    BOOST_TEST(info.id == "bob");
    BOOST_TEST(info.key == key_of(7).key());
    BOOST_TEST(info.reflexive.address() == addr("198.51.100.102"));  // bob's NAT
    BOOST_TEST(co_await outcome_of(alice.lookup("nobody")) == make_error_code(errc::peer_not_found));
  }());
  BOOST_TEST(broker_a->stats().cluster_lookups == 2u);
  BOOST_TEST(broker_a->stats().cluster_misses == 1u);
}

BOOST_FIXTURE_TEST_CASE(two_peers_racing_on_one_id_at_two_brokers_one_wins_the_other_gets_id_taken, cluster_world) {
  auto& carol_a = peer("carol", *broker_a, 1);
  auto& carol_b = peer("carol", *broker_b, 2, "carol-b");
  auto& dave = peer("dave", *broker_b);
  w.run([&]() -> asio::awaitable<void> {
    auto [ea, eb] = co_await (outcome_of(carol_a.register_self()) && outcome_of(carol_b.register_self()));
    BOOST_TEST((!ea != !eb));  // exactly one succeeded
    const error_code lost = ea ? ea : eb;
    BOOST_TEST(lost == make_error_code(errc::id_taken));
    // Everyone sees the winner's key, at either broker.
    co_await dave.register_self();
    const peer_info info = co_await dave.lookup("carol");
    BOOST_TEST(info.key == (ea ? key_of(2) : key_of(1)).key());
  }());
  BOOST_TEST(broker_a->stats().claims_refused + broker_b->stats().claims_refused == 1u);
}

BOOST_FIXTURE_TEST_CASE(with_the_store_down_own_peers_connect_and_remote_lookups_fail_cleanly, cluster_world) {
  auto& alice = peer("alice", *broker_a);
  auto& dave = peer("dave", *broker_a);
  auto& erin = peer("erin", *broker_a);
  auto& bob = peer("bob", *broker_b);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && dave.register_self() && bob.register_self());
    hub.set_down(true);
    // A's own peers: a new one registers, and they connect as before.
    co_await erin.register_self();
    co_await exchange(alice, dave, "dave");
    co_await exchange(erin, alice, "alice");
    // Peers held elsewhere cannot be found now: an error at once, not a timeout.
    const auto t0 = w.net.clock().now();
    BOOST_TEST(co_await outcome_of(alice.lookup("bob")) == make_error_code(errc::cluster_unavailable));
    BOOST_TEST(co_await outcome_of(alice.connect("bob")) == make_error_code(errc::cluster_unavailable));
    BOOST_TEST(ms_since(t0) < 500);
  }());
  const auto& sa = broker_a->stats();
  BOOST_TEST((sa.store == cluster_state::down));
  BOOST_TEST(sa.store_downs == 1u);
  BOOST_TEST(sa.claims_local == 1u);  // erin
  BOOST_TEST(sa.store_unavailable == 2u);
  // Said once, however many requests it failed.
  BOOST_TEST(count(events_a, broker_event::kind::store_down) == 1u);
  BOOST_TEST(count(events_b, broker_event::kind::store_down) == 1u);
}

BOOST_FIXTURE_TEST_CASE(when_the_store_is_back_registrations_are_claimed_again_and_cross_broker_connect_works, cluster_world) {
  auto& alice = peer("alice", *broker_a);
  auto& erin = peer("erin", *broker_a);
  auto& bob = peer("bob", *broker_b);
  w.run([&]() -> asio::awaitable<void> {
    co_await (alice.register_self() && bob.register_self());
    hub.set_down(true);
    co_await erin.register_self();  // known to A alone
    // Back up, and empty: the store lost everything.
    hub.set_down(false);
    co_await exchange(alice, bob, "bob");
    co_await exchange(bob, erin, "erin");
  }());
  BOOST_TEST((broker_a->stats().store == cluster_state::up));
  BOOST_TEST(broker_a->stats().reclaims == 2u);  // alice and erin
  BOOST_TEST(broker_b->stats().reclaims == 1u);  // bob
  BOOST_TEST(broker_b->stats().introductions_taken == 1u);
  BOOST_TEST(broker_a->stats().introductions_taken == 1u);
  BOOST_TEST(count(events_a, broker_event::kind::store_up) == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_peer_that_expired_is_not_found_from_the_other_broker, cluster_world) {
  auto& alice = peer("alice", *broker_a);
  auto& bob = peer("bob", *broker_b);
  w.run(
      [&]() -> asio::awaitable<void> {
        co_await (alice.register_self() && bob.register_self());
        BOOST_TEST((co_await alice.lookup("bob")).id == "bob");
        bob.close();  // no more refreshes: the registration lives out its 60 s
        punch::timer t(co_await asio::this_coro::executor, w.net.clock());
        t.expires_after(61s);
        co_await t.async_wait(asio::use_awaitable);
        BOOST_TEST(co_await outcome_of(alice.lookup("bob")) == make_error_code(errc::peer_not_found));
      }(),
      90s);
  BOOST_TEST(broker_a->stats().cluster_misses == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
