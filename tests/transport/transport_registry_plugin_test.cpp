// Tests of loading external transport plugins by path: the loopback example plugin works, and
// each broken shared object (another ABI, another Boost, no entry point, a bad descriptor, no
// file at all) is rejected with its own punch::errc and a message that names the file.
#include "punch/plugin.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/append.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using punch::endpoint;
using punch::error_code;

// The error_code for an error enum, so that BOOST_TEST can print both sides.
template <typename Enum>
error_code code(Enum e) {
  return make_error_code(e);
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

// Checks both forms of load_plugin: the code, nothing registered, and every part in the message.
void expect_rejected(const std::filesystem::path& path, punch::errc expected,
                     std::initializer_list<std::string_view> parts) {
  punch::transport_registry registry;
  error_code ec;
  std::string name = registry.load_plugin(path, ec);
  BOOST_TEST(ec == code(expected));
  BOOST_TEST(&ec.category() == &punch::category());
  BOOST_TEST(name.empty());
  BOOST_TEST(registry.names().empty());
  const std::string detail = registry.last_error_detail();
  BOOST_TEST_INFO("detail: " << detail);
  BOOST_TEST(contains(detail, "transport plugin " + path.string()));
  for (std::string_view part : parts) BOOST_TEST(contains(detail, part), "missing: " << part);

  try {
    registry.load_plugin(path);
    BOOST_ERROR("load_plugin did not throw for " << path);
  } catch (const punch::system_error& e) {
    BOOST_TEST(e.code() == code(expected));
    BOOST_TEST(contains(e.what(), detail));
  }
}

struct fixture {
  asio::io_context ctx;
  punch::transport_registry registry;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(transport_plugins, fixture)

BOOST_AUTO_TEST_CASE(a_plugin_loaded_by_path_registers_its_transport) {
  error_code ec = punch::errc::timeout;
  BOOST_TEST(registry.load_plugin(TEST_PLUGIN_LOOPBACK, ec) == "loopback");
  BOOST_TEST(!ec);
  BOOST_TEST(registry.contains("loopback"));
  BOOST_TEST(registry.description("loopback") == "in-memory loopback network (the example plugin)");
  BOOST_TEST(registry.last_error_detail().empty());
}

BOOST_AUTO_TEST_CASE(a_plugin_transport_carries_a_datagram_between_two_of_its_sockets) {
  registry.load_plugin(TEST_PLUGIN_LOOPBACK);
  auto transport = registry.make("loopback", ctx.get_executor());
  BOOST_TEST(transport->name() == "loopback");
  auto alice = transport->open(endpoint{});
  auto bob = transport->open(endpoint{});
  BOOST_TEST(alice.local_endpoint().port() != 0);
  BOOST_TEST(alice.local_endpoint() != bob.local_endpoint());

  std::array<char, 16> buf{};
  endpoint from;
  std::size_t received = 0;
  bob.async_receive_from(asio::buffer(buf), from, [&](error_code ec, std::size_t n) {
    BOOST_TEST(!ec);
    received = n;
  });
  bool sent = false;
  alice.async_send_to(asio::buffer("hello", 5), bob.local_endpoint(),
                      [&](error_code ec, std::size_t n) { sent = !ec && n == 5; });
  BOOST_TEST(!sent, "the plugin completed a handler inside the initiating call");
  ctx.run();
  BOOST_TEST(sent);
  BOOST_TEST(std::string_view(buf.data(), received) == "hello");
  BOOST_TEST(from == alice.local_endpoint());
}

BOOST_AUTO_TEST_CASE(a_plugin_socket_aborts_receives_on_cancellation_and_on_close) {
  registry.load_plugin(TEST_PLUGIN_LOOPBACK);
  auto transport = registry.make("loopback", ctx.get_executor());
  auto socket = transport->open(endpoint{});
  std::array<char, 16> buf{};
  endpoint from;
  asio::cancellation_signal signal;
  error_code cancelled, closed;
  socket.async_receive_from(asio::buffer(buf), from,
                            asio::bind_cancellation_slot(
                                signal.slot(), [&](error_code ec, std::size_t) { cancelled = ec; }));
  socket.async_receive_from(asio::buffer(buf), from,
                            [&](error_code ec, std::size_t) { closed = ec; });
  signal.emit(asio::cancellation_type::terminal);
  socket.close();
  ctx.run();
  BOOST_TEST(cancelled == code(asio::error::operation_aborted));
  BOOST_TEST(closed == code(asio::error::operation_aborted));

  error_code after_close;
  socket.async_send_to(asio::buffer("x", 1), from,
                       [&](error_code ec, std::size_t) { after_close = ec; });
  ctx.restart();
  ctx.run();
  BOOST_TEST(after_close == code(punch::errc::socket_closed));
}

BOOST_AUTO_TEST_CASE(a_plugin_transport_rejects_options_it_does_not_know) {
  registry.load_plugin(TEST_PLUGIN_LOOPBACK);
  error_code ec;
  BOOST_TEST(!registry.make("loopback", ctx.get_executor(), {{"colour", "blue"}}, ec));
  BOOST_TEST(ec == code(punch::errc::invalid_transport_option));
}

BOOST_AUTO_TEST_CASE(a_plugin_transport_keeps_working_after_its_registry_is_gone) {
  std::unique_ptr<punch::transport> transport;
  {
    punch::transport_registry scoped;
    scoped.load_plugin(TEST_PLUGIN_LOOPBACK);
    transport = scoped.make("loopback", ctx.get_executor());
  }
  auto socket = transport->open(endpoint{});
  std::size_t sent = 0;
  socket.async_send_to(asio::buffer("abc", 3), socket.local_endpoint(),
                       [&](error_code, std::size_t n) { sent = n; });
  ctx.run();
  BOOST_TEST(sent == 3u);
}

BOOST_AUTO_TEST_CASE(loading_the_same_plugin_twice_fails_with_duplicate_transport) {
  registry.load_plugin(TEST_PLUGIN_LOOPBACK);
  error_code ec;
  BOOST_TEST(registry.load_plugin(TEST_PLUGIN_LOOPBACK, ec).empty());
  BOOST_TEST(ec == code(punch::errc::duplicate_transport));
  BOOST_TEST(contains(registry.last_error_detail(), TEST_PLUGIN_LOOPBACK));
  BOOST_TEST(contains(registry.last_error_detail(), "\"loopback\" is already registered"));
  BOOST_TEST(registry.make("loopback", ctx.get_executor())->name() == "loopback");
}

BOOST_AUTO_TEST_CASE(a_successful_load_clears_the_previous_error_detail) {
  error_code ec;
  registry.load_plugin(TEST_PLUGIN_NO_ENTRY, ec);
  BOOST_TEST(!registry.last_error_detail().empty());
  registry.load_plugin(TEST_PLUGIN_LOOPBACK, ec);
  BOOST_TEST(!ec);
  BOOST_TEST(registry.last_error_detail().empty());
}

BOOST_AUTO_TEST_CASE(a_plugin_built_for_another_abi_fails_with_plugin_version_mismatch) {
  expect_rejected(TEST_PLUGIN_ABI999, punch::errc::plugin_version_mismatch,
                  {"was built for plugin ABI 999, this punch uses " + std::to_string(PUNCH_PLUGIN_ABI_VERSION)});
}

BOOST_AUTO_TEST_CASE(a_plugin_built_against_another_boost_fails_with_plugin_version_mismatch) {
  expect_rejected(TEST_PLUGIN_OLD_BOOST, punch::errc::plugin_version_mismatch,
                  {"was built against Boost 1.70.0, this punch uses Boost 1."});
}

BOOST_AUTO_TEST_CASE(a_missing_plugin_file_fails_with_plugin_not_found) {
  expect_rejected(std::string(TEST_PLUGIN_LOOPBACK) + ".missing", punch::errc::plugin_not_found,
                  {": not found (", "No such file"});
}

BOOST_AUTO_TEST_CASE(a_file_that_is_no_shared_object_fails_with_plugin_not_found) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("punch-not-a-plugin-" + std::to_string(::getpid()) + ".so");
  std::ofstream(path) << "not an ELF file\n";
  expect_rejected(path, punch::errc::plugin_not_found, {": cannot be loaded ("});
  std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(a_shared_object_without_the_entry_point_fails_with_plugin_entry_missing) {
  expect_rejected(TEST_PLUGIN_NO_ENTRY, punch::errc::plugin_entry_missing,
                  {"has no entry point punch_transport_plugin()"});
}

BOOST_AUTO_TEST_CASE(a_plugin_whose_descriptor_lacks_make_fails_with_plugin_invalid) {
  expect_rejected(TEST_PLUGIN_INVALID, punch::errc::plugin_invalid,
                  {"descriptor lacks a name or a make function"});
}

BOOST_AUTO_TEST_SUITE_END()
