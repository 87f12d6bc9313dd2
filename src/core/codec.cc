// Binary record codec, format version 1.
//
//   record  := u8 version (=1) , object-body
//   value   := u8 tag , payload
//     tag 0 null      (no payload)
//     tag 1 false     (no payload)
//     tag 2 true      (no payload)
//     tag 3 int64     zigzag varint
//     tag 4 double    8 bytes, IEEE-754 little-endian
//     tag 5 string    varint byte length, UTF-8 bytes
//     tag 6 bytes     varint byte length, bytes
//     tag 7 vector    varint dimension, dimension x float32 little-endian
//     tag 8 list      varint count, count x value
//     tag 9 object    object-body
//   object-body := varint count, count x (varint key length, key bytes, value)
//   varint := unsigned LEB128, at most 10 bytes
//
// Nesting deeper than kMaxNestingDepth, a length past the end, an unknown tag or version, or
// trailing bytes are Corruption errors. Kept in agreement with docs/binary-codec.md.
#include <algorithm>
#include <bit>
#include <cstring>

#include "persisting/codec.h"

#include "core/huge_pages.h"
#include "core/status_macros.h"

namespace persisting {
namespace {

static_assert(std::endian::native == std::endian::little, "codec assumes a little-endian host");

enum Tag : uint8_t {
  kNull = 0, kFalse = 1, kTrue = 2, kInt = 3, kDouble = 4, kString = 5, kBytes = 6,
  kVector = 7, kList = 8, kObject = 9,
};

inline void put_varint(std::string* out, uint64_t v) {
  char buf[10];
  int n = 0;
  while (v >= 0x80) {
    buf[n++] = static_cast<char>(v | 0x80);
    v >>= 7;
  }
  buf[n++] = static_cast<char>(v);
  out->append(buf, static_cast<size_t>(n));
}

inline void put_str(std::string* out, std::string_view s) {
  put_varint(out, s.size());
  out->append(s);
}

void encode_value(const Value& v, std::string* out);

void encode_object_body(const Object& o, std::string* out) {
  put_varint(out, o.size());
  for (const auto& [k, v] : o) {
    put_str(out, k);
    encode_value(v, out);
  }
}

void encode_value(const Value& v, std::string* out) {
  switch (v.type()) {
    case Value::Type::kNull: out->push_back(kNull); break;
    case Value::Type::kBool: out->push_back(v.as_bool() ? kTrue : kFalse); break;
    case Value::Type::kInt: {
      out->push_back(kInt);
      int64_t i = v.as_int();
      put_varint(out, (static_cast<uint64_t>(i) << 1) ^ static_cast<uint64_t>(i >> 63));
      break;
    }
    case Value::Type::kDouble: {
      out->push_back(kDouble);
      double d = v.as_double();
      char b[8];
      std::memcpy(b, &d, 8);
      out->append(b, 8);
      break;
    }
    case Value::Type::kString: out->push_back(kString); put_str(out, v.as_string()); break;
    case Value::Type::kBytes: out->push_back(kBytes); put_str(out, v.as_bytes().data); break;
    case Value::Type::kVector: {
      out->push_back(kVector);
      const auto& vec = v.as_vector();
      put_varint(out, vec.size());
      out->append(reinterpret_cast<const char*>(vec.data()), vec.size() * sizeof(float));
      break;
    }
    case Value::Type::kList: {
      out->push_back(kList);
      const auto& l = v.as_list();
      put_varint(out, l.size());
      for (const auto& e : l) encode_value(e, out);
      break;
    }
    case Value::Type::kObject: out->push_back(kObject); encode_object_body(v.as_object(), out); break;
  }
}

class Decoder {
 public:
  explicit Decoder(std::string_view d) : p_(d.data()), end_(d.data() + d.size()), begin_(p_) {}

  Status error(std::string what) const {
    return Corruption("binary record: " + what + " at byte " + std::to_string(p_ - begin_));
  }

  bool at_end() const { return p_ == end_; }

