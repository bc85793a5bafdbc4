// punch-echo: a raw UDP echo server, the machine's ceiling for a one-core request/response
// server. One thread, one socket, datagrams received and sent back in batches with
// recvmmsg/sendmmsg: no parsing, no state, nothing a real server could do with less.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <unistd.h>

namespace {

constexpr int batch = 64;
constexpr std::size_t datagram_size = 2048;

volatile std::sig_atomic_t stop = 0;
void on_signal(int) { stop = 1; }

int usage(const char* why) {
  std::fprintf(stderr,
               "%s%sUsage: punch-echo [--listen ADDR:PORT]\n\n"
               "Echoes every UDP datagram back to its sender, %d at a time (recvmmsg/sendmmsg).\n"
               "IPv4 only. Stops on SIGINT or SIGTERM.\n",
               why, *why ? "\n" : "", batch);
  return *why ? 2 : 0;
}

}  // namespace

int main(int argc, char* argv[]) {
  std::string listen = "127.0.0.1:3479";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") return usage("");
    if (a == "--listen" && i + 1 < argc) listen = argv[++i];
    else return usage(("punch-echo: unknown argument " + a).c_str());
  }
  const auto colon = listen.rfind(':');
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (colon == std::string::npos || inet_pton(AF_INET, listen.substr(0, colon).c_str(), &addr.sin_addr) != 1)
    return usage("punch-echo: --listen wants IPV4:PORT");
  addr.sin_port = htons(static_cast<std::uint16_t>(std::atoi(listen.c_str() + colon + 1)));

  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const int buffer = 4 << 20;  // the kernel caps it at rmem_max/wmem_max
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &buffer, sizeof buffer);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &buffer, sizeof buffer);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "punch-echo: cannot listen on %s: %s\n", listen.c_str(), std::strerror(errno));
    return 1;
  }
  struct sigaction sa{};
  sa.sa_handler = on_signal;  // no SA_RESTART: a signal interrupts recvmmsg
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  static std::array<std::array<char, datagram_size>, batch> data;
  std::array<sockaddr_storage, batch> from{};
  std::array<iovec, batch> iov{};
  std::array<mmsghdr, batch> msgs{};
  while (!stop) {
    for (int i = 0; i < batch; ++i) {
      iov[i] = {data[i].data(), data[i].size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = &from[i];
      msgs[i].msg_hdr.msg_namelen = sizeof from[i];
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    // Block for the first datagram, then take whatever else is already queued.
    const int n = ::recvmmsg(fd, msgs.data(), batch, MSG_WAITFORONE, nullptr);
    if (n <= 0) continue;
    for (int i = 0; i < n; ++i) iov[i].iov_len = msgs[i].msg_len;
    for (int sent = 0; sent < n;) {
      const int k = ::sendmmsg(fd, msgs.data() + sent, static_cast<unsigned>(n - sent), 0);
      if (k <= 0) break;  // a full send buffer or ICMP feedback: this batch's loss
      sent += k;
    }
  }
  ::close(fd);
  return 0;
}
