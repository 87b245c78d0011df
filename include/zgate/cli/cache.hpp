#pragma once
// `zgate cache`: the response cache's disk copy (<data dir>/cache.db), without a running zgate.
//
//   zgate cache stats [--json] [--db PATH | --data-dir DIR]
//   zgate cache clear [--model M] [--db PATH | --data-dir DIR]
//
// The file is --db, else <data dir>/cache.db with the data dir from --data-dir, ZGATE_DATA_DIR,
// else ./data (as `zgate stats`). A running zgate keeps its memory copy until
// DELETE /admin/cache.
namespace zgate::cli {

// argv[1] is "cache". Exit code 0, 1 on a failure (missing file, database error), 2 on a usage
// error.
int run_cache(int argc, char** argv);

}  // namespace zgate::cli
