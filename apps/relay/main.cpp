// punch-relay: the reference relay. Options → io_context → co_spawn → run; SIGINT or SIGTERM
// stop it cleanly. Exit codes are in apps/common/server_options.hpp and --help.
#include "log.hpp"
#include "metrics.hpp"
#include "options.hpp"

#include "server_common.hpp"
#include "server_main.hpp"

#include "punch/relay.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <optional>
#include <string>

namespace {

using namespace punch;
using namespace punch::relay_app;

constexpr const char* app = "punch-relay";

int serve(const relay_app_options& o, transport_registry& transports) {
  // Declared first, destroyed last: a scrape in flight holds work on its io_context until the
  // relay's io_context is gone (apps/common/metrics_http.hpp).
  std::optional<apps::metrics_endpoint> metrics;
  asio::io_context ctx{1};
  auto t = apps::make_server_transport(transports, app, o, ctx.get_executor(), transport_settings_for(o));
  if (!t) return apps::exit_bad_options;
  datagram_socket socket;
  if (!apps::listen_on(*t, socket, app, o.listen)) return apps::exit_failure;
  relay r(socket, make_relay_options(o));
  if (!o.quiet) r.on_event([](const relay_event& e) { apps::log_line(event_text(e)); });
  // Installed before the first line, so a signal sent by whoever read it is handled.
  asio::signal_set signals(ctx, SIGINT, SIGTERM);
  apps::log_line("punch-relay listening on " + apps::text_of(socket.local_endpoint()) + " (transport " + o.transport +
                 ")");

  auto scrape = [&r, ex = ctx.get_executor()]() -> asio::awaitable<std::string> {
    co_return metrics_text_of(co_await sample(r, ex));
  };
  if (!apps::serve_metrics(metrics, app, o, scrape)) return apps::exit_failure;

  apps::server_outcome outcome(app, [&] { ctx.stop(); });
  asio::co_spawn(ctx,
                 apps::serve_until_signal(r.run(), signals, o.stats_interval,
                                          [&r] { return stats_text(r.stats(), r.allocations()); }),
                 outcome.handler());
  ctx.run();
  if (metrics) metrics->stop();
  return outcome.exit_code();
}

}  // namespace

int main(int argc, char* argv[]) { return apps::server_main(argc, argv, app, parse_options, serve); }
