// A small binary encoding for projection states stored in RocksDB: fixed-width little-endian
// integers and doubles, length-prefixed strings. Readers fail (return false) on truncated input
// instead of reading past it.
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
  void U64(uint64_t v) { out_->append(reinterpret_cast<const char*>(&v), sizeof(v)); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
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
  bool U64(uint64_t* v) { return Raw(v, sizeof(*v)); }
  bool I64(int64_t* v) { return Raw(v, sizeof(*v)); }
  bool F64(double* v) { return Raw(v, sizeof(*v)); }
  bool Bool(bool* v) {
    if (in_.empty()) return false;
    *v = in_[0] != 0;
    in_.remove_prefix(1);
    return true;
  }
  bool Str(std::string* s) {
    uint64_t n;
    if (!U64(&n) || n > in_.size()) return false;
    s->assign(in_.data(), n);
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
