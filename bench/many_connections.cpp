// punch-bench-many: one session (the "hub") holding N established connections over real UDP on
// loopback, and what that costs while they idle (issue 18: 10,000 connections, ≤ 100 MiB RSS,
// ≤ 2 % of one core on keepalives). The hub process runs only the hub session; the broker and
// the N client sessions (one socket each) run in a child process, the same binary exec'd with
// --clients, so that the hub's /proc numbers are the hub's alone. The two talk over pipes: the
// child prints its broker's port, the hub registers and says "go", the child's clients connect
// to "hub" while the hub accepts, the child says "connected", the hub idles --idle seconds and
// closes the child's stdin to end it. The hub reads VmRSS/VmHWM from /proc/self/status before
// and after opening, utime+stime from /proc/self/stat over the idle period, and counts the
// datagrams its socket sends (a counting transport around the udp plugin's).
#include "cli.hpp"

#include "punch/broker.hpp"
#include "punch/connection.hpp"
#include "punch/plugins/udp.hpp"
#include "punch/registry.hpp"
#include "punch/session.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/program_options.hpp>

#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <istream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace asio = boost::asio;
namespace po = boost::program_options;
using namespace punch;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

struct bench_options {
  int connections = 10000;
  int idle = 60;          // seconds
  int window = 256;       // client connects in flight at once
  // The connections' keepalive and idle timeout on both sides (session_options'; 0: its default).
  int keepalive_s = 0, idle_timeout_s = 0;
  // session_options::connection_idle_keepalive on both sides (0: its default; 0 s turns the
  // idle pace off: use --keepalive's), and how long they idle before the measurement starts
  // (-1: connection_idle_after and a second, so that the measurement sees the idle pace only).
  int idle_keepalive_s = -1;
  int settle_s = -1;
  bool smoke = false;
  bool clients = false;   // the child's role
};

// ---- /proc ----

