#pragma once
// A receive that emptied the socket lets the next read wait for epoll.
//
// Asio's epoll reactor tries every new read at once (a "speculative" recv) unless the last one
// on that socket came back with 0 bytes. After a read woken by epoll has taken everything the
// kernel held, the next read's at-once recv fails with EAGAIN: in a relayed stream one wasted
// system call for every chunk (a third of the proxy's calls per chunk), and one for the answer
// to each request sent upstream. nginx, edge-triggered like Asio, does not retry a socket whose
// last read emptied it; reads into a DrainingBuffer on a socket with drain_hints() on do the
// same.
//
// How the read knows the socket is empty: TCP_INQ makes the kernel attach to each recvmsg() the
// number of bytes still queued, and a non-zero number while a FIN waits behind the data (a short
// read alone cannot tell: data and the FIN may arrive together, and no new readiness edge would
// follow). Only a read that left nothing at all waiting counts. A reset that arrived with the
// data is not counted: a caller that waits for readiness after such a read must look for it
// some other way (the upstream client has the watchdog poll the socket, Deadline::probe_peer).
//
// How the reactor is told: the buffer is a distinct type, so Asio builds its receive operation
// from reactive_socket_recv_op_base<DrainingBuffer>, specialised below to receive with
// recvmsg() and report an emptied socket as "done and exhausted" (Asio's own signal for its
// 0-byte read). The reactor then queues the next read for the socket's next readiness edge
// instead of trying it at once; any byte, FIN or reset that arrives later raises that edge.
// Without the hint (drain_hints() not called, or an older kernel) the operation returns no
// queue length and reads behave exactly as Asio's own. The specialisation follows the reactor
// of the Asio version it was written for and is compiled only with that version.
#include <climits>
#include <cstddef>
#include <cstdint>

#include <boost/asio/buffer.hpp>
#include <boost/asio/version.hpp>

namespace zgate::io {

// Cache lines that a read's completion will touch, prefetched as soon as the receive returns.
// A paced stream's state (its coroutine frames, request, writer, decoder) was last used a chunk
// ago and is out of the CPU's caches by the next one; loaded as the code reaches it, each line
// is a miss after the one before. Asked for together, they arrive in parallel while the reactor
// completes the read and resumes the coroutine. A hint only: a prefetch of any address is safe.
//
// Kept as 4-byte offsets from the list itself, so that the list takes 56 bytes (it lives in each
// pooled upstream connection, which it keeps within 640 bytes); an address more than 2 GiB away
// is left out.
struct Warm {
  static constexpr int kMax = 13;
  void clear() { n_ = 0; }
  void add(const void* p) {
    const auto d = reinterpret_cast<std::intptr_t>(p) - reinterpret_cast<std::intptr_t>(this);
    if (p && n_ < kMax && d >= INT32_MIN && d <= INT32_MAX) off_[n_++] = static_cast<std::int32_t>(d);
  }
  int size() const { return n_; }
  // Through an integer: the address is another object's, not one inside this list.
  const void* at(int i) const {
    return reinterpret_cast<const void*>(reinterpret_cast<std::intptr_t>(this) + off_[i]);
  }
  void prefetch() const {
    for (int i = 0; i < n_; ++i) __builtin_prefetch(at(i));
    // GCC counts a prefetch as no effect at all: a function that only prefetches is found
    // "pure", and a call to it is dropped where it is not inlined early. This keeps it.
    asm volatile("");
  }

 private:
  std::int32_t off_[kMax];
  unsigned char n_ = 0;
};

struct DrainingBuffer : boost::asio::mutable_buffer {
  DrainingBuffer() = default;
  explicit DrainingBuffer(boost::asio::mutable_buffer b, const Warm* w = nullptr)
      : boost::asio::mutable_buffer(b), warm(w) {}
  const Warm* warm = nullptr;  // prefetched when the receive returns (null: nothing)
};

// Asks the kernel for the queue length after each receive on `fd` (a connected TCP socket).
// Best effort: false when the kernel does not support it, and reads then behave as Asio's own.
bool drain_hints(int fd);

}  // namespace zgate::io

#if BOOST_ASIO_VERSION == 102600 && defined(__linux__) && !defined(BOOST_ASIO_HAS_IOCP) && \
    !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT)
#define ZGATE_DRAINING_READS 1
#include <boost/asio/socket_base.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>

namespace zgate::io::detail {
// One non-blocking receive into `data`: the bytes read (0 and `ec` set on an error or the end
// of the stream), false when nothing was there (EAGAIN). `queued` gets the kernel's count of
// bytes still waiting (non-zero while a FIN waits), or -1 when it gave none.
bool recv_with_queue(int fd, void* data, std::size_t size, int flags, bool stream, boost::system::error_code& ec,
                     std::size_t& bytes, int& queued);
}  // namespace zgate::io::detail

#include <boost/asio/awaitable.hpp>

namespace zgate::io {
// For co_await in an Asio coroutine: adds to `w` (a Warm, or anything with add(const void*);
// nothing when null) the first line of the caller's frame (its promise) and the bottom frame of
// its coroutine stack (Asio's entry point), which every resumption after a read touches. Costs one suspension, resumed at once. Uses Asio's
// internal frame interface, so it sits under the same version guard as the receive below.
template <class List>
auto warm_frames(List* w) {
  return [w](auto* frame) {
    auto* t = frame->detach_thread();
    frame->attach_thread(t);
    if (w) {
      w->add(frame);
      w->add(t->entry_point());
    }
    return t;
  };
}
}  // namespace zgate::io

namespace boost::asio::detail {

template <>
class reactive_socket_recv_op_base<zgate::io::DrainingBuffer> : public reactor_op {
 public:
  reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                               socket_ops::state_type state, const zgate::io::DrainingBuffer& buffer,
                               socket_base::message_flags flags, func_type complete_func)
      : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
        socket_(socket),
        state_(state),
        buffer_(buffer),
        flags_(flags) {}

  static status do_perform(reactor_op* base) {
    auto* o = static_cast<reactive_socket_recv_op_base*>(base);
    const bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
    int queued = -1;
    if (!zgate::io::detail::recv_with_queue(o->socket_, o->buffer_.data(), o->buffer_.size(), o->flags_, stream,
                                            o->ec_, o->bytes_transferred_, queued)) {
      return not_done;  // nothing there: wait for readiness
    }
    if (o->buffer_.warm) o->buffer_.warm->prefetch();
    // Asio's own rule (a stream read of 0 bytes: the end, or an error), and an emptied socket.
    return stream && (o->bytes_transferred_ == 0 || queued == 0) ? done_and_exhausted : done;
  }

 private:
  socket_type socket_;
  socket_ops::state_type state_;
  zgate::io::DrainingBuffer buffer_;
  socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
#endif
