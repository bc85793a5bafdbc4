// The port mapper's pure parts (framework/src/session/gateway.cpp): the default gateway out of
// /proc/net/route's text, our address toward it, and RFC 6887 §8.5's test of a gateway's epoch.
#include "session/port_mapper.hpp"

#include <boost/test/unit_test.hpp>

using namespace punch;
using namespace punch::detail;
namespace asio = boost::asio;
using std::chrono::seconds;

BOOST_AUTO_TEST_SUITE(gateway_test)

BOOST_AUTO_TEST_CASE(the_default_gateway_is_the_up_gateway_route_to_zero_with_mask_zero) {
  // A real table: a LAN route first, then the default route via 192.168.1.254 (FE01A8C0
  // in the kernel's little-endian words), flags UG (0003).
  const char* table =
      "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
      "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
      "eth0\t00000000\tFE01A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n";
  auto gw = parse_default_gateway(table);
  BOOST_TEST_REQUIRE(gw.has_value());
  BOOST_TEST(gw->to_string() == "192.168.1.254");
}

BOOST_AUTO_TEST_CASE(no_default_route_a_down_one_or_garbage_is_no_gateway) {
  BOOST_TEST(!parse_default_gateway("Iface\tDestination\tGateway\n"
                                    "eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n"));
  // Flags without RTF_UP.
  BOOST_TEST(!parse_default_gateway("header\neth0\t00000000\tFE01A8C0\t0002\t0\t0\t0\t00000000\n"));
  BOOST_TEST(!parse_default_gateway("header\neth0\t00000000\tnot-hex\t0003\t0\t0\t0\t00000000\n"));
  BOOST_TEST(!parse_default_gateway(""));
}

BOOST_AUTO_TEST_CASE(our_address_toward_the_gateway_is_the_host_candidate_on_its_subnet) {
  const std::vector<endpoint> hosts{{asio::ip::make_address("172.17.0.5"), 4000},
                                    {asio::ip::make_address("192.168.1.20"), 4000},
                                    {asio::ip::make_address("2001:db8::5"), 4000}};
  BOOST_TEST(address_toward(asio::ip::make_address("192.168.1.254"), hosts).to_string() == "192.168.1.20");
  BOOST_TEST(address_toward(asio::ip::make_address("172.17.0.1"), hosts).to_string() == "172.17.0.5");
  BOOST_TEST(address_toward(asio::ip::make_address("2001:db8::1"), hosts).to_string() == "2001:db8::5");
  // None of the gateway's family: nothing to ask from.
  BOOST_TEST(address_toward(asio::ip::make_address("fe80::1"), {{asio::ip::make_address("10.0.0.2"), 1}}).is_unspecified());
}

BOOST_AUTO_TEST_CASE(an_epoch_that_goes_back_or_lags_far_behind_our_clock_is_a_restart) {
  const punch::clock::time_point t0{};
  // Kept pace: 100 s of ours, 100 s of the gateway's.
  BOOST_TEST(epoch_continues(t0, seconds(500), t0 + seconds(100), seconds(600)));
  // A slow gateway clock within 1/8 and 2 s of slack is still the same epoch.
  BOOST_TEST(epoch_continues(t0, seconds(500), t0 + seconds(100), seconds(586)));
  BOOST_TEST(!epoch_continues(t0, seconds(500), t0 + seconds(100), seconds(580)));
  // Went back: it restarted.
  BOOST_TEST(!epoch_continues(t0, seconds(500), t0 + seconds(10), seconds(3)));
  // Restarted 5 s after our grant, noticed at a renewal 10 s after it (the sim test's case).
  BOOST_TEST(!epoch_continues(t0, seconds(0), t0 + seconds(10), seconds(5)));
}

BOOST_AUTO_TEST_SUITE_END()
