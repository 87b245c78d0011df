#pragma once
// What the subcommands over a file of the data directory (`zgate stats`, `zgate cache`) share:
// the --db/--data-dir options, where they lead, and the parsing of the command line.
#include <CLI/CLI.hpp>

#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>

namespace zgate::cli {

// Where a subcommand finds a file of the data directory: the path given with --db, else
// `name` in --data-dir, else in ZGATE_DATA_DIR, else in ./data (zgate's own default).
inline std::string data_file(const std::string& db, const std::string& data_dir, std::string_view name) {
  if (!db.empty()) return db;
  std::string dir = data_dir;
  if (dir.empty()) {
    const char* env = std::getenv("ZGATE_DATA_DIR");
    dir = env && *env ? env : "./data";
  }
  if (dir.back() != '/') dir += '/';
  return dir + std::string(name);
}

// --db (`what`, by default `name` in the data directory) and --data-dir, for data_file().
inline void add_data_file_options(CLI::App& app, std::string& db, std::string& data_dir, std::string_view what,
                                  std::string_view name) {
  app.add_option("--db", db, std::string(what) + " (default <data dir>/" + std::string(name) + ")");
  app.add_option("--data-dir", data_dir, "the data directory (default ZGATE_DATA_DIR, else ./data)");
}

// Parses the arguments after the subcommand's name. Returns the exit status when the command
// ends here: 0 after printing the help, 2 after a usage error (on stderr, after `command: `).
inline std::optional<int> parse_args(CLI::App& app, int argc, char** argv, std::string_view command) {
  try {
    app.parse(argc - 1, argv + 1);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << command << ": " << e.what() << "\n";
    return 2;
  }
  return std::nullopt;
}

}  // namespace zgate::cli
