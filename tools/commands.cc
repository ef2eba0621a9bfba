#include "tools/commands.h"

#include <unistd.h>

#include <cstdio>
#include <deque>
#include <future>
#include <iostream>

#include "ledger/errors.h"
#include "ledger/json.h"
#include "ledger/ledger.h"
#include "ledger/strings.h"
#include "projections/fold.h"
#include "projections/runner.h"
#include "tools/config.h"
#include "tools/gen.h"

namespace rapport::tools {
namespace {

using ledger::Ledger;

void PrintError(std::string_view what, const absl::Status& status) {
  std::fprintf(stderr, "rapport: %.*s: %.*s\n", static_cast<int>(what.size()), what.data(),
               static_cast<int>(status.message().size()), status.message().data());
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAlreadyExists:
      return kExitBadInput;
    case absl::StatusCode::kNotFound:
      return kExitFound;
    default:
      return kExitRuntime;
  }
}

// Opens the ledger of `flags`; prints the error and sets *exit_code when it cannot.
std::unique_ptr<Ledger> OpenLedger(const CommonFlags& flags, bool read_only, int* exit_code,
                                   Config* config_out = nullptr) {
  auto config = LoadConfig(flags.config);
  if (!config.ok()) {
    PrintError("config", config.status());
    *exit_code = kExitBadInput;
    return nullptr;
  }
  ledger::LedgerOptions options = config->ledger;
  options.read_only = read_only;
  std::unique_ptr<Ledger> ledger;
  absl::Status s = Ledger::Open(flags.data_dir, options, &ledger);
  if (!s.ok()) {
    PrintError("opening the ledger", s);
    *exit_code = s.code() == absl::StatusCode::kNotFound ? kExitFound : kExitRuntime;
    return nullptr;
  }
  if (config_out != nullptr) *config_out = *std::move(config);
  return ledger;
}

// The projection runner over `ledger`; prints the error and sets *exit_code when it cannot open.
std::unique_ptr<projections::Runner> OpenRunner(ledger::Ledger* ledger, const Config& config,
                                                int* exit_code) {
  std::unique_ptr<projections::Runner> runner;
  absl::Status s =
      projections::Runner::Open(ledger, projections::RunnerOptions{config.rules}, &runner);
  if (!s.ok()) {
    PrintError("projections", s);
    *exit_code = kExitRuntime;
    return nullptr;
  }
  return runner;
}

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r' && c != '\n') return false;
  }
  return true;
}

std::string LineError(int64_t line, const absl::Status& status) {
  std::string out = StrCat("{\"line\":", line, ",");
  std::string err = ledger::ErrorJson(status);
  out.append(err, 1, std::string::npos);
  return out;
}

struct Chunk {
  std::vector<int64_t> line_numbers;
  std::vector<std::string> lines;
  // Filled by parsing: one entry per line.
  std::vector<absl::StatusOr<ledger::PreparedEvent>> parsed;
};

struct Submitted {
  std::unique_ptr<Chunk> chunk;
  std::unique_ptr<Ledger::Pending> pending;
};

}  // namespace

