// The receive behind io::DrainingBuffer (see drain.hpp).
#include "zgate/io/drain.hpp"

#include <cerrno>
#include <cstring>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <boost/asio/error.hpp>

namespace zgate::io {

bool drain_hints(int fd) {
#if defined(ZGATE_DRAINING_READS) && defined(TCP_INQ)
  const int on = 1;
  return ::setsockopt(fd, IPPROTO_TCP, TCP_INQ, &on, sizeof on) == 0;
#else
  (void)fd;
  return false;
#endif
}

#if defined(ZGATE_DRAINING_READS)
namespace detail {

bool recv_with_queue(int fd, void* data, std::size_t size, int flags, bool stream, boost::system::error_code& ec,
                     std::size_t& bytes, int& queued) {
  queued = -1;
  for (;;) {
    iovec iov{data, size};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd, &msg, flags);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
      ec = boost::system::error_code(errno, boost::asio::error::get_system_category());
      bytes = 0;
      return true;
    }
    if (n == 0 && stream && size > 0) {
      ec = boost::asio::error::eof;
      bytes = 0;
      return true;
    }
    ec = {};
    bytes = static_cast<std::size_t>(n);
#if defined(TCP_CM_INQ)
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level == IPPROTO_TCP && c->cmsg_type == TCP_CM_INQ && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
        std::memcpy(&queued, CMSG_DATA(c), sizeof(int));
      }
    }
#endif
    return true;
  }
}

}  // namespace detail
#endif

}  // namespace zgate::io
