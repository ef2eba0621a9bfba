// Runs the real `rapport` program (its path comes from the build: RAPPORT_BIN) for CLI and crash
// tests.
#ifndef RAPPORT_TESTS_TESTING_SUBPROCESS_H_
#define RAPPORT_TESTS_TESTING_SUBPROCESS_H_

#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/testing/temp_dir.h"

namespace rapport::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Runs `sh -c "<RAPPORT_BIN> <args>"` with `input` on stdin, in `scratch`.
inline CommandResult RunRapport(const TempDir& scratch, const std::string& args,
                                const std::string& input = "") {
  static int n = 0;
  std::string base = scratch.Sub("cmd" + std::to_string(n++));
  WriteFile(base + ".in", input);
  std::string cmd = std::string(RAPPORT_BIN) + " " + args + " < " + base + ".in > " + base +
                    ".out 2> " + base + ".err";
  int status = std::system(cmd.c_str());
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  return r;
}

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_SUBPROCESS_H_
