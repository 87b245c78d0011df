#pragma once
// Two connected loopback TCP sockets on one io_context, for tests of the I/O helpers.
#include <boost/asio.hpp>

namespace zgate::testing {

struct SocketPair {
  explicit SocketPair(boost::asio::io_context& ioc) : a(ioc), b(ioc) {
    using tcp = boost::asio::ip::tcp;
    tcp::acceptor acc(ioc, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    a.connect(acc.local_endpoint());
    acc.accept(b);
  }
  boost::asio::ip::tcp::socket a, b;
};

}  // namespace zgate::testing