// A "VmRSS:" style line of /proc/self/status, in KiB.
long status_kib(const std::string& key) {
  std::ifstream in("/proc/self/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key + ":", 0) == 0) return std::stol(line.substr(key.size() + 1));
  return -1;
}

// utime (field 14) or stime (field 15) of this process, in seconds (/proc/self/stat).
double cpu_seconds(int field_number) {
  std::ifstream in("/proc/self/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(all.substr(all.rfind(')') + 2));  // the name may hold spaces
  std::string field;
  long long ticks = 0;
  for (int i = 3; i <= field_number && rest >> field; ++i)
    if (i == field_number) ticks = std::stoll(field);
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// The soft RLIMIT_NOFILE raised to the hard one; returns the soft limit now in force.
rlim_t raise_file_limit() {
  rlimit l{};
  getrlimit(RLIMIT_NOFILE, &l);
  l.rlim_cur = l.rlim_max;
  setrlimit(RLIMIT_NOFILE, &l);
  getrlimit(RLIMIT_NOFILE, &l);
  return l.rlim_cur;
}

// ---- a transport that counts what its sockets send ----

struct counting_socket final : socket_impl {
  counting_socket(datagram_socket inner, std::uint64_t& sent) : inner_(std::move(inner)), sent_(sent) {}
  asio::any_io_executor get_executor() override { return inner_.get_executor(); }
  endpoint local_endpoint() const override { return inner_.local_endpoint(); }
  bool is_open() const override { return inner_.is_open(); }
  void close() override { inner_.close(); }
  void async_send_to(asio::const_buffer data, const endpoint& to, datagram_handler handler) override {
    ++sent_;
    inner_.impl()->async_send_to(data, to, std::move(handler));
  }
  void async_receive_from(asio::mutable_buffer data, endpoint& from, datagram_handler handler) override {
    inner_.impl()->async_receive_from(data, from, std::move(handler));
  }
  void async_receive_batch(std::span<received_datagram> slots, datagram_handler handler) override {
    inner_.impl()->async_receive_batch(slots, std::move(handler));
  }
  void async_send_batch(std::span<const outgoing_datagram> datagrams, datagram_handler handler) override {
    sent_ += datagrams.size();
    inner_.impl()->async_send_batch(datagrams, std::move(handler));
  }
  datagram_socket inner_;
  std::uint64_t& sent_;
};

struct counting_transport final : transport {
  explicit counting_transport(std::unique_ptr<transport> inner) : inner_(std::move(inner)) {}
  std::string name() const override { return inner_->name(); }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  datagram_socket open(const endpoint& local, error_code& ec) override {
    auto s = inner_->open(local, ec);
    if (ec) return s;
    return datagram_socket(std::make_unique<counting_socket>(std::move(s), sent));
  }
  std::vector<asio::ip::address> interface_addresses() override { return inner_->interface_addresses(); }
  std::unique_ptr<transport> inner_;
  std::uint64_t sent = 0;
};

std::unique_ptr<transport> udp_transport(asio::io_context& ctx) {
  error_code ec;
  auto t = udp::make_transport(ctx.get_executor(), {}, ec);
  if (ec) throw std::system_error(ec, "the udp transport");
  return t;
}

const auto loopback = asio::ip::make_address("127.0.0.1");

asio::awaitable<std::string> read_line(asio::posix::stream_descriptor& in, asio::streambuf& buf) {
  co_await asio::async_read_until(in, buf, '\n', asio::use_awaitable);
  std::istream is(&buf);
  std::string line;
  std::getline(is, line);
  co_return line;
}

// The options both sides' sessions share: the connections' keepalive and idle timeout.
session_options base_options(const bench_options& o) {
  session_options so;
  so.local = endpoint{loopback, 0};
  if (o.keepalive_s > 0) so.connection_keepalive = std::chrono::seconds(o.keepalive_s);
  if (o.idle_timeout_s > 0) so.connection_idle_timeout = std::chrono::seconds(o.idle_timeout_s);
  if (o.idle_keepalive_s >= 0) so.connection_idle_keepalive = std::chrono::seconds(o.idle_keepalive_s);
  return so;
}

// ---- the child: a broker and N clients ----

int run_clients(const bench_options& o) {
  raise_file_limit();
  asio::io_context ctx;
  auto udp = udp_transport(ctx);
  auto broker_socket = udp->open(endpoint{loopback, 0});
  auto reg = make_memory_registry(static_cast<std::size_t>(o.connections) + 16);
  broker_options bo;
  bo.max_pending_introductions = static_cast<std::size_t>(o.window) * 4 + 64;
  // Every client is on 127.0.0.1: the per-address rate limit would drop most of them.
  bo.rate_limit = 0;
  broker b(broker_socket, *reg, bo);
  asio::co_spawn(ctx, b.run(), asio::detached);

  asio::posix::stream_descriptor in(ctx, ::dup(0)), out(ctx, ::dup(1));
  asio::streambuf buf;
  std::vector<std::unique_ptr<session>> sessions;
  std::vector<connection> held;
  int connected = 0, failed = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        const std::string hello = "broker " + std::to_string(b.local_endpoint().port()) + "\n";
        co_await asio::async_write(out, asio::buffer(hello), asio::use_awaitable);
        if (co_await read_line(in, buf) != "go") co_return;
        auto so = base_options(o);
        so.broker = b.local_endpoint();
        so.punch_timeout = 20s;
        so.request_timeout = 20s;
        int next = 0, running = 0;
        auto ex = co_await asio::this_coro::executor;
        asio::steady_timer wake(ex);
        // `window` clients register and connect at once; each finished one starts the next.
        auto one = [&](int i) -> asio::awaitable<void> {
          auto s = so;
          s.id = "client-" + std::to_string(i);
          sessions.push_back(std::make_unique<session>(*udp, s));
          auto& me = *sessions.back();
          try {
            co_await me.register_self();
            held.push_back(co_await me.connect("hub"));
            ++connected;
          } catch (const std::exception& e) {
            if (failed++ < 3) std::cerr << "punch-bench-many: client " << i << ": " << e.what() << '\n';
          }
          --running;
          wake.cancel();
        };
        while (next < o.connections || running > 0) {
          while (next < o.connections && running < o.window) {
            ++running;
            asio::co_spawn(ex, one(next++), asio::detached);
          }
          wake.expires_after(1s);
          co_await wake.async_wait(asio::as_tuple(asio::use_awaitable));
        }
        const std::string done = "connected " + std::to_string(connected) + " failed " + std::to_string(failed) + "\n";
        co_await asio::async_write(out, asio::buffer(done), asio::use_awaitable);
        // Held until the hub closes our stdin.
        error_code ec;
        co_await asio::async_read_until(in, buf, '\n', asio::redirect_error(asio::use_awaitable, ec));
      },
      [&](std::exception_ptr) {
        for (auto& s : sessions) s->close();
        broker_socket.close();
        ctx.stop();
      });
  ctx.run();
  return failed == 0 ? 0 : 1;
}

// ---- the hub ----

struct child_process {
  pid_t pid = -1;
  int to = -1, from = -1;  // its stdin, its stdout
};

child_process start_clients(const bench_options& o) {
  int down[2], up[2];
  if (::pipe(down) != 0 || ::pipe(up) != 0) throw std::system_error(errno, std::system_category(), "pipe");
  const auto n = std::to_string(o.connections), w = std::to_string(o.window);
  const auto k = std::to_string(o.keepalive_s), t = std::to_string(o.idle_timeout_s),
             ik = std::to_string(o.idle_keepalive_s);
  const pid_t pid = ::fork();
  if (pid < 0) throw std::system_error(errno, std::system_category(), "fork");
  if (pid == 0) {
    ::dup2(down[0], 0);
    ::dup2(up[1], 1);
    ::close(down[0]), ::close(down[1]), ::close(up[0]), ::close(up[1]);
    const char* argv[] = {"punch-bench-many", "--clients", "--connections", n.c_str(), "--window", w.c_str(),
                        "--keepalive", k.c_str(), "--idle-timeout", t.c_str(), "--idle-keepalive", ik.c_str(), nullptr};
    ::execv("/proc/self/exe", const_cast<char* const*>(argv));
    std::perror("punch-bench-many: exec");
    ::_exit(127);
  }
  ::close(down[0]);
  ::close(up[1]);
  return {pid, down[1], up[0]};
}

struct sample {
  long rss_kib, hwm_kib;
  double cpu_s, system_s;  // user + system, and system alone
  clock_type::time_point at;
  std::size_t heap = 0;  // malloc's bytes in use: what the connections hold, without what it keeps free
};

sample now_sample() {
  return {status_kib("VmRSS"), status_kib("VmHWM"), cpu_seconds(14) + cpu_seconds(15), cpu_seconds(15),
          clock_type::now(), mallinfo2().uordblks};
}

int run_hub(const bench_options& o) {
  const auto files = raise_file_limit();
  asio::io_context ctx;
  counting_transport udp(udp_transport(ctx));
  auto child = start_clients(o);
  asio::posix::stream_descriptor to(ctx, child.to), from(ctx, child.from);
  asio::streambuf buf;
  std::optional<session> hub;
  std::vector<connection> held;
  sample before{}, opened{}, settled{}, idled{};
  std::uint64_t sent_before = 0, sent_after = 0;
  int exit_code = 1, still_open = 0, connected = 0;
  double open_s = 0;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        const auto hello = co_await read_line(from, buf);
        auto so = base_options(o);
        so.id = "hub";
        so.broker = endpoint{loopback, static_cast<unsigned short>(std::stoi(hello.substr(7)))};
        so.accept_backlog = static_cast<std::size_t>(o.window) * 2;
        hub.emplace(udp, so);
        co_await hub->register_self();
        held.reserve(static_cast<std::size_t>(o.connections));
        before = now_sample();
        co_await asio::async_write(to, asio::buffer(std::string("go\n")), asio::use_awaitable);
        // Accepting runs beside the wait for the child's report: a client that failed (its
        // report says how many) must not leave the hub waiting for it.
        auto ex = co_await asio::this_coro::executor;
        asio::co_spawn(ex, [&]() -> asio::awaitable<void> {
          while (held.size() < static_cast<std::size_t>(o.connections)) held.push_back(co_await hub->accept());
        }, asio::detached);
        const auto report = co_await read_line(from, buf);
        connected = std::stoi(report.substr(10));
        // The last accepts may complete a moment after their clients' connects.
        for (int k = 0; k < 500 && held.size() < static_cast<std::size_t>(connected); ++k) {
          asio::steady_timer poll(ex, 10ms);
          co_await poll.async_wait(asio::use_awaitable);
        }
        opened = now_sample();
        open_s = std::chrono::duration<double>(opened.at - before.at).count();
        std::printf("child: %s\n", report.c_str());
        // Idle long enough to keep the idle pace before measuring.
        const auto settle = o.settle_s >= 0 ? std::chrono::seconds(o.settle_s)
                                            : std::chrono::duration_cast<std::chrono::seconds>(base_options(o).connection_idle_after) + 1s;
        asio::steady_timer settling(co_await asio::this_coro::executor, settle);
        co_await settling.async_wait(asio::use_awaitable);
        settled = now_sample();
        sent_before = udp.sent;
        asio::steady_timer idle(co_await asio::this_coro::executor, std::chrono::seconds(o.idle));
        co_await idle.async_wait(asio::use_awaitable);
        idled = now_sample();
        sent_after = udp.sent;
        for (auto& c : held) still_open += c.is_open() ? 1 : 0;
        exit_code = connected == o.connections && still_open == o.connections ? 0 : 1;
      },
      [&](std::exception_ptr e) {
        if (e) try {
            std::rethrow_exception(e);
          } catch (const std::exception& x) {
            std::cerr << "punch-bench-many: " << x.what() << '\n';
          }
        to.close();  // the child's stdin: it ends
        from.close();
        if (hub) hub->close();
        ctx.stop();
      });
  ctx.run();
  int status = 0;
  ::waitpid(child.pid, &status, 0);
  if (exit_code != 0 && opened.rss_kib == 0) return 1;

  const double n = static_cast<double>(held.size());
  const double idle_s = std::chrono::duration<double>(idled.at - settled.at).count();
  const double cpu_pct = 100.0 * (idled.cpu_s - settled.cpu_s) / idle_s;
  const double sent_rate = static_cast<double>(sent_after - sent_before) / idle_s;
  std::printf("hub: %zu of %d connections accepted over real UDP on loopback in %.1f s (clients and broker in a child process; RLIMIT_NOFILE %llu)\n",
              held.size(), o.connections, open_s, static_cast<unsigned long long>(files));
  std::printf("RSS before opening   %8.1f MiB\n", before.rss_kib / 1024.0);
  std::printf("RSS after opening    %8.1f MiB  (%.0f bytes per connection)\n", opened.rss_kib / 1024.0,
              1024.0 * static_cast<double>(opened.rss_kib - before.rss_kib) / n);
  std::printf("heap in use           %8.1f MiB  (%.0f bytes per connection, malloc's own count)\n",
              static_cast<double>(opened.heap) / 1048576.0, static_cast<double>(opened.heap - before.heap) / n);
  std::printf("RSS after idling     %8.1f MiB  peak (VmHWM) %.1f MiB  (target <= 100 MiB in total)\n",
              idled.rss_kib / 1024.0, idled.hwm_kib / 1024.0);
  const auto so = base_options(o);
  std::printf("connection keepalive %lld ms, idle timeout %lld ms, after %lld ms without data %lld ms (both sides)\n",
              static_cast<long long>(so.connection_keepalive.count()),
              static_cast<long long>(so.connection_idle_timeout.count()),
              static_cast<long long>(so.connection_idle_after.count()),
              static_cast<long long>(so.connection_idle_keepalive.count()));
  std::printf("idle %.1f s: hub CPU %.2f s = %.2f %% of one core  (target <= 2 %%)\n", idle_s,
              idled.cpu_s - settled.cpu_s, cpu_pct);
  std::printf("  of which in the kernel (stime) %.2f s\n", idled.system_s - settled.system_s);
  std::printf("datagrams sent while idle: %.0f per second (%.3f per connection per second)\n", sent_rate,
              sent_rate / n);
  std::printf("connections still open after idling: %d of %zu\n", still_open, held.size());
  return exit_code;
}

}  // namespace