  Result<uint64_t> varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (p_ == end_) return error("truncated varint");
      uint8_t b = static_cast<uint8_t>(*p_++);
      if (shift == 63 && b > 1) return error("varint overflows 64 bits");
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    return error("varint longer than 10 bytes");
  }

  Result<std::string_view> bytes(uint64_t n) {
    if (n > static_cast<uint64_t>(end_ - p_)) return error("length " + std::to_string(n) + " past end");
    std::string_view s(p_, static_cast<size_t>(n));
    p_ += n;
    return s;
  }

  Result<Value> value(int depth) {
    if (p_ == end_) return error("truncated value");
    uint8_t tag = static_cast<uint8_t>(*p_++);
    switch (tag) {
      case kNull: return Value();
      case kFalse: return Value(false);
      case kTrue: return Value(true);
      case kInt: {
        ASSIGN_OR_RETURN(uint64_t z, varint());
        return Value(static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1)));
      }
      case kDouble: {
        ASSIGN_OR_RETURN(std::string_view b, bytes(8));
        double d;
        std::memcpy(&d, b.data(), 8);
        return Value(d);
      }
      case kString: {
        ASSIGN_OR_RETURN(uint64_t n, varint());
        ASSIGN_OR_RETURN(std::string_view s, bytes(n));
        return Value(std::string(s));
      }
      case kBytes: {
        ASSIGN_OR_RETURN(uint64_t n, varint());
        ASSIGN_OR_RETURN(std::string_view s, bytes(n));
        return Value(Bytes{std::string(s)});
      }
      case kVector: {
        ASSIGN_OR_RETURN(uint64_t n, varint());
        if (n > static_cast<uint64_t>(end_ - p_) / sizeof(float)) return error("vector past end");
        F32Vector vec(static_cast<size_t>(n));
        // An empty vector's data() may be null, and memcpy(null, _, 0) is undefined.
        if (n > 0) std::memcpy(vec.data(), p_, n * sizeof(float));
        p_ += n * sizeof(float);
        return Value(std::move(vec));
      }
      case kList: {
        if (depth >= kMaxNestingDepth) return error("nesting deeper than " + std::to_string(kMaxNestingDepth));
        ASSIGN_OR_RETURN(uint64_t n, varint());
        if (n > static_cast<uint64_t>(end_ - p_)) return error("list count past end");
        List l;
        l.reserve(static_cast<size_t>(n));
        for (uint64_t i = 0; i < n; ++i) {
          ASSIGN_OR_RETURN(Value e, value(depth + 1));
          l.push_back(std::move(e));
        }
        return Value(std::move(l));
      }
      case kObject: {
        if (depth >= kMaxNestingDepth) return error("nesting deeper than " + std::to_string(kMaxNestingDepth));
        ASSIGN_OR_RETURN(Object o, object_body(depth + 1));
        return Value(std::move(o));
      }
      default: return error("unknown tag " + std::to_string(tag));
    }
  }

  // Steps over one value (tag included) without building it. Scalars are read into *f
  // (type, b/i/d, bytes, dim), nested values only checked; f->value is the value's encoding.
  Status skip_value(int depth, FieldShape* f) {
    const char* start = p_;
    if (p_ == end_) return error("truncated value");
    uint8_t tag = static_cast<uint8_t>(*p_++);
    switch (tag) {
      case kNull: f->type = Value::Type::kNull; break;
      case kFalse:
      case kTrue:
        f->type = Value::Type::kBool;
        f->b = tag == kTrue;
        break;
      case kInt: {
        ASSIGN_OR_RETURN(uint64_t z, varint());
        f->type = Value::Type::kInt;
        f->i = static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
        break;
      }
      case kDouble: {
        ASSIGN_OR_RETURN(std::string_view b, bytes(8));
        f->type = Value::Type::kDouble;
        std::memcpy(&f->d, b.data(), 8);
        break;
      }
      case kString:
      case kBytes: {
        ASSIGN_OR_RETURN(uint64_t n, varint());
        ASSIGN_OR_RETURN(f->bytes, bytes(n));
        f->type = tag == kString ? Value::Type::kString : Value::Type::kBytes;
        break;
      }
      case kVector: {
        ASSIGN_OR_RETURN(uint64_t n, varint());
        if (n > static_cast<uint64_t>(end_ - p_) / sizeof(float)) return error("vector past end");
        f->bytes = std::string_view(p_, static_cast<size_t>(n) * sizeof(float));
        p_ += n * sizeof(float);
        f->type = Value::Type::kVector;
        f->dim = n;
        break;
      }
      case kList: {
        if (depth >= kMaxNestingDepth) return error("nesting deeper than " + std::to_string(kMaxNestingDepth));
        ASSIGN_OR_RETURN(uint64_t n, varint());
        if (n > static_cast<uint64_t>(end_ - p_)) return error("list count past end");
        FieldShape item;
        for (uint64_t i = 0; i < n; ++i) RETURN_IF_ERROR(skip_value(depth + 1, &item));
        f->type = Value::Type::kList;
        break;
      }
      case kObject: {
        if (depth >= kMaxNestingDepth) return error("nesting deeper than " + std::to_string(kMaxNestingDepth));
        ASSIGN_OR_RETURN(uint64_t n, varint());
        if (n > static_cast<uint64_t>(end_ - p_)) return error("field count past end");
        FieldShape item;
        std::vector<std::string_view> keys;  // duplicates are refused, as object_body does
        keys.reserve(static_cast<size_t>(n));
        for (uint64_t i = 0; i < n; ++i) {
          ASSIGN_OR_RETURN(uint64_t kl, varint());
          ASSIGN_OR_RETURN(std::string_view k, bytes(kl));
          if (std::find(keys.begin(), keys.end(), k) != keys.end())
            return error("duplicate field '" + std::string(k) + "'");
          keys.push_back(k);
          RETURN_IF_ERROR(skip_value(depth + 1, &item));
        }
        f->type = Value::Type::kObject;
        break;
      }
      default: return error("unknown tag " + std::to_string(tag));
    }
    f->value = std::string_view(start, static_cast<size_t>(p_ - start));
    return Status::OK();
  }

  Result<Object> object_body(int depth) {
    ASSIGN_OR_RETURN(uint64_t n, varint());
    if (n > static_cast<uint64_t>(end_ - p_)) return error("field count past end");
    Object o;
    o.reserve(static_cast<size_t>(n));
    for (uint64_t i = 0; i < n; ++i) {
      ASSIGN_OR_RETURN(uint64_t kl, varint());
      ASSIGN_OR_RETURN(std::string_view k, bytes(kl));
      if (o.find(k) != nullptr) return error("duplicate field '" + std::string(k) + "'");
      ASSIGN_OR_RETURN(Value v, value(depth));
      o.append_unchecked(std::string(k), std::move(v));
    }
    return o;
  }

 private:
  const char* p_;
  const char* end_;
  const char* begin_;
};

