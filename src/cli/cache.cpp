// `zgate cache stats|clear` over the cache's disk copy.
#include "zgate/cli/cache.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "data_file.hpp"
#include "zgate/cache/store.hpp"
#include "zgate/core/text.hpp"
#include "zgate/json/writer.hpp"

namespace zgate::cli {
namespace {

std::string cache_path(const std::string& db, const std::string& data_dir) { return data_file(db, data_dir, "cache.db"); }

}  // namespace

int run_cache(int argc, char** argv) {
  CLI::App app{"zgate cache: the response cache's disk copy", "zgate cache"};
  app.require_subcommand(1);
  std::string db, data_dir, model;
  bool as_json = false;
  auto* stats = app.add_subcommand("stats", "entries and bytes on disk, by model");
  stats->add_flag("--json", as_json, "print as JSON");
  auto* clear = app.add_subcommand("clear", "delete the entries on disk (a running zgate keeps its memory copy)");
  clear->add_option("--model", model, "only the entries of this model");
  for (auto* sub : {stats, clear}) add_data_file_options(*sub, db, data_dir, "the cache file", "cache.db");
  if (auto status = parse_args(app, argc, argv, "zgate cache")) return *status;
  const std::string path = cache_path(db, data_dir);
  if (!std::filesystem::exists(path)) {
    std::cerr << "zgate cache: no cache file at " << path << "\n";
    return 1;
  }
  try {
    if (clear->parsed()) {
      const int64_t n = cache::disk_clear(path, model);
      std::cout << "deleted " << n << " entr" << (n == 1 ? "y" : "ies") << " from " << path << "\n";
      return 0;
    }
    const int64_t now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    const cache::DiskStats st = cache::disk_stats(path, now);
    if (as_json) {
      // Through the JSON writer: the path and the model names are data (a model may be any name
      // a client sent, with allow_unlisted_models).
      std::string out;
      json::Writer w(out);
      w.begin_object().kv("file", path).kv("entries", st.entries).kv("bytes", st.bytes).kv("expired", st.expired);
      w.key("models").begin_array();
      for (const auto& [m, n] : st.by_model) w.begin_object().kv("model", m).kv("entries", n).end_object();
      w.end_array().end_object();
      std::cout << out << "\n";
      return 0;
    }
    std::cout << fmt::format("{}: {} {}, {:.1f} MiB ({} expired, dropped at the next start)\n", text::printable(path),
                             st.entries, st.entries == 1 ? "entry" : "entries",
                             static_cast<double>(st.bytes) / (1024.0 * 1024.0), st.expired);
    for (const auto& [m, n] : st.by_model) std::cout << fmt::format("  {:<32} {}\n", text::printable(m), n);
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "zgate cache: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace zgate::cli
