// Writes the seed corpora of fuzz_broker, fuzz_session and fuzz_relay (fuzz/corpus/<name>):
// valid conversations in the record format of those targets, built with stun::builder.
//   punch_fuzz_seeds fuzz/corpus
// A registration is two records, as a peer sends them: the unsigned Register (answered 401
// with a NONCE) and the signed one, whose NONCE fuzz_broker replaces with the one its broker
// sent and whose SIGNATURE it recomputes (record flag 32, "sign"). A refresh is one record
// whose REFRESH-CREDENTIAL the same flag replaces with the one the broker sent that source.
#include "punch/identity.hpp"
#include "punch/wire/protocol.hpp"
#include "punch/wire/stun.hpp"

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using namespace punch;
using bytes = std::vector<std::byte>;
using stun::endpoint;

endpoint ep(const char* a, unsigned short port) { return {asio::ip::make_address(a), port}; }

stun::transaction_id id_of(int n) {
  stun::transaction_id id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = std::byte(n * 31 + static_cast<int>(i));
  return id;
}

wire::token token_of(std::uint8_t seed) {
  wire::token t;
  for (std::size_t i = 0; i < t.size(); ++i) t[i] = std::byte(seed + i);
  return t;
}

// A message; `pad_to` pads it with PADDING (as peers pad their requests) to at least that size.
bytes message(stun::message_class cls, std::uint16_t method, int id,
              const std::function<void(stun::builder&)>& add = {}, std::size_t pad_to = 0,
              bool fingerprint = true) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, cls, method, id_of(id));
  if (add) add(b);
  const std::size_t tail = fingerprint ? stun::fingerprint_size : 0;
  if (b.size() + tail < pad_to) b.add(wire::attr::padding, bytes((pad_to - b.size() - tail - 4 + 3) & ~std::size_t{3}));
  const auto out = fingerprint ? b.finish_with_fingerprint() : b.finish();
  return {out.begin(), out.end()};
}

bytes request(std::uint16_t method, int id, const std::function<void(stun::builder&)>& add = {},
              std::size_t pad_to = 0) {
  return message(stun::message_class::request, method, id, add, pad_to);
}

// One input: a leading mode byte, then [flags][length][datagram] records.
struct input {
  explicit input(std::uint8_t mode) : data{std::byte{mode}} {}
  input& add(std::uint8_t flags, const bytes& d) {
    data.push_back(std::byte{flags});
    data.push_back(std::byte(d.size() >> 8));
    data.push_back(std::byte(d.size() & 0xFF));
    data.insert(data.end(), d.begin(), d.end());
    return *this;
  }
  bytes data;
};

void write(const std::filesystem::path& dir, const std::string& name, const input& in) {
  std::filesystem::create_directories(dir);
  std::ofstream out(dir / (name + ".bin"), std::ios::binary);
  out.write(reinterpret_cast<const char*>(in.data.data()), static_cast<std::streamsize>(in.data.size()));
}

// Record flags shared by both targets: fix the length field and FINGERPRINT.
constexpr std::uint8_t fix = 4 | 8;
// fuzz_broker: sign with the broker's last NONCE for the source.
constexpr std::uint8_t sign = 32;

// fuzz_broker's first key (its seed is all zero bytes).
const identity& peer_key() {
  static const identity key = identity::from_seed(std::array<std::byte, 32>{});
  return key;
}

// What every Register of the fuzz peer starts with, signed, unsigned or a refresh.
void add_register_fields(stun::builder& b, const char* id, std::initializer_list<endpoint> hosts) {
  b.add_string(wire::attr::peer_id, id);
  b.add_u32(wire::attr::lifetime, 30);
  for (const auto& h : hosts) b.add_xor_address(wire::attr::host_candidate, h);
  b.add(wire::attr::public_key, peer_key().key());
}

// A Register: unsigned (padded to the challenge's size) or signed over `nonce` (a placeholder
// that fuzz_broker replaces).
// `trailing`: an attribute after the SIGNATURE, which it does not cover (refused, 401).
bytes register_message(const char* id, int tx, std::initializer_list<endpoint> hosts, bool signed_,
                       bool trailing = false) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::register_peer, id_of(tx));
  add_register_fields(b, id, hosts);
  if (signed_) {
    b.add(wire::attr::nonce, bytes(wire::nonce_size));
    b.add_covering(wire::attr::signature, signature_size, [](std::span<const std::byte> covered, std::span<std::byte> out) {
      const auto sig = peer_key().sign(covered);
      std::copy(sig.begin(), sig.end(), out.begin());
    });
    if (trailing) b.add(wire::attr::padding, bytes(4));
  } else {
    wire::pad_request(b, wire::answer_bound::reg);
  }
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// The keepalive's refresh of what register_message registered: no NONCE, no SIGNATURE, a
// placeholder REFRESH-CREDENTIAL that fuzz_broker replaces (flag 32); padded like the
// unsigned Register. `nat`: a NAT-MAPPING that the registration did not have (taken).
bytes refresh_message(const char* id, int tx, std::initializer_list<endpoint> hosts, bool nat = false) {
  std::array<std::byte, stun::max_message_size> buf;
  stun::builder b(buf, stun::message_class::request, wire::method::register_peer, id_of(tx));
  add_register_fields(b, id, hosts);
  if (nat) b.add_u32(wire::attr::nat_mapping, 1);
  b.add(wire::attr::refresh_credential, bytes(wire::refresh_credential_size));
  wire::pad_request(b, wire::answer_bound::reg);
  const auto out = b.finish_with_fingerprint();
  return {out.begin(), out.end()};
}