// Walks a record the way Decoder counts levels; builds the field path only on failure.
class DepthChecker {
 public:
  Status object(const Object& o, int depth) {
    for (const auto& [k, v] : o) {
      path_.push_back({k, 0, false});
      RETURN_IF_ERROR(value(v, depth));
      path_.pop_back();
    }
    return Status::OK();
  }

 private:
  struct Step {
    std::string_view key;
    size_t index;
    bool is_index;  // a list element rather than a field
  };

  // v sits inside a container at level depth; a list or object here is level depth + 1.
  Status value(const Value& v, int depth) {
    if (!v.is_list() && !v.is_object()) return Status::OK();
    if (depth >= kMaxNestingDepth) {
      return InvalidArgument("field '" + path() + "': nesting deeper than " +
                             std::to_string(kMaxNestingDepth) + " levels");
    }
    if (v.is_object()) return object(v.as_object(), depth + 1);
    const List& l = v.as_list();
    for (size_t i = 0; i < l.size(); ++i) {
      path_.push_back({{}, i, true});
      RETURN_IF_ERROR(value(l[i], depth + 1));
      path_.pop_back();
    }
    return Status::OK();
  }

  std::string path() const {
    std::string out;
    for (const Step& s : path_) {
      if (s.is_index) {
        out += "[" + std::to_string(s.index) + "]";
      } else {
        if (!out.empty()) out += '.';
        out += s.key;
      }
    }
    return out;
  }

