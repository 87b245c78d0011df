#pragma once
// `zgate stats`: reports over the usage store, for an operator's terminal or a script.
//
//   zgate stats [--since T] [--until T] [--key K] [--model M] [--by DIM,...] [--json | --csv]
//               [--db PATH | --data-dir DIR]
//   zgate stats prune --older-than 30d [--db PATH | --data-dir DIR]
//
// The store is --db, else <data dir>/usage.db with the data dir from --data-dir, ZGATE_DATA_DIR,
// else ./data. Colour only on a terminal, and never with NO_COLOR set.
#include <string>

#include "zgate/report/report.hpp"

namespace zgate::cli {

// argv[1] is "stats". Exit code 0, 1 on a failure (missing store, database error), 2 on a usage
// error (unknown option, bad duration, unknown --by).
int run_stats(int argc, char** argv);

// The readable report `zgate stats` prints; `color` adds ANSI colours.
std::string format_report(const report::Report& r, bool color);

}  // namespace zgate::cli
