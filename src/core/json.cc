// JSON <-> Value, with the policy documented in persisting/json.h and docs/records.md.
// Fast path: simdjson's DOM parser (one per thread). When it fails, nlohmann::json re-parses the
// text only to find the byte position, line and column of the error for the message.
#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <set>
#include <vector>
#include <nlohmann/json.hpp>

#include "core/status_macros.h"
#include "persisting/codec.h"
#include "persisting/json.h"

#include "core/base64.h"

namespace persisting {
namespace {

simdjson::dom::parser& thread_parser() {
  // simdjson's depth check fails at max_depth open non-empty containers: kMaxNestingDepth + 1
  // lets exactly kMaxNestingDepth levels through; convert() checks the empty-container case.
  thread_local simdjson::dom::parser parser = [] {
    simdjson::dom::parser p;
    auto err = p.allocate(64 * 1024, kMaxNestingDepth + 1);
    (void)err;  // allocation failure resurfaces as an error from parse()
    return p;
  }();
  return parser;
}

// Formats "at byte N (line L, column C)" for a byte offset into text.
std::string at_byte(std::string_view text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return "at byte " + std::to_string(byte) + " (line " + std::to_string(line) + ", column " +
         std::to_string(col) + ")";
}

// The byte offset of the first syntax error in text, if nlohmann::json finds one.
std::optional<size_t> syntax_error_offset(std::string_view text) {
  try {
    auto ignored = nlohmann::json::parse(text.begin(), text.end());
    (void)ignored;
  } catch (const nlohmann::json::parse_error& e) {
    return e.byte > 0 ? e.byte - 1 : 0;
  } catch (...) {
  }
  return std::nullopt;
}

// Moves i (at an opening quote) to the closing quote of that JSON string.
void skip_string(std::string_view text, size_t& i) {
  for (++i; i < text.size() && text[i] != '"'; ++i)
    if (text[i] == '\\') ++i;
}

// Scans text (syntactically valid JSON) for the first number a Value cannot hold: an integer
// outside int64 or a number outside the double range. Returns the message, or "" if none.
std::string describe_bad_number(std::string_view text) {
  constexpr std::string_view kNumberChars = "+-0123456789.eE";
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '"') {
      skip_string(text, i);
      continue;
    }
    if (c != '-' && (c < '0' || c > '9')) continue;
    size_t start = i;
    while (i < text.size() && kNumberChars.find(text[i]) != std::string_view::npos) ++i;
    std::string num(text.substr(start, i - start));
    --i;
    if (num.find_first_of(".eE") == std::string::npos) {
      int64_t v;
      auto r = std::from_chars(num.data(), num.data() + num.size(), v);
      if (r.ec == std::errc::result_out_of_range)
        return "JSON integer " + num + " " + at_byte(text, start) +
               " is outside the int64 range; quote it as a string to keep it exactly";
    } else if (std::isinf(std::strtod(num.c_str(), nullptr))) {
      return "JSON number " + num + " " + at_byte(text, start) + " is outside the double range";
    }
  }
  return "";
}

// The byte offset of the first key that repeats an earlier key of the same object in
// syntactically valid JSON text, if that key is written as `key` (keys are compared as written, so
// "a" and "\u0061" differ here: then there is no offset rather than a wrong one).
std::optional<size_t> duplicate_key_offset(std::string_view text, std::string_view key) {
  std::vector<std::set<std::string_view>> scopes;  // one per open object or array
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' || c == '[') {
      scopes.emplace_back();
    } else if (c == '}' || c == ']') {
      if (!scopes.empty()) scopes.pop_back();
    } else if (c == '"') {
      size_t start = i;
      skip_string(text, i);
      size_t next = text.find_first_not_of(" \t\r\n", i + 1);
      bool is_key = next != std::string_view::npos && text[next] == ':';
      std::string_view token = text.substr(start, i + 1 - start);
      if (is_key && !scopes.empty() && !scopes.back().insert(token).second) {
        if (token.size() >= 2 && token.substr(1, token.size() - 2) == key) return start;
        return std::nullopt;
      }
    }
  }
  return std::nullopt;
}


Status too_deep() {
  return InvalidArgument("JSON nesting deeper than " + std::to_string(kMaxNestingDepth) + " levels");
}

