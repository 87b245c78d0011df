// A control case for tests/layers/check.cmake: the pure core may not include Boost.
#include <boost/asio/io_context.hpp>