int main(int argc, char* argv[]) {
  bench_options o;
  po::options_description d("Usage: punch-bench-many [options]\n\nOptions");
  d.add_options()
      ("connections", po::value(&o.connections)->default_value(o.connections), "connections the hub session accepts")
      ("idle", po::value(&o.idle)->default_value(o.idle), "seconds they idle while the hub's CPU is measured")
      ("window", po::value(&o.window)->default_value(o.window), "clients connecting at once")
      ("keepalive", po::value(&o.keepalive_s)->default_value(0),
       "session_options::connection_keepalive on both sides, in seconds (0: the default, 5 s)")
      ("idle-timeout", po::value(&o.idle_timeout_s)->default_value(0),
       "session_options::connection_idle_timeout on both sides, in seconds (0: the default, 30 s)")
      ("idle-keepalive", po::value(&o.idle_keepalive_s)->default_value(-1),
       "session_options::connection_idle_keepalive on both sides, in seconds (-1: the default, 25 s; 0: none)")
      ("settle", po::value(&o.settle_s)->default_value(-1),
       "seconds the connections idle before the measurement (-1: connection_idle_after + 1 s)")
      ("smoke", po::bool_switch(&o.smoke), "CI: 200 connections, 2 s idle, no settling")
      ("clients", po::bool_switch(&o.clients), "(internal) the child's role: a broker and the clients")
      ("help,h", "print this help and exit");
  if (auto stop = bench::parse_command_line(argc, argv, d, "punch-bench-many",
                                            "Exit codes: 0 every connection established and still open after idling; 1 otherwise; 2 bad options\n"))
    return *stop;
  if (o.smoke) o.connections = 200, o.idle = 2, o.settle_s = 0;
  if (o.connections < 1 || o.idle < 0 || o.window < 1) {
    std::cerr << "punch-bench-many: --connections, --window >= 1; --idle >= 0\n";
    return 2;
  }
  try {
    return o.clients ? run_clients(o) : run_hub(o);
  } catch (const std::exception& e) {
    std::cerr << "punch-bench-many: " << e.what() << '\n';
    return 1;
  }
}
