// A control case for tests/layers/check.cmake: json may not include the server.
#include "zgate/server/gateway.hpp"