// depth is the nesting level el would have as a container (the root is level 1). simdjson does
// not count an empty innermost [] or {} against its max_depth, so the limit is enforced here too:
// JSON must accept exactly what the binary codec decodes.
Result<Value> convert(simdjson::dom::element el, std::string_view text, int depth) {
  using simdjson::dom::element_type;
  switch (el.type()) {
    case element_type::NULL_VALUE: return Value();
    case element_type::BOOL: return Value(bool(el.get_bool().value_unsafe()));
    case element_type::INT64: return Value(int64_t(el.get_int64().value_unsafe()));
    case element_type::UINT64: {
      std::string message = describe_bad_number(text);
      if (message.empty())
        message = "JSON integer " + std::to_string(el.get_uint64().value_unsafe()) +
                  " is outside the int64 range; quote it as a string to keep it exactly";
      return InvalidArgument(std::move(message));
    }
    case element_type::DOUBLE: return Value(double(el.get_double().value_unsafe()));
    case element_type::STRING: return Value(std::string(el.get_string().value_unsafe()));
    case element_type::ARRAY: {
      if (depth > kMaxNestingDepth) return too_deep();
      simdjson::dom::array arr = el.get_array().value_unsafe();
      List l;
      l.reserve(arr.size());
      for (simdjson::dom::element e : arr) {
        ASSIGN_OR_RETURN(Value v, convert(e, text, depth + 1));
        l.push_back(std::move(v));
      }
      return Value(std::move(l));
    }
    case element_type::OBJECT: {
      if (depth > kMaxNestingDepth) return too_deep();
      simdjson::dom::object obj = el.get_object().value_unsafe();
      Object o;
      o.reserve(obj.size());
      for (simdjson::dom::key_value_pair kv : obj) {
        if (o.find(kv.key) != nullptr) {
          std::string message = "duplicate JSON key \"" + std::string(kv.key) + "\"";
          if (auto at = duplicate_key_offset(text, kv.key)) message += " " + at_byte(text, *at);
          return InvalidArgument(std::move(message));
        }
        ASSIGN_OR_RETURN(Value v, convert(kv.value, text, depth + 1));
        o.append_unchecked(std::string(kv.key), std::move(v));
      }
      // {"$binary": "<base64>"} is bytes.
      if (o.size() == 1 && o.begin()->first == "$binary" && o.begin()->second.is_string()) {
        ASSIGN_OR_RETURN(std::string raw, decode_base64(o.begin()->second.as_string()));
        return Value(Bytes{std::move(raw)});
      }
      return Value(std::move(o));
    }
  }
  return Internal("unknown simdjson element type");
}

constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

}  // namespace

void encode_base64(std::string_view in, std::string* out) {
  size_t i = 0;
  auto u = [&](size_t k) { return static_cast<uint8_t>(in[k]); };
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t n = (u(i) << 16) | (u(i + 1) << 8) | u(i + 2);
    out->push_back(kB64[(n >> 18) & 63]);
    out->push_back(kB64[(n >> 12) & 63]);
    out->push_back(kB64[(n >> 6) & 63]);
    out->push_back(kB64[n & 63]);
  }
  size_t rest = in.size() - i;
  if (rest == 1) {
    uint32_t n = u(i) << 16;
    out->push_back(kB64[(n >> 18) & 63]);
    out->push_back(kB64[(n >> 12) & 63]);
    out->append("==");
  } else if (rest == 2) {
    uint32_t n = (u(i) << 16) | (u(i + 1) << 8);
    out->push_back(kB64[(n >> 18) & 63]);
    out->push_back(kB64[(n >> 12) & 63]);
    out->push_back(kB64[(n >> 6) & 63]);
    out->push_back('=');
  }
}

Result<std::string> decode_base64(std::string_view in) {
  if (in.size() % 4 != 0) return InvalidArgument("$binary: base64 length is not a multiple of 4");
  std::string out;
  out.reserve(in.size() / 4 * 3);
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  for (size_t i = 0; i < in.size(); i += 4) {
    int a = val(in[i]), b = val(in[i + 1]);
    int c = in[i + 2] == '=' ? -2 : val(in[i + 2]);
    int d = in[i + 3] == '=' ? -2 : val(in[i + 3]);
    bool last = i + 4 == in.size();
    if (a < 0 || b < 0 || c == -1 || d == -1 || (!last && (c < 0 || d < 0)) || (c == -2 && d != -2))
      return InvalidArgument("$binary: invalid base64 at character " + std::to_string(i));
    uint32_t n = (uint32_t(a) << 18) | (uint32_t(b) << 12) | (uint32_t(c < 0 ? 0 : c) << 6) |
                 uint32_t(d < 0 ? 0 : d);
    out.push_back(static_cast<char>(n >> 16));
    if (c >= 0) out.push_back(static_cast<char>((n >> 8) & 0xff));
    if (d >= 0) out.push_back(static_cast<char>(n & 0xff));
  }
  return out;
}