  std::vector<Step> path_;
};

// The same walk without the path (no allocation): the check every put makes. v sits at level depth.
bool within_depth(const Value& v, int depth) {
  if (v.is_object()) {
    if (depth >= kMaxNestingDepth) return false;
    for (const auto& [k, child] : v.as_object())
      if (!within_depth(child, depth + 1)) return false;
  } else if (v.is_list()) {
    if (depth >= kMaxNestingDepth) return false;
    for (const Value& child : v.as_list())
      if (!within_depth(child, depth + 1)) return false;
  }
  return true;
}

}  // namespace

Status check_record_depth(const Record& record) {
  for (const auto& [k, v] : record)
    if (!within_depth(v, 1)) return DepthChecker().object(record, 1);  // names the field at fault
  return Status::OK();
}

void encode_record(const Record& record, std::string* out) {
  out->push_back(static_cast<char>(kCodecVersion));
  encode_object_body(record, out);
}

std::string encode_record(const Record& record) {
  std::string out;
  encode_record(record, &out);
  return out;
}

namespace {

// Checks the version byte and steps over it.
Status read_version(std::string_view data, Decoder* d) {
  if (data.empty()) return d->error("empty record");
  uint8_t version = static_cast<uint8_t>(data[0]);
  if (version != kCodecVersion) {
    return Corruption("binary record: unsupported codec version " + std::to_string(version) +
                      " (this build reads version " + std::to_string(kCodecVersion) + ")");
  }
  return d->bytes(1).status();
}

}  // namespace

Result<Record> decode_record(std::string_view data) {
  Decoder d(data);
  RETURN_IF_ERROR(read_version(data, &d));
  ASSIGN_OR_RETURN(Object o, d.object_body(1));
  if (!d.at_end()) return d.error("trailing bytes");
  return o;
}

Status scan_fields(std::string_view data, std::vector<FieldShape>* out) {
  out->clear();
  Decoder d(data);
  RETURN_IF_ERROR(read_version(data, &d));
  ASSIGN_OR_RETURN(uint64_t n, d.varint());
  if (n > data.size()) return d.error("field count past end");
  for (uint64_t i = 0; i < n; ++i) {
    FieldShape f;
    ASSIGN_OR_RETURN(uint64_t kl, d.varint());
    ASSIGN_OR_RETURN(f.name, d.bytes(kl));
    for (const FieldShape& seen : *out)
      if (seen.name == f.name) return d.error("duplicate field '" + std::string(f.name) + "'");
    RETURN_IF_ERROR(d.skip_value(1, &f));
    out->push_back(f);
  }
  if (!d.at_end()) return d.error("trailing bytes");
  return Status::OK();
}

Result<Value> decode_value(std::string_view data) {
  Decoder d(data);
  ASSIGN_OR_RETURN(Value v, d.value(1));
  if (!d.at_end()) return d.error("trailing bytes");
  return v;
}

RecordBatch RecordBatch::view_of(std::shared_ptr<const void> owner, std::string_view bytes,
                                 std::span<const uint32_t> sizes) {
  RecordBatch b;
  b.owner_ = std::move(owner);
  b.view_ = bytes;
  b.ends_.reserve(sizes.size());
  uint32_t end = 0;
  for (uint32_t n : sizes) b.ends_.push_back(end += n);
  return b;
}

void RecordBatch::own() {
  if (!owner_) return;
  data_.assign(view_);
  owner_.reset();
  view_ = {};
}

void RecordBatch::add(const Record& r) {
  own();
  encode_record(r, &data_);
  ends_.push_back(static_cast<uint32_t>(data_.size()));
  if (!times_.empty()) times_.push_back(0);
}

