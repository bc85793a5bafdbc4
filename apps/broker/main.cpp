// punch-broker: the reference broker. Options → io_context → co_spawn → run; SIGINT or
// SIGTERM stop it cleanly. Exit codes are in apps/common/server_options.hpp and --help.
#include "log.hpp"
#include "metrics.hpp"
#include "options.hpp"

#include "server_main.hpp"

#include "punch/broker.hpp"
#include "punch/cluster.hpp"
#include "punch/redis.hpp"
#include "punch/registry.hpp"
#include "punch/transport_registry.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

using namespace punch;
using namespace punch::broker_app;
using apps::exit_bad_options;
using apps::exit_failure;

constexpr const char* app = "punch-broker";

// One broker with its own io_context, socket and (but for the first) thread: --threads N.
struct worker {
  asio::io_context ctx{1};
  std::unique_ptr<transport> t;
  datagram_socket socket;
  // --redis: made before the broker, which holds it, and destroyed after it, before ctx.
  std::unique_ptr<cluster> shared;
  std::unique_ptr<broker> b;
};

int serve(const broker_app_options& o, transport_registry& transports) {
  // Declared first, destroyed last: a scrape in flight holds work on its io_context until the
  // brokers' io_contexts are gone (apps/common/metrics_http.hpp).
  std::optional<apps::metrics_endpoint> metrics;
  // Several threads share one registry: Connect finds peers registered through any of them.
  auto reg = o.threads > 1 ? make_shared_registry(o.max_peers) : make_memory_registry(o.max_peers);
  // One NONCE secret for all threads: a peer's next datagram may reach another thread than
  // the one that gave it its NONCE.
  auto settings = make_broker_options(o);
  settings.nonce_secret = random_broker_secret();
  std::vector<std::unique_ptr<worker>> workers;
  for (std::size_t i = 0; i < o.threads; ++i) {
    auto& w = *workers.emplace_back(std::make_unique<worker>());
    w.t = apps::make_server_transport(transports, app, o, w.ctx.get_executor(), transport_settings_for(o));
    if (!w.t) return exit_bad_options;
    // The others join the first one's port (SO_REUSEPORT), also when it was picked by port 0.
    if (!apps::listen_on(*w.t, w.socket, app, i == 0 ? o.listen : workers.front()->socket.local_endpoint()))
      return exit_failure;
    if (o.redis) {
      // One thread (options.cpp refuses --threads with --redis): this broker is the member.
      w.shared = make_redis_cluster(w.ctx.get_executor(), *o.redis,
                                    {.name = cluster_name_for(o, w.socket.local_endpoint().port())});
      settings.cluster = w.shared.get();
    }
    w.b = std::make_unique<broker>(w.socket, *reg, settings);
    if (!o.quiet) {
      w.b->on_event([](const broker_event& e) {
        if (auto text = event_text(e); !text.empty()) log_line(text);
      });
    }
  }
  if (o.threads > 1) {
    std::vector<broker*> all;
    for (auto& w : workers) all.push_back(w->b.get());
    for (auto& w : workers) w->b->share_introductions_with(all);
  }
  worker& first = *workers.front();
  // The second port (NAT mapping discovery): a Binding-only broker on the first thread.
  datagram_socket other_socket;
  std::unique_ptr<registry> no_registrations;
  std::unique_ptr<broker> other_broker;
  if (o.other_port != 0) {
    if (!apps::listen_on(*first.t, other_socket, app, {o.listen.address(), o.other_port}, "--other-port "))
      return exit_failure;
    broker_options binding_only;
    binding_only.binding_only = true;
    binding_only.rate_limit = settings.rate_limit;
    binding_only.rate_burst = settings.rate_burst;
    no_registrations = make_memory_registry(1);
    other_broker = std::make_unique<broker>(other_socket, *no_registrations, binding_only);
    // Announced with the unspecified address when listening on every address: peers then
    // take the address they reached the broker at (docs/protocol.md).
    const endpoint announced{o.listen.address(), other_socket.local_endpoint().port()};
    for (auto& w : workers) w->b->announce_other_address(announced);
  }
  // Installed before the first line, so a signal sent by whoever read it is handled.
  asio::signal_set signals(first.ctx, SIGINT, SIGTERM);
  log_line("punch-broker listening on " + apps::text_of(first.socket.local_endpoint()) + " (transport " +
           o.transport + (o.threads > 1 ? ", " + std::to_string(o.threads) + " threads" : std::string{}) +
           (other_broker ? ", Binding also on " + apps::text_of(other_socket.local_endpoint()) : std::string{}) + ")");

  // Every broker of the process, on the executor whose thread owns its counters.
  std::vector<broker_on> brokers;
  for (auto& w : workers) brokers.push_back({w->b.get(), w->ctx.get_executor()});
  if (other_broker) brokers.push_back({other_broker.get(), first.ctx.get_executor()});
  auto scrape = [brokers, &reg = *reg, c = settings.cluster]() -> asio::awaitable<std::string> {
    co_return metrics_text_of(co_await sample(brokers, reg, c));
  };
  if (!apps::serve_metrics(metrics, app, o, scrape)) return exit_failure;

  if (first.shared) {
    log_line("sharing the registry on " + to_string(*o.redis) + " as \"" + first.shared->name() + "\"");
    first.shared->start();
  }

  apps::server_outcome outcome(app, [&] {
    // The cluster's connections close while the io_context still runs what they complete.
    if (first.shared) first.shared->stop();
    for (auto& w : workers) w->ctx.stop();
  });
  // The counters of the broker on thread `i`, prefixed when there are several.
  auto stats_line = [&](std::size_t i) {
    const std::string prefix = o.threads > 1 ? "thread " + std::to_string(i) + ": " : "";
    return [&b = *workers[i]->b, &reg = *reg, prefix] { return prefix + stats_text(b.stats(), reg.size()); };
  };
  asio::co_spawn(first.ctx, apps::serve_until_signal(first.b->run(), signals, o.stats_interval, stats_line(0)),
                 outcome.handler());
  if (other_broker) asio::co_spawn(first.ctx, other_broker->run(), outcome.handler());
  std::vector<std::thread> threads;
  for (std::size_t i = 1; i < workers.size(); ++i) {
    worker& w = *workers[i];
    asio::co_spawn(w.ctx, w.b->run(), outcome.handler());
    if (o.stats_interval.count() > 0)
      asio::co_spawn(w.ctx, apps::print_stats(o.stats_interval, stats_line(i)), asio::detached);
    threads.emplace_back([&w] { w.ctx.run(); });
  }
  first.ctx.run();
  if (metrics) metrics->stop();
  for (auto& w : workers) w->ctx.stop();
  for (auto& t : threads) t.join();
  return outcome.exit_code();
}

}  // namespace

int main(int argc, char* argv[]) { return apps::server_main(argc, argv, app, parse_options, serve); }