namespace {

void write_string(std::string_view s, std::string* out) {
  out->push_back('"');
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(s.data() + start, i - start);
    start = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default: {
        char buf[8];
        std::snprintf(buf, sizeof buf, "\\u%04x", c);
        out->append(buf);
      }
    }
  }
  out->append(s.data() + start, s.size() - start);
  out->push_back('"');
}

void write_double(double d, std::string* out) {
  if (!std::isfinite(d)) {
    out->append("null");
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  out->append(s);
  // Keep doubles distinguishable from integers on the way back in: 1.0 stays "1.0".
  if (s.find_first_of(".eEn") == std::string_view::npos) out->append(".0");
}

}  // namespace

void write_object(const Object& o, std::string* out);

Result<Value> parse_json(std::string_view text) {
  simdjson::dom::element root;
  auto err = thread_parser().parse(text.data(), text.size()).get(root);
  if (err) {
    switch (err) {
      case simdjson::DEPTH_ERROR:
        return too_deep();
      case simdjson::EMPTY:
        return InvalidArgument("empty JSON input");
      default: {
        std::optional<size_t> at = syntax_error_offset(text);
        if (!at) {
          // nlohmann accepts what simdjson refused: a number a Value cannot hold.
          std::string message = describe_bad_number(text);
          if (!message.empty()) return InvalidArgument(std::move(message));
          return InvalidArgument(std::string("invalid JSON: ") + simdjson::error_message(err));
        }
        std::string_view rest = text.substr(std::min(*at, text.size()));
        for (std::string_view tok : {"NaN", "Infinity"}) {
          if (rest.substr(0, tok.size()) == tok)
            return InvalidArgument("invalid JSON " + at_byte(text, *at) +
                                   ": NaN and Infinity are not JSON");
        }
        return InvalidArgument("invalid JSON " + at_byte(text, *at) + ": " +
                               simdjson::error_message(err));
      }
    }
  }
  return convert(root, text, 1);
}

Result<Record> parse_json_record(std::string_view text) {
  ASSIGN_OR_RETURN(Value v, parse_json(text));
  if (!v.is_object())
    return InvalidArgument(std::string("a record must be a JSON object, got ") +
                           std::string(type_name(v.type())));
  return std::move(v.as_object());
}

void to_json(const Value& v, std::string* out) {
  switch (v.type()) {
    case Value::Type::kNull: out->append("null"); break;
    case Value::Type::kBool: out->append(v.as_bool() ? "true" : "false"); break;
    case Value::Type::kInt: {
      char buf[24];
      auto r = std::to_chars(buf, buf + sizeof buf, v.as_int());
      out->append(buf, static_cast<size_t>(r.ptr - buf));
      break;
    }
    case Value::Type::kDouble: write_double(v.as_double(), out); break;
    case Value::Type::kString: write_string(v.as_string(), out); break;
    case Value::Type::kBytes:
      out->append("{\"$binary\":\"");
      encode_base64(v.as_bytes().data, out);
      out->append("\"}");
      break;
    case Value::Type::kVector: {
      out->push_back('[');
      bool first = true;
      for (float f : v.as_vector()) {
        if (!first) out->push_back(',');
        first = false;
        if (!std::isfinite(f)) {
          out->append("null");
          continue;
        }
        char buf[32];
        auto r = std::to_chars(buf, buf + sizeof buf, f);
        out->append(buf, static_cast<size_t>(r.ptr - buf));
      }
      out->push_back(']');
      break;
    }
    case Value::Type::kList: {
      out->push_back('[');
      bool first = true;
      for (const auto& e : v.as_list()) {
        if (!first) out->push_back(',');
        first = false;
        to_json(e, out);
      }
      out->push_back(']');
      break;
    }
    case Value::Type::kObject: write_object(v.as_object(), out); break;
  }
}

void write_object(const Object& o, std::string* out) {
  out->push_back('{');
  bool first = true;
  for (const auto& [k, e] : o) {
    if (!first) out->push_back(',');
    first = false;
    write_string(k, out);
    out->push_back(':');
    to_json(e, out);
  }
  out->push_back('}');
}

std::string to_json(const Value& v) {
  std::string out;
  to_json(v, &out);
  return out;
}

std::string to_json(const Record& r) {
  std::string out;
  write_object(r, &out);
  return out;
}

}  // namespace persisting
