// The broker's Lookup and Connect of a peer it does not hold (docs/protocol.md, "Brokers
// sharing a registry"): the answer waits for the cluster's find() and is sent from its
// completion; a Connect's Introduce goes to the broker that holds the target, which sends it
// from its own socket (the target's NAT lets in only that broker). Also what every request
// that waits for the cluster shares: the bound, the copy, the answer sent later.
#include "broker/broker_state.hpp"

#include <sodium.h>

#include <boost/asio/post.hpp>

#include <array>

namespace punch {

using namespace detail;

bool broker::impl::waits_for_cluster(const request& r) const {
  if (!link) return false;
  auto it = link->waiting.find(r.msg.id());
  return it != link->waiting.end() && it->second == r.from;
}

std::shared_ptr<waiting_request> broker::impl::wait_for_cluster(const request& r, std::span<const std::byte>& refusal) {
  // Bounded: a store that answers slowly must not make the broker hold every request it gets.
  if (link->waiting.size() >= options.max_cluster_waits) {
    ++stats.cluster_busy;
    refusal = error(r, wire::error::rate_limited, "cluster busy");
    return nullptr;
  }
  link->waiting[r.msg.id()] = r.from;
  stats.cluster_waiting = link->waiting.size();
  auto bytes = r.msg.bytes();
  // Kept without its FINGERPRINT, checked on arrival: parsing it again would check it again,
  // a CRC-32 over the whole padded request (the broker's largest cost per cluster answer).
  // Answers to punch's methods carry a FINGERPRINT whatever the request had.
  const bool trim = r.msg.has_fingerprint() && bytes.size() >= stun::header_size + stun::fingerprint_size;
  if (trim) bytes = bytes.first(bytes.size() - stun::fingerprint_size);
  auto w = std::make_shared<waiting_request>(waiting_request{{bytes.begin(), bytes.end()}, r.from, r.source, r.budget});
  if (trim) {
    const auto length = static_cast<std::uint16_t>(bytes.size() - stun::header_size);  // RFC 8489 §5
    w->datagram[2] = static_cast<std::byte>(length >> 8);
    w->datagram[3] = static_cast<std::byte>(length & 0xFF);
  }
  return w;
}

void broker::impl::answer_waiting(const waiting_request& w,
                                  const std::function<std::span<const std::byte>(const request&)>& build) {
  error_code ec;
  const auto msg = stun::message::parse(w.datagram, ec);
  if (!msg) return;  // it parsed when it came in
  link->waiting.erase(msg->id());
  stats.cluster_waiting = link->waiting.size();
  const request r{*msg, w.from, w.source, w.budget, now()};
  // The link's buffer: the serve loop's belong to the batch being answered.
  out = link->scratch;
  const auto answer = build(r);
  if (answer.empty() || !socket.is_open()) return;
  auto& f = link->filling;
  // Bounded while a batch waits for the socket: a dropped answer is a lost datagram, which
  // the client's retransmission asks again.
  if (f.sizes.size() >= options.max_cluster_waits) return;
  f.bytes.insert(f.bytes.end(), answer.begin(), answer.end());
  f.sizes.push_back(answer.size());
  f.to.push_back(w.from);
  if (link->flush_posted || link->sending) return;
  // Posted: the other completions of the same burst are already queued, and join this batch.
  link->flush_posted = true;
  asio::post(socket.get_executor(), [this, alive = std::weak_ptr<int>(link->alive)] {
    if (alive.expired()) return;
    link->flush_posted = false;
    send_answers();
  });
}

void broker::impl::send_answers() {
  if (link->sending || link->filling.sizes.empty() || !socket.is_open()) return;
  auto batch = link->spare ? std::move(link->spare) : std::make_shared<answer_batch>();
  std::swap(*batch, link->filling);
  std::size_t at = 0;
  for (std::size_t i = 0; i < batch->sizes.size(); ++i) {
    batch->sends.push_back({asio::buffer(batch->bytes.data() + at, batch->sizes[i]), batch->to[i]});
    at += batch->sizes[i];
  }
  link->sending = true;
  // A datagram the network refuses is that client's loss, as in the serve loop.
  socket.async_send_batch(batch->sends, [this, alive = std::weak_ptr<int>(link->alive), batch](error_code, std::size_t) {
    if (alive.expired()) return;
    batch->clear();
    link->spare = batch;
    link->sending = false;
    send_answers();  // what the cluster answered meanwhile
  });
}

std::shared_ptr<waiting_request> broker::impl::find_elsewhere(const request& r, std::span<const std::byte>& now_answer) {
  // A retransmission: answered (and introduced, for a Connect) once, when the first one is.
  if (waits_for_cluster(r)) return nullptr;
  if (link->state != cluster_state::up) {
    ++stats.store_unavailable;
    now_answer = error(r, wire::error::service_unavailable, "shared registry down");
    return nullptr;
  }
  auto w = wait_for_cluster(r, now_answer);
  if (w) ++stats.cluster_lookups;
  return w;
}

std::span<const std::byte> broker::impl::not_found_elsewhere(const request& q, const error_code& ec,
                                                            const cluster_entry& e) {
  // Held by nobody, or by us according to a cluster that outlived our own entry (it expired).
  if (ec == errc::peer_not_found || (!ec && e.holder == link->store.name())) {
    ++stats.cluster_misses;
    return error(q, wire::error::not_found, "TARGET-ID not registered");
  }
  if (ec == errc::cluster_overloaded) {
    ++stats.cluster_busy;
    return error(q, wire::error::rate_limited, "cluster busy");
  }
  if (ec) {
    ++stats.store_unavailable;
    return error(q, wire::error::service_unavailable, "shared registry down");
  }
  return {};
}

std::span<const std::byte> broker::impl::cluster_lookup(const request& r, std::string_view id) {
  std::span<const std::byte> now_answer;
  auto w = find_elsewhere(r, now_answer);
  if (!w) return now_answer;
  link->store.find(id, [this, alive = std::weak_ptr<int>(link->alive), w](error_code ec, cluster_entry e) {
    if (alive.expired()) return;
    answer_waiting(*w, [&](const request& q) -> std::span<const std::byte> {
      if (ec == asio::error::operation_aborted) return {};
      if (auto failed = not_found_elsewhere(q, ec, e); !failed.empty()) return failed;
      stun::builder b(out, stun::message_class::success_response, wire::method::lookup, q.msg.id());
      add_candidates(b, e.record);
      return finish(q, b);
    });
  });
  return {};
}

std::span<const std::byte> broker::impl::cluster_connect(const request& r, const registration_record& me,
                                                         std::string_view target, std::span<const std::byte> resume) {
  std::span<const std::byte> now_answer;
  auto w = find_elsewhere(r, now_answer);
  if (!w) return now_answer;
  auto requester = std::make_shared<const registration_record>(me);
  link->store.find(target, [this, alive = std::weak_ptr<int>(link->alive), w, requester,
                            resume = std::vector<std::byte>(resume.begin(), resume.end())](error_code ec,
                                                                                          cluster_entry e) {
    if (alive.expired()) return;
    answer_waiting(*w, [&](const request& q) -> std::span<const std::byte> {
      if (ec == asio::error::operation_aborted) return {};
      if (auto failed = not_found_elsewhere(q, ec, e); !failed.empty()) return failed;
      // As a Connect answered here: the answer first, then the Introduce, which the holder sends.
      wire::token token;
      randombytes_buf(token.data(), token.size());
      stun::builder b(out, stun::message_class::success_response, wire::method::connect, q.msg.id());
      add_connect_answer(b, q, e.record, token);
      if (!fits(q, b)) return finish(q, b);
      const auto answer = b.finish_with_fingerprint();
      cluster_introduction in{.from_broker = link->store.name(), .requester = std::string(requester->id()),
                              .target = std::string(e.record.id()),
                              .token = token, .request = {}};
      stun::transaction_id id;
      if (!make_introduce(in.request, id, *requester, token, resume))
        return error(q, wire::error::server_error, "introduce does not fit");
      ++stats.remote_connects;
      ++stats.introductions_forwarded;
      link->store.forward(e.holder, std::move(in));
      remember_connect(q, answer);
      return answer;
    });
  });
  return {};
}

void broker::impl::take_introduction(const cluster_introduction& in) {
  error_code ec;
  const auto msg = stun::message::parse(in.request, ec);
  if (!msg || msg->cls() != stun::message_class::request || msg->method() != wire::method::introduce) return;
  if (introductions.contains(msg->id())) return;  // handed over twice
  // The target moved away or expired meanwhile: the requester's Connect timeout covers it.
  registration_record& peer = found_b;
  if (!reg.find(in.target, now(), peer)) return;
  if (introductions.size() >= options.max_pending_introductions) return;
  endpoint requester_address;
  if (auto a = msg->find(wire::attr::reflexive_candidate)) {
    if (auto ep = stun::decode_xor_address(*a, msg->id(), ec)) requester_address = *ep;
  }
  ++stats.introductions_taken;
  start_introduction(msg->id(), peer,
                     {.what = broker_event::kind::introduced, .id = in.requester, .target = in.target,
                      .address = requester_address, .token = in.token},
                     in.request);
}

}  // namespace punch
