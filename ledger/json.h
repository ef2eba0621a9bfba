// JSON text in the two forms the ledger needs: a strict pull reader for untrusted input (CONTRACT
// §1 validation), and writers that produce RFC 8785 (JCS) canonical text.
#ifndef RAPPORT_LEDGER_JSON_H_
#define RAPPORT_LEDGER_JSON_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace rapport::ledger::json {

// Appends `s` (valid UTF-8) as a JCS string literal: only `"`, `\` and control characters are
// escaped, control characters as \b \t \n \f \r or \u00xx; everything else is copied.
void AppendString(std::string* out, std::string_view s);
void AppendInt(std::string* out, int64_t v);
void AppendUint(std::string* out, uint64_t v);
// ECMAScript Number::toString form (shortest round trip), as JCS requires. `v` must be finite.
void AppendDouble(std::string* out, double v);
// Rounds half away from zero to 4 decimals, then renders like AppendDouble (CONTRACT §4).
void AppendRounded4(std::string* out, double v);
// Lowercase hex of `bytes`.
void AppendHex(std::string* out, std::string_view bytes);
// Appends code point `cp` (at most U+10FFFF, not a surrogate) as UTF-8.
void AppendUtf8(std::string* out, uint32_t cp);
// The value of hex digit `c`, or -1.
int HexValue(char c);
// The character a one-letter JSON escape (`\n`, `\"`, ...) stands for, or 0 for any other.
char SimpleEscape(char e);
std::string Hex(std::string_view bytes);

// Compares two UTF-8 strings by their UTF-16 code units, the JCS order of object keys.
bool Utf16Less(std::string_view a, std::string_view b);

// Counts Unicode code points of valid UTF-8.
size_t CodePoints(std::string_view s);

// A strict, allocation-light pull parser over one JSON text (RFC 8259): rejects invalid UTF-8,
// lone surrogates, control characters in strings, leading zeros, trailing commas and garbage
// after the value. Methods return false on error and leave a message in error(); the caller,
// which knows the field path, turns it into an error naming the field.
//
// Not thread-safe; `text` must stay alive while the reader is used.
class Reader {
 public:
  enum class Type { kObject, kArray, kString, kNumber, kBool, kNull, kInvalid };

  explicit Reader(std::string_view text);

  // The type of the next value, without consuming it (skips whitespace).
  Type Peek();
  // Object iteration: call BeginObject, then NextMember until it sets *done.
  bool BeginObject();
  bool NextMember(std::string* key, bool* done);
  // Array iteration: BeginArray, then NextElement until it sets *done.
  bool BeginArray();
  bool NextElement(bool* done);

  bool ReadString(std::string* out);
  // An integer without fraction or exponent, within int64.
  bool ReadInt64(int64_t* out);
  // Any JSON number, which must be finite as a double.
  bool ReadDouble(double* out);
  bool ReadBool(bool* out);
  // Consumes `null`.
  bool ReadNull();
  // Consumes and validates any value; *raw is its text.
  bool SkipValue(std::string_view* raw);
  // True when only whitespace is left.
  bool AtEnd();

  const std::string& error() const { return error_; }
  size_t offset() const { return static_cast<size_t>(p_ - begin_); }

 private:
  bool Fail(std::string_view message);
  void SkipWs();
  bool Expect(char c);
  bool ScanNumber(std::string_view* text, bool* is_integer);
  bool SkipValueDepth(int depth);

  const char* begin_;
  const char* p_;
  const char* end_;
  // Whether the last non-whitespace character consumed is `c` (the container was just opened).
  bool JustOpened(char c) const;
  std::string error_;
};

}  // namespace rapport::ledger::json

#endif  // RAPPORT_LEDGER_JSON_H_
