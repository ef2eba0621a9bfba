// A small binary encoding for projection states stored in RocksDB: variable-length integers
// (LEB128; zigzag for signed ones), fixed-width little-endian doubles, length-prefixed strings.
// Readers fail (return false) on truncated input instead of reading past it.
#ifndef RAPPORT_PROJECTIONS_STATE_CODEC_H_
#define RAPPORT_PROJECTIONS_STATE_CODEC_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace rapport::projections {

class StateWriter {
 public:
  explicit StateWriter(std::string* out) : out_(out) {}
  // LEB128: seven bits a byte, low first (a seq or a count is one to three bytes, not eight).
  void U64(uint64_t v) {
    char buf[10];
    size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, n);
  }
  // Zigzag, so that small negative numbers (-1: none) stay small.
  void I64(int64_t v) { U64((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void F64(double v) { out_->append(reinterpret_cast<const char*>(&v), sizeof(v)); }
  void Bool(bool v) { out_->push_back(v ? 1 : 0); }
  void Str(std::string_view s) {
    U64(s.size());
    out_->append(s);
  }

 private:
  std::string* out_;
};

class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}
  bool U64(uint64_t* v) {
    uint64_t out = 0;
    for (size_t i = 0; i < in_.size() && i < 10; ++i) {
      const auto byte = static_cast<uint8_t>(in_[i]);
      // The tenth byte holds the top bit only.
      if (i == 9 && byte > 1) return false;
      out |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if (byte < 0x80) {
        in_.remove_prefix(i + 1);
        *v = out;
        return true;
      }
    }
    return false;  // truncated, or longer than ten bytes
  }
  bool I64(int64_t* v) {
    uint64_t u;
    if (!U64(&u)) return false;
    *v = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
    return true;
  }
  bool F64(double* v) { return Raw(v, sizeof(*v)); }
  bool Bool(bool* v) {
    if (in_.empty()) return false;
    *v = in_[0] != 0;
    in_.remove_prefix(1);
    return true;
  }
  bool Str(std::string* s) {
    std::string_view view;
    if (!View(&view)) return false;
    s->assign(view);
    return true;
  }
  // A string as a view into the input (valid while the input is).
  bool View(std::string_view* s) {
    uint64_t n;
    if (!U64(&n) || n > in_.size()) return false;
    *s = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  bool AtEnd() const { return in_.empty(); }

 private:
  bool Raw(void* v, size_t n) {
    if (in_.size() < n) return false;
    std::memcpy(v, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

}  // namespace rapport::projections

#endif  // RAPPORT_PROJECTIONS_STATE_CODEC_H_