// Registers `id` from the source in `flags`: the two records of the NONCE exchange.
input& register_peer(input& in, std::uint8_t flags, const char* id, int tx, std::initializer_list<endpoint> hosts = {}) {
  return in.add(flags, register_message(id, tx, hosts, false)).add(flags | sign, register_message(id, tx + 100, hosts, true));
}

void broker_seeds(const std::filesystem::path& dir) {
  write(dir, "binding", input(0).add(fix, request(wire::method::binding, 1)));
  bytes classic = message(stun::message_class::request, wire::method::binding, 2, {}, 0, false);
  classic[4] = classic[5] = classic[6] = classic[7] = std::byte{0x5A};  // RFC 3489: no cookie
  write(dir, "classic_binding", input(0).add(0, classic));
  {
    input in(0);
    register_peer(in, fix | 0, "alice", 3, {ep("10.0.0.2", 4000)});
    register_peer(in, fix | 1, "bob", 4);
    in.add(fix | 2, request(wire::method::lookup, 5,
                            [](stun::builder& b) { b.add_string(wire::attr::target_id, "bob"); },
                            wire::answer_bound::lookup));
    // The keepalive's refresh (accepted); then one with other candidates (refused:
    // registration changed), one with a NAT-MAPPING (taken, as after discovery), and one
    // with the placeholder credential left as it is (refused).
    in.add(fix | 0 | sign, refresh_message("alice", 20, {ep("10.0.0.2", 4000)}))
        .add(fix | 0 | sign, refresh_message("alice", 21, {}))
        .add(fix | 0 | sign, refresh_message("alice", 22, {ep("10.0.0.2", 4000)}, true))
        .add(fix | 0, refresh_message("alice", 23, {ep("10.0.0.2", 4000)}));
    // Another key for a live id (403), then the same key from another source (a move).
    register_peer(in, fix | 2 | 64, "alice", 14);
    register_peer(in, fix | 3, "alice", 15);
    // Source 0's credential, now that alice moved to source 3, is refused; source 3's own
    // refreshes the moved registration.
    in.add(fix | 0 | sign, refresh_message("alice", 24, {ep("10.0.0.2", 4000)}))
        .add(fix | 3 | sign, refresh_message("alice", 25, {}));
    write(dir, "register_lookup", in);
  }
  const auto connect = [](int tx) {
    return request(wire::method::connect, tx, [](stun::builder& b) {
      b.add_string(wire::attr::peer_id, "alice");
      b.add_string(wire::attr::target_id, "bob");
    }, wire::answer_bound::connect);
  };
  const bytes introduce_ok = message(stun::message_class::success_response, wire::method::introduce, 0);
  for (std::uint8_t mode : {0, 1}) {
    input in(mode);
    register_peer(in, fix | 0, "alice", 6, {ep("10.0.0.2", 4000), ep("2001:db8::2", 4000)});
    register_peer(in, fix | 1, "bob", 7);
    in.add(fix | 0, connect(8))
        .add(fix | 16 | 1, introduce_ok)
        .add(fix | 0, connect(8));  // a retransmission: answered from the cache
    write(dir, mode ? "connect_introduce_v6" : "connect_introduce", in);
  }
  write(dir, "errors",
        input(0)
            .add(fix | 3, request(wire::method::binding, 9, [](stun::builder& b) { b.add_u32(0x7777, 1); }))
            .add(fix | 3, request(wire::method::introduce, 10))
            .add(fix | 3, request(wire::method::register_peer, 11,
                                  [](stun::builder& b) { b.add_string(wire::attr::peer_id, "no spaces"); }))
            // A NONCE that is not the broker's (438), a signature that does not verify (401).
            .add(fix | 3, register_message("carol", 16, {}, true))
            .add(fix | 3, register_message("carol", 17, {}, false))
            .add(fix | 3 | sign, register_message("carol", 18, {}, true, true))
            .add(fix | 3, request(wire::method::lookup, 12,
                                  [](stun::builder& b) { b.add_string(wire::attr::target_id, "bob"); }))
            .add(fix | 3, message(stun::message_class::indication, wire::method::binding, 13)));
}

// Placeholders of the right sizes: fuzz_session's fixups (flag 32) fill in bob's key, the
// introduction's PUNCH-ID, bob's EPHEMERAL-KEY and HANDSHAKE-SIGNATURE, MESSAGE-INTEGRITY-SHA256.
void add_check_auth(stun::builder& b) {
  b.add(wire::attr::ephemeral_key, bytes(32));
  b.add(wire::attr::handshake_signature, bytes(64));
  b.add(wire::attr::message_integrity_sha256, bytes(32));
}

