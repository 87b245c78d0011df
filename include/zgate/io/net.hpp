#pragma once
// The short names the HTTP client and server code uses for Boost.Asio and Boost.Beast. A file
// takes them with `using namespace zgate::io::names;` inside its own namespace.
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace zgate::io::names {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;

// Completion token for co_await without exceptions: the result comes back as a tuple (ec, ...).
inline constexpr auto nothrow = net::as_tuple(net::use_awaitable);

}  // namespace zgate::io::names
