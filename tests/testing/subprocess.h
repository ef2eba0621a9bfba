// Runs the real `rapport` program (its path comes from the build: RAPPORT_BIN) for CLI and crash
// tests.
#ifndef RAPPORT_TESTS_TESTING_SUBPROCESS_H_
#define RAPPORT_TESTS_TESTING_SUBPROCESS_H_

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

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

// Starts `RAPPORT_BIN args...` in the background with stdout and stderr appended to the given
// files; returns its pid (for kill and waitpid).
inline pid_t SpawnRapport(const std::vector<std::string>& args, const std::string& out,
                          const std::string& err) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  std::vector<std::string> all = {RAPPORT_BIN};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, RAPPORT_BIN, &actions, nullptr, argv.data(), ::environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

// Waits for `pid` to exit; its exit code, or 128 + signal.
inline int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace rapport::testing

#endif  // RAPPORT_TESTS_TESTING_SUBPROCESS_H_