void RecordBatch::add_encoded(std::string_view encoded) {
  own();
  data_.append(encoded);
  ends_.push_back(static_cast<uint32_t>(data_.size()));
  if (!times_.empty()) times_.push_back(0);
}

void RecordBatch::copy_times(const RecordBatch& other, size_t from, size_t n) {
  if (other.times_.empty()) {
    if (!times_.empty()) times_.resize(ends_.size(), 0);
    return;
  }
  times_.resize(ends_.size() - n, 0);
  times_.insert(times_.end(), other.times_.begin() + static_cast<std::ptrdiff_t>(from),
                other.times_.begin() + static_cast<std::ptrdiff_t>(from + n));
}

void RecordBatch::set_time(size_t i, int64_t ms) {
  if (times_.empty()) times_.assign(ends_.size(), 0);
  times_[i] = ms;
}

int64_t RecordBatch::min_time() const {
  return times_.empty() ? 0 : *std::min_element(times_.begin(), times_.end());
}

int64_t RecordBatch::max_time() const {
  return times_.empty() ? 0 : *std::max_element(times_.begin(), times_.end());
}

void RecordBatch::grow_ends(size_t more) {
  // Geometric, as push_back would: reserving exactly what each append needs would copy the whole
  // vector on every append to a growing batch (a buffer of 100,000 records, appended 25 at a time).
  size_t need = ends_.size() + more;
  if (need > ends_.capacity()) ends_.reserve(std::max(need, 2 * ends_.capacity()));
}

void RecordBatch::add_encoded_run(std::string_view bytes, std::span<const uint32_t> sizes) {
  own();
  auto end = static_cast<uint32_t>(data_.size());
  data_.append(bytes);
  grow_ends(sizes.size());
  for (uint32_t n : sizes) ends_.push_back(end += n);
  if (!times_.empty()) times_.resize(ends_.size(), 0);
}

void RecordBatch::append(const RecordBatch& other) {
  own();
  uint32_t base = static_cast<uint32_t>(data_.size());
  data_.append(other.data());
  grow_ends(other.ends_.size());
  for (uint32_t e : other.ends_) ends_.push_back(base + e);
  copy_times(other, 0, other.size());
}

void RecordBatch::append_range(const RecordBatch& other, size_t from, size_t n) {
  if (from >= other.size()) return;
  n = std::min(n, other.size() - from);
  if (n == 0) return;
  own();
  const uint32_t begin = from == 0 ? 0 : other.ends_[from - 1];
  const uint32_t base = static_cast<uint32_t>(data_.size());
  data_.append(other.data().substr(begin, other.ends_[from + n - 1] - begin));
  grow_ends(n);
  for (size_t i = from; i < from + n; ++i) ends_.push_back(base + (other.ends_[i] - begin));
  copy_times(other, from, n);
}

void RecordBatch::reserve(size_t records, size_t bytes) {
  own();
  ends_.reserve(records);
  data_.reserve(bytes);
  advise_huge_pages(data_.data(), data_.capacity());
}

void RecordBatch::clear() {
  owner_.reset();
  view_ = {};
  data_.clear();
  ends_.clear();
  times_.clear();
}

void RecordBatch::drop_front(size_t n) {
  if (n >= ends_.size()) return clear();
  if (n == 0) return;
  own();
  uint32_t cut = ends_[n - 1];
  data_.erase(0, cut);
  ends_.erase(ends_.begin(), ends_.begin() + static_cast<std::ptrdiff_t>(n));
  for (uint32_t& e : ends_) e -= cut;
  if (!times_.empty()) times_.erase(times_.begin(), times_.begin() + static_cast<std::ptrdiff_t>(n));
}

std::string_view RecordBatch::encoded(size_t i) const {
  uint32_t begin = i == 0 ? 0 : ends_[i - 1];
  return data().substr(begin, ends_[i] - begin);
}

Result<std::vector<Record>> RecordBatch::decode_all() const {
  std::vector<Record> out;
  out.reserve(size());
  for (size_t i = 0; i < size(); ++i) {
    ASSIGN_OR_RETURN(Record r, decode(i));
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace persisting
