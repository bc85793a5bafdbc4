// Tests of register_builtins: one call puts "udp" and "sim" in a registry, each made by name.
#include "punch/plugins/builtin.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

namespace {

namespace asio = boost::asio;
using punch::error_code;

struct fixture {
  fixture() { punch::plugins::register_builtins(registry); }
  asio::io_context ctx;
  punch::transport_registry registry;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(builtin_transports, fixture)

BOOST_AUTO_TEST_CASE(register_builtins_adds_udp_and_sim_with_descriptions) {
  BOOST_TEST(registry.names() == (std::vector<std::string>{"sim", "udp"}),
             boost::test_tools::per_element());
  BOOST_TEST(!registry.description("udp").empty());
  BOOST_TEST(!registry.description("sim").empty());
}

BOOST_AUTO_TEST_CASE(the_udp_transport_is_made_by_name_and_opens_a_loopback_socket) {
  auto udp = registry.make("udp", ctx.get_executor());
  BOOST_TEST(udp->name() == "udp");
  auto socket = udp->open({asio::ip::address_v4::loopback(), 0});
  BOOST_TEST(socket.is_open());
  BOOST_TEST(socket.local_endpoint().port() != 0);
}

BOOST_AUTO_TEST_CASE(the_sim_transport_is_made_by_name) {
  auto sim = registry.make("sim", ctx.get_executor());
  BOOST_TEST(sim->name() == "sim");
}

BOOST_AUTO_TEST_CASE(registering_the_builtins_twice_fails_with_duplicate_transport) {
  BOOST_CHECK_EXCEPTION(punch::plugins::register_builtins(registry), punch::system_error,
                        [](const punch::system_error& e) {
                          return e.code() == punch::errc::duplicate_transport;
                        });
}

BOOST_AUTO_TEST_SUITE_END()