int RunAppend(const CommonFlags& flags, const std::string& file) {
  int exit_code = kExitOk;
  Config config;
  auto ledger = OpenLedger(flags, /*read_only=*/false, &exit_code, &config);
  if (!ledger) return exit_code;

  // Projections follow the appends (in the background, then to the end before exiting).
  auto runner = OpenRunner(ledger.get(), config, &exit_code);
  if (!runner) return exit_code;
  runner->StartBackground();

  FILE* in = stdin;
  if (!file.empty() && file != "-") {
    in = std::fopen(file.c_str(), "rb");
    if (in == nullptr) {
      std::fprintf(stderr, "rapport: cannot open %s: %s\n", file.c_str(), std::strerror(errno));
      return kExitBadInput;
    }
  }
  constexpr size_t kChunkLines = 1024;
  const ledger::CodecOptions codec = config.codec;
  std::deque<std::future<std::unique_ptr<Chunk>>> parsing;
  std::deque<Submitted> committing;
  bool any_failed = false, runtime_error = false;
  std::string out;

  auto submit_oldest = [&] {
    std::unique_ptr<Chunk> chunk = parsing.front().get();
    parsing.pop_front();
    std::vector<ledger::PreparedEvent> events;
    events.reserve(chunk->parsed.size());
    for (auto& p : chunk->parsed) {
      if (p.ok()) events.push_back(std::move(*p));
    }
    auto pending = ledger->StartAppendEach(std::move(events));
    committing.push_back({std::move(chunk), std::move(pending)});
  };
  auto print_oldest = [&] {
    Submitted s = std::move(committing.front());
    committing.pop_front();
    auto results = s.pending->Wait();
    size_t next_result = 0;
    out.clear();
    for (size_t i = 0; i < s.chunk->parsed.size(); ++i) {
      int64_t line = s.chunk->line_numbers[i];
      if (!s.chunk->parsed[i].ok()) {
        any_failed = true;
        out.append(LineError(line, s.chunk->parsed[i].status()));
      } else {
        const auto& r = results[next_result++];
        if (r.ok()) {
          out.append(ledger::AppendResultJson(*r));
        } else {
          any_failed = true;
          if (ExitCodeFor(r.status()) == kExitRuntime) runtime_error = true;
          out.append(LineError(line, r.status()));
        }
      }
      out.push_back('\n');
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
  };

  char* buf = nullptr;
  size_t cap = 0;
  ssize_t len;
  int64_t line_number = 0;
  auto chunk = std::make_unique<Chunk>();
  auto flush_chunk = [&] {
    if (chunk->lines.empty()) return;
    parsing.push_back(std::async(std::launch::async, [c = std::move(chunk), &codec]() mutable {
      c->parsed.reserve(c->lines.size());
      for (const auto& line : c->lines) c->parsed.push_back(ledger::ParseAndPrepare(line, codec));
      return std::move(c);
    }));
    chunk = std::make_unique<Chunk>();
    while (parsing.size() > 2) submit_oldest();
    while (committing.size() > 2) print_oldest();
  };
  while ((len = getline(&buf, &cap, in)) >= 0) {
    ++line_number;
    std::string_view line(buf, static_cast<size_t>(len));
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;
    chunk->line_numbers.push_back(line_number);
    chunk->lines.emplace_back(line);
    if (chunk->lines.size() >= kChunkLines) flush_chunk();
  }
  std::free(buf);
  bool read_error = std::ferror(in);
  if (in != stdin) std::fclose(in);
  flush_chunk();
  while (!parsing.empty()) submit_oldest();
  while (!committing.empty()) print_oldest();
  if (read_error) {
    std::fprintf(stderr, "rapport: error reading the input\n");
    return kExitRuntime;
  }
  if (absl::Status s = runner->CatchUp(); !s.ok()) {
    PrintError("projections", s);
    return kExitRuntime;
  }
  if (runtime_error) return kExitRuntime;
  return any_failed ? kExitBadInput : kExitOk;
}

namespace {

// Parses --as-of; prints why and returns false when it is not RFC 3339.
bool ParseAsOf(const std::string& text, std::optional<ledger::Timestamp>* out) {
  if (text.empty()) return true;
  std::string why;
  *out = ledger::ParseRfc3339(text, &why);
  if (!*out) std::fprintf(stderr, "rapport: --as-of %s\n", why.c_str());
  return out->has_value();
}

}  // namespace

int RunHistory(const CommonFlags& flags, const std::string& customer, const std::string& as_of,
               uint64_t after_seq, uint64_t limit) {
  std::optional<ledger::Timestamp> as_of_time;
  if (!ParseAsOf(as_of, &as_of_time)) return kExitBadInput;
  int exit_code = kExitOk;
  auto ledger = OpenLedger(flags, /*read_only=*/true, &exit_code);
  if (!ledger) return exit_code;
  auto records = ledger->ReadCustomer(customer, ledger::Seq(after_seq),
                                      limit == 0 ? SIZE_MAX : limit, as_of_time);
  if (!records.ok()) {
    PrintError("history", records.status());
    return kExitRuntime;
  }
  if (records->empty() && after_seq == 0) {
    auto version = ledger->CustomerVersion(customer);
    if (version.ok() && version->value() == 0) {
      std::fprintf(stderr, "rapport: no customer %s\n", customer.c_str());
      return kExitFound;
    }
  }
  std::string out = ledger::HistoryJson(*records);
  out.push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int RunProjection(const CommonFlags& flags, const std::string& projection,
                  const std::string& customer, const std::string& as_of) {
  auto kind = projections::ProjectionFromName(projection);
  if (!kind) {
    std::fprintf(stderr, "rapport: no projection %s (profile, loyalty, resume)\n",
                 projection.c_str());
    return kExitBadInput;
  }
  std::optional<ledger::Timestamp> as_of_time;
  if (!ParseAsOf(as_of, &as_of_time)) return kExitBadInput;
  int exit_code = kExitOk;
  Config config;
  auto ledger = OpenLedger(flags, /*read_only=*/true, &exit_code, &config);
  if (!ledger) return exit_code;
  auto runner = OpenRunner(ledger.get(), config, &exit_code);
  if (!runner) return exit_code;
  auto json = runner->Query(*kind, customer, as_of_time.value_or(ledger::Now()));
  if (!json.ok()) {
    PrintError(projection, json.status());
    return ExitCodeFor(json.status());
  }
  std::string out = *std::move(json);
  out.push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int RunRebuild(const CommonFlags& flags, const std::string& projection) {
  std::vector<projections::ProjectionKind> kinds;
  if (projection.empty()) {
    kinds.assign(std::begin(projections::kAllProjections), std::end(projections::kAllProjections));
  } else if (auto kind = projections::ProjectionFromName(projection)) {
    kinds.push_back(*kind);
  } else {
    std::fprintf(stderr, "rapport: no projection %s (profile, loyalty, resume)\n",
                 projection.c_str());
    return kExitBadInput;
  }
  int exit_code = kExitOk;
  Config config;
  auto ledger = OpenLedger(flags, /*read_only=*/false, &exit_code, &config);
  if (!ledger) return exit_code;
  auto runner = OpenRunner(ledger.get(), config, &exit_code);
  if (!runner) return exit_code;
  bool tty = isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  auto last_print = start;
  uint64_t events = 0;
  absl::Status s = runner->Rebuild(kinds, [&](uint64_t done, uint64_t total) {
    events = done;
    auto now = std::chrono::steady_clock::now();
    if (!tty || now - last_print < std::chrono::milliseconds(250)) return;
    last_print = now;
    double secs = std::chrono::duration<double>(now - start).count();
    double rate = secs > 0 ? done / secs : 0;
    std::fprintf(stderr, "\rrebuild: %llu/%llu events, %.0f/s, %.0fs left   ",
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 rate, rate > 0 ? (total - std::min(total, done)) / rate : 0.0);
  });
  if (tty) std::fprintf(stderr, "\n");
  if (!s.ok()) {
    PrintError("rebuild", s);
    return kExitRuntime;
  }
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::string out = "{\"projections\":[";
  for (size_t i = 0; i < kinds.size(); ++i) {
    out += StrCat(i ? ",\"" : "\"", projections::ProjectionName(kinds[i]), "\"");
  }
  out += StrCat("],\"events\":", events, ",\"seconds\":");
  ledger::json::AppendRounded4(&out, secs);
  out += "}\n";
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

namespace {

void AppendCsvCell(std::string* out, std::string_view cell) {
  if (cell.find_first_of(",\"\r\n") == std::string_view::npos) {
    out->append(cell);
    return;
  }
  out->push_back('"');
  for (char c : cell) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

// One CSV row of a projection's top-level members (docs/EXPORT.md); the header when `header`.
bool AppendCsvRow(std::string* out, std::string_view json, bool header) {
  ledger::json::Reader r(json);
  if (!r.BeginObject()) return false;
  std::string key, text;
  bool done = false, first = true;
  while (r.NextMember(&key, &done) && !done) {
    if (!first) out->push_back(',');
    first = false;
    if (header) {
      AppendCsvCell(out, key);
      if (!r.SkipValue(nullptr)) return false;
      continue;
    }
    switch (r.Peek()) {
      case ledger::json::Reader::Type::kString:
        if (!r.ReadString(&text)) return false;
        AppendCsvCell(out, text);
        break;
      case ledger::json::Reader::Type::kNull:
        r.ReadNull();
        break;
      default: {
        std::string_view raw;
        if (!r.SkipValue(&raw)) return false;
        AppendCsvCell(out, raw);
      }
    }
  }
  out->append("\r\n");
  return done;
}

}  // namespace

int RunExport(const CommonFlags& flags, const std::string& projection, const std::string& format) {
  auto kind = projections::ProjectionFromName(projection);
  if (!kind) {
    std::fprintf(stderr, "rapport: --projection must be profile, loyalty or resume\n");
    return kExitBadInput;
  }
  if (format != "jsonl" && format != "csv") {
    std::fprintf(stderr, "rapport: --format must be jsonl or csv\n");
    return kExitBadInput;
  }
  int exit_code = kExitOk;
  Config config;
  auto ledger = OpenLedger(flags, /*read_only=*/true, &exit_code, &config);
  if (!ledger) return exit_code;
  auto runner = OpenRunner(ledger.get(), config, &exit_code);
  if (!runner) return exit_code;
  for (const auto& st : runner->Status()) {
    if (st.kind == *kind && (st.behind > 0 || !st.rules_match)) {
      if (st.rules_match) {
        // Beside a running server: it flushes what read-only readers see every 10 s.
        std::fprintf(stderr,
                     "rapport: warning: the stored %s projection is %llu records behind the "
                     "ledger; a running `serve` makes them visible within about 10 s, otherwise "
                     "run `rapport rebuild`\n",
                     projection.c_str(), static_cast<unsigned long long>(st.behind));
      } else {
        std::fprintf(stderr,
                     "rapport: warning: the stored %s projection is from other rules; run "
                     "`rapport rebuild`\n",
                     projection.c_str());
      }
    }
  }
  std::string out;
  bool header = format == "csv";
  bool bad = false;
  absl::Status s;
  {
    s = runner->ForEachStored(*kind, [&](std::string_view, std::string_view json) {
      if (format == "jsonl") {
        out.append(json);
        out.push_back('\n');
      } else {
        if (header) {
          bad |= !AppendCsvRow(&out, json, true);
          header = false;
        }
        bad |= !AppendCsvRow(&out, json, false);
      }
      if (out.size() > (1 << 20)) {
        std::fwrite(out.data(), 1, out.size(), stdout);
        out.clear();
      }
      return !bad;
    });
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!s.ok() || bad) {
    PrintError("export", s.ok() ? absl::DataLossError("a stored projection is not JSON") : s);
    return kExitRuntime;
  }
  return kExitOk;
}

int RunVerify(const CommonFlags& flags, const std::optional<std::string>& customer) {
  int exit_code = kExitOk;
  auto ledger = OpenLedger(flags, /*read_only=*/true, &exit_code);
  if (!ledger) return exit_code;
  bool tty = isatty(STDERR_FILENO);
  auto start = std::chrono::steady_clock::now();
  auto report = ledger->Verify(customer, 2, [&](uint64_t checked) {
    if (!tty) return;
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::fprintf(stderr, "\rverify: %llu records checked (%.0f/s)   ",
                 static_cast<unsigned long long>(checked), secs > 0 ? checked / secs : 0.0);
  });
  if (tty && !customer) std::fprintf(stderr, "\n");
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (!report.ok()) {
    PrintError("verify", report.status());
    return report.status().code() == absl::StatusCode::kNotFound ? kExitFound : kExitRuntime;
  }
  std::string out;
  if (report->ok) {
    out = StrCat("{\"ok\":true,\"records\":", report->records, ",\"customers\":", report->customers,
                 ",\"seconds\":");
    ledger::json::AppendRounded4(&out, secs);
    out.append("}\n");
    std::fwrite(out.data(), 1, out.size(), stdout);
    return kExitOk;
  }
  out = StrCat("{\"ok\":false,\"partition\":", report->bad_partition->value(),
               ",\"position\":", report->bad_position->value(), ",\"reason\":");
  ledger::json::AppendString(&out, report->reason);
  out.append("}\n");
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fprintf(stderr, "rapport: verify FAILED at partition %u position %llu: %s\n",
               report->bad_partition->value(),
               static_cast<unsigned long long>(report->bad_position->value()),
               report->reason.c_str());
  return kExitFound;
}

int RunDigest(const CommonFlags& flags) {
  int exit_code = kExitOk;
  auto ledger = OpenLedger(flags, /*read_only=*/true, &exit_code);
  if (!ledger) return exit_code;
  std::string out = ledger::DigestJson(ledger->Heads());
  out.push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stdout);
  return kExitOk;
}

int RunGen(uint64_t customers, uint64_t events, uint64_t seed) {
  if (customers == 0) {
    std::fprintf(stderr, "rapport: --customers must be at least 1\n");
    return kExitBadInput;
  }
  std::string buffer;
  buffer.reserve(1 << 20);
  GenerateWorkload({customers, events, seed}, [&](std::string_view line) {
    buffer.append(line);
    buffer.push_back('\n');
    if (buffer.size() >= (1 << 20)) {
      std::fwrite(buffer.data(), 1, buffer.size(), stdout);
      buffer.clear();
    }
  });
  std::fwrite(buffer.data(), 1, buffer.size(), stdout);
  return std::fflush(stdout) == 0 ? kExitOk : kExitRuntime;
}

}  // namespace rapport::tools
