// A peer's Register by hand, for the punch-broker process tests (broker_app_test.sh), which
// cannot sign from bash: the unsigned Register, then the signed one over the NONCE of the 401.
//   broker_register_client HOST PORT ID   → exit 0 when registered, 1 otherwise (one line why)
#include "signed_register.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/address.hpp>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

using namespace punch;

// One request, one answer within 2 s.
std::optional<std::vector<std::byte>> exchange(int fd, const sockaddr_in& to, const std::vector<std::byte>& request) {
  ::sendto(fd, request.data(), request.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
  std::vector<std::byte> in(2048);
  const auto n = ::recv(fd, in.data(), in.size(), 0);
  if (n <= 0) return std::nullopt;
  in.resize(static_cast<std::size_t>(n));
  return in;
}

}  // namespace

int main(int argc, char* argv[]) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: broker_register_client HOST PORT ID\n");
    return 2;
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  const timeval patience{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
  to.sin_addr.s_addr = htonl(boost::asio::ip::make_address_v4(argv[1]).to_uint());

  const identity me = broker_test::test_identity(1);
  const broker_test::register_fields fields{argv[3], {}, {}};
  stun::transaction_id tid{std::byte{1}};
  std::vector<std::byte> nonce;
  for (int attempt = 0; attempt < 2; ++attempt) {
    tid[1] = std::byte(attempt);
    auto answer = exchange(fd, to, broker_test::register_request(me, fields, nonce, tid));
    if (!answer) {
      std::fprintf(stderr, "broker_register_client: no answer within 2 s\n");
      return 1;
    }
    error_code ec;
    auto m = stun::message::parse(*answer, ec);
    if (!m) {
      std::fprintf(stderr, "broker_register_client: malformed answer: %s\n", ec.message().c_str());
      return 1;
    }
    if (m->cls() == stun::message_class::success_response) return 0;
    nonce = broker_test::nonce_of(*m);
    if (nonce.empty()) break;
  }
  std::fprintf(stderr, "broker_register_client: the broker refused the Register\n");
  return 1;
}
