// Compiled by CTest, not linked. With ZGATE_KEY_NEEDS_ESCAPING defined it must NOT compile:
// json::Key copies literal keys without escaping, so its consteval constructor rejects a
// literal holding a quote, a backslash, a control byte or a non-ASCII byte.
#include "zgate/json/writer.hpp"

#include <string>

void write_one(std::string& out) {
  zgate::json::Writer w(out);
#ifdef ZGATE_KEY_NEEDS_ESCAPING
  w.begin_object().kv("say \"hi\"", 1).end_object();
#else
  w.begin_object().kv("say_hi", 1).end_object();
#endif
}
