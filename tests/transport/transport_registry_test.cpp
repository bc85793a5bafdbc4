// Tests of the transport registry in-process: add, make, duplicates, unknown names, and the
// messages that name the transport. Loading plugins by path is in transport_registry_plugin_test.cpp.
#include "punch/transport_registry.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <string>

namespace {

namespace asio = boost::asio;
using punch::error_code;

// The error_code for an error enum, so that BOOST_TEST can print both sides.
template <typename Enum>
error_code code(Enum e) {
  return make_error_code(e);
}

class named_transport final : public punch::transport {
public:
  named_transport(std::string name, asio::any_io_executor ex)
      : name_(std::move(name)), ex_(std::move(ex)) {}
  std::string name() const override { return name_; }
  asio::any_io_executor get_executor() override { return ex_; }
  using punch::transport::open;
  punch::datagram_socket open(const punch::endpoint&, error_code& ec) override {
    ec = punch::errc::address_not_available;
    return {};
  }

private:
  std::string name_;
  asio::any_io_executor ex_;
};

// A factory that makes a named_transport and remembers the options it was given.
punch::transport_factory factory_for(std::string name, punch::transport_options* seen = nullptr) {
  return [name, seen](asio::any_io_executor ex, const punch::transport_options& options,
                      error_code& ec) -> std::unique_ptr<punch::transport> {
    ec.clear();
    if (seen) *seen = options;
    return std::make_unique<named_transport>(name, std::move(ex));
  };
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct fixture {
  asio::io_context ctx;
  punch::transport_registry registry;
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(transport_registry, fixture)

BOOST_AUTO_TEST_CASE(a_transport_added_by_name_is_made_by_that_name_with_its_options) {
  punch::transport_options seen;
  registry.add("alpha", "the first", factory_for("alpha", &seen));
  registry.add("beta", "the second", factory_for("beta"));

  error_code ec = punch::errc::timeout;
  auto made = registry.make("alpha", ctx.get_executor(), {{"mode", "fast"}}, ec);
  BOOST_TEST(!ec);
  BOOST_REQUIRE(made);
  BOOST_TEST(made->name() == "alpha");
  BOOST_TEST((made->get_executor() == asio::any_io_executor(ctx.get_executor())));
  BOOST_TEST(seen.at("mode") == "fast");
  BOOST_TEST(registry.make("beta", ctx.get_executor())->name() == "beta");
}

BOOST_AUTO_TEST_CASE(names_are_sorted_and_descriptions_are_kept) {
  registry.add("zulu", "last", factory_for("zulu"));
  registry.add("alpha", "first", factory_for("alpha"));
  BOOST_TEST(registry.names() == (std::vector<std::string>{"alpha", "zulu"}),
             boost::test_tools::per_element());
  BOOST_TEST(registry.contains("zulu"));
  BOOST_TEST(!registry.contains("yankee"));
  BOOST_TEST(registry.description("alpha") == "first");
  BOOST_TEST(registry.description("yankee") == "");
}

BOOST_AUTO_TEST_CASE(adding_a_taken_name_fails_with_duplicate_transport_and_keeps_the_first) {
  registry.add("alpha", "the first", factory_for("alpha"));
  error_code ec;
  registry.add("alpha", "an impostor", factory_for("impostor"), ec);
  BOOST_TEST(ec == code(punch::errc::duplicate_transport));
  BOOST_TEST(&ec.category() == &punch::category());
  BOOST_TEST(registry.description("alpha") == "the first");
  BOOST_TEST(registry.make("alpha", ctx.get_executor())->name() == "alpha");
}

BOOST_AUTO_TEST_CASE(the_throwing_add_names_the_duplicate_transport) {
  registry.add("alpha", "the first", factory_for("alpha"));
  BOOST_CHECK_EXCEPTION(registry.add("alpha", "again", factory_for("alpha")), punch::system_error,
                        [](const punch::system_error& e) {
                          return e.code() == punch::errc::duplicate_transport &&
                                 contains(e.what(), "transport \"alpha\" is already registered");
                        });
}

BOOST_AUTO_TEST_CASE(an_empty_name_or_an_empty_factory_is_rejected) {
  error_code ec;
  registry.add("", "nameless", factory_for("x"), ec);
  BOOST_TEST(ec == code(punch::errc::plugin_invalid));
  registry.add("empty", "no factory", punch::transport_factory{}, ec);
  BOOST_TEST(ec == code(punch::errc::plugin_invalid));
  BOOST_TEST(registry.names().empty());
}

BOOST_AUTO_TEST_CASE(making_an_unknown_name_fails_with_unknown_transport) {
  registry.add("alpha", "", factory_for("alpha"));
  error_code ec;
  auto made = registry.make("foo", ctx.get_executor(), {}, ec);
  BOOST_TEST(!made);
  BOOST_TEST(ec == code(punch::errc::unknown_transport));
  BOOST_TEST(&ec.category() == &punch::category());
}

BOOST_AUTO_TEST_CASE(the_throwing_make_names_the_unknown_transport_and_lists_the_known_ones) {
  registry.add("udp", "", factory_for("udp"));
  registry.add("sim", "", factory_for("sim"));
  BOOST_CHECK_EXCEPTION(registry.make("foo", ctx.get_executor()), punch::system_error,
                        [](const punch::system_error& e) {
                          return e.code() == punch::errc::unknown_transport &&
                                 &e.code().category() == &punch::category() &&
                                 contains(e.what(),
                                          "transport \"foo\" is not registered (known: sim, udp)");
                        });
}

BOOST_AUTO_TEST_CASE(an_empty_registry_says_it_knows_no_transport) {
  BOOST_CHECK_EXCEPTION(registry.make("udp", ctx.get_executor()), punch::system_error,
                        [](const punch::system_error& e) {
                          return contains(e.what(), "(known: none)");
                        });
}

BOOST_AUTO_TEST_CASE(a_factory_error_is_returned_and_the_throwing_make_names_the_options) {
  registry.add("picky", "", [](asio::any_io_executor, const punch::transport_options&,
                               error_code& ec) -> std::unique_ptr<punch::transport> {
    ec = punch::errc::invalid_transport_option;
    return nullptr;
  });
  error_code ec;
  BOOST_TEST(!registry.make("picky", ctx.get_executor(), {{"batch", "lots"}}, ec));
  BOOST_TEST(ec == code(punch::errc::invalid_transport_option));
  BOOST_CHECK_EXCEPTION(registry.make("picky", ctx.get_executor(), {{"batch", "lots"}}),
                        punch::system_error, [](const punch::system_error& e) {
                          return e.code() == punch::errc::invalid_transport_option &&
                                 contains(e.what(), "transport \"picky\"") &&
                                 contains(e.what(), "batch=lots");
                        });
}

BOOST_AUTO_TEST_CASE(a_factory_that_makes_nothing_without_an_error_is_reported_invalid) {
  registry.add("silent", "", [](asio::any_io_executor, const punch::transport_options&,
                                error_code& ec) -> std::unique_ptr<punch::transport> {
    ec.clear();
    return nullptr;
  });
  error_code ec;
  BOOST_TEST(!registry.make("silent", ctx.get_executor(), {}, ec));
  BOOST_TEST(ec == code(punch::errc::plugin_invalid));
}

BOOST_AUTO_TEST_SUITE_END()