void session_seeds(const std::filesystem::path& dir) {
  const endpoint bob_host = ep("192.168.1.5", 5000), bob_reflexive = ep("203.0.113.5", 6000);
  const auto check_response = [](int tx) {
    return message(stun::message_class::success_response, wire::method::binding, tx, [](stun::builder& b) {
      b.add_xor_address(stun::attr::xor_mapped_address, ep("198.51.100.20", 4000));
      b.add(wire::attr::punch_id, bytes(8));
      add_check_auth(b);
    });
  };
  std::uint64_t counter = 0;
  const auto frame = [&](wire::frame_kind kind, std::size_t payload) {
    bytes f(wire::frame_overhead + payload, std::byte{0x61});
    wire::write_frame_header(std::span<std::byte, wire::frame_header_size>(f.data(), wire::frame_header_size), kind, 0,
                             counter++);
    return f;
  };
  // Token flags: 32 = T1 (connect's), 32|64 = T2 (the fuzzer's Introduce).
  constexpr std::uint8_t t1 = 32, t2 = 32 | 64, last_id = 16;
  write(dir, "connect_punch_data_close",
        input(1)
            .add(fix | t1 | last_id | 2, check_response(1))
            .add(fix | t1 | 2 | 128, frame(wire::frame_kind::data, 12))
            .add(fix | t1 | 1, frame(wire::frame_kind::keepalive, 0))
            .add(fix | t1 | 2, frame(wire::frame_kind::close, 0)));
  const bytes introduce = request(wire::method::introduce, 2, [&](stun::builder& b) {
    b.add_string(wire::attr::peer_id, "bob");
    b.add(wire::attr::public_key, bytes(32));
    b.add_xor_address(wire::attr::reflexive_candidate, bob_reflexive);
    b.add_xor_address(wire::attr::host_candidate, bob_host);
    b.add(wire::attr::token, token_of(0));
  });
  const bytes check = request(wire::method::binding, 3, [](stun::builder& b) {
    b.add(wire::attr::punch_id, bytes(8));
    b.add_string(wire::attr::peer_id, "bob");
    b.add_u64(wire::attr::ice_controlling, 42);
    b.add(wire::attr::use_candidate, {});
    add_check_auth(b);
  });
  const bytes check_again = request(wire::method::binding, 5, [](stun::builder& b) {
    b.add(wire::attr::punch_id, bytes(8));
    b.add_string(wire::attr::peer_id, "bob");
    b.add_u64(wire::attr::ice_controlling, 42);
    add_check_auth(b);
  });
  write(dir, "introduce_check_accept",
        input(2)
            .add(fix | t2 | 0, introduce)
            .add(fix | t2 | 2, check)
            .add(fix | t2 | last_id | 2, check_response(4))
            .add(fix | t2 | 2, frame(wire::frame_kind::data, 40))
            .add(fix | t2 | 3, check_again)  // from a new address: peer-reflexive
            .add(fix | t2 | 3, check_again)  // the same again: a replay
            .add(fix | t2 | 3, frame(wire::frame_kind::close_ack, 0)));
  write(dir, "strays",
        input(3)
            .add(fix | 3, request(wire::method::binding, 5))
            .add(fix | last_id | 0, message(stun::message_class::error_response, wire::method::connect, 6,
                                            [](stun::builder& b) { b.add_error_code(404, "TARGET-ID not registered"); }))
            .add(fix | 1, message(stun::message_class::indication, wire::method::binding, 7))
            .add(0, frame(wire::frame_kind::data, 3)));
}

// fuzz_relay: two sides allocate (401 with a NONCE, then ALLOCATE with it), then frames go
// both ways, and a stranger's frame is dropped. Flags: 16 NONCE fixup, 32 RELAY-ID fixup.
void relay_seeds(const std::filesystem::path& dir) {
  const auto allocate = [](int tx, bool with_nonce) {
    return request(wire::method::allocate, tx, [&](stun::builder& b) {
      b.add(wire::attr::relay_id, bytes(16));
      if (with_nonce) b.add(wire::attr::nonce, bytes(wire::nonce_size));
    }, wire::answer_bound::allocate);
  };
  bytes frame(wire::frame_overhead + 8, std::byte{0x61});
  wire::write_frame_header(std::span<std::byte, wire::frame_header_size>(frame.data(), wire::frame_header_size),
                           wire::frame_kind::data, 7, 0);
  constexpr std::uint8_t nonce = 16, id = 32;
  write(dir, "allocate_pair_forward",
        input(0)
            .add(fix | id | 0, allocate(1, false))
            .add(fix | id | nonce | 0, allocate(2, true))
            .add(fix | id | 1, allocate(3, false))
            .add(fix | id | nonce | 1, allocate(4, true))
            .add(0, frame)
            .add(1, frame)
            .add(2, frame)
            .add(fix | id | nonce | 0, allocate(5, true))
            .add(128 | 0, frame));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: punch_fuzz_seeds <corpus directory>\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  broker_seeds(root / "broker");
  session_seeds(root / "session");
  relay_seeds(root / "relay");
  return 0;
}
