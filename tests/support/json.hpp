// A small JSON reader for tests that check a document's structure (RFC 8259: objects, arrays, strings, numbers, true,
// false, null), e.g. a Chrome trace. \uXXXX escapes throw: gpuhours writes them only for control characters, which
// the documents read here do not hold. Malformed input throws std::runtime_error with the byte offset.
#pragma once

#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace gpuhours::test {

struct JsonValue {
    using Array = std::vector<JsonValue>;
    using Object = std::map<std::string, JsonValue>;
    std::variant<std::nullptr_t, bool, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v;

    [[nodiscard]] bool is_object() const { return std::holds_alternative<std::shared_ptr<Object>>(v); }
    [[nodiscard]] const Object& object() const { return *std::get<std::shared_ptr<Object>>(v); }
    [[nodiscard]] const Array& array() const { return *std::get<std::shared_ptr<Array>>(v); }
    [[nodiscard]] double number() const { return std::get<double>(v); }
    [[nodiscard]] const std::string& string() const { return std::get<std::string>(v); }
    [[nodiscard]] const JsonValue& operator[](const std::string& key) const { return object().at(key); }
    [[nodiscard]] bool has(const std::string& key) const { return is_object() && object().count(key) > 0; }
};

class JsonReader {
public:
    explicit JsonReader(std::string_view text) : s_(text) {}

    JsonValue document() {
        JsonValue value = read();
        skip_space();
        if (at_ != s_.size()) fail("text after the document");
        return value;
    }

private:
    std::string_view s_;
    std::size_t at_ = 0;

    [[noreturn]] void fail(const std::string& what) const {
        throw std::runtime_error("JSON: " + what + " at byte " + std::to_string(at_));
    }
    void skip_space() {
        while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\n' || s_[at_] == '\r' || s_[at_] == '\t')) ++at_;
    }
    void expect(char c) {
        skip_space();
        if (at_ >= s_.size() || s_[at_] != c) fail(std::string("expected '") + c + "'");
        ++at_;
    }
    bool next_is(char c) {
        skip_space();
        return at_ < s_.size() && s_[at_] == c;
    }
    bool literal(std::string_view word) {
        if (s_.substr(at_, word.size()) != word) return false;
        at_ += word.size();
        return true;
    }

    JsonValue read() {
        skip_space();
        if (at_ >= s_.size()) fail("unexpected end");
        const char c = s_[at_];
        if (c == '{') return read_object();
        if (c == '[') return read_array();
        if (c == '"') return JsonValue{read_string()};
        if (literal("true")) return JsonValue{true};
        if (literal("false")) return JsonValue{false};
        if (literal("null")) return JsonValue{nullptr};
        const std::string rest(s_.substr(at_, 64));
        char* end = nullptr;
        const double d = std::strtod(rest.c_str(), &end);
        if (end == rest.c_str()) fail("expected a value");
        at_ += static_cast<std::size_t>(end - rest.c_str());
        return JsonValue{d};
    }

    JsonValue read_object() {
        expect('{');
        auto object = std::make_shared<JsonValue::Object>();
        if (!next_is('}')) {
            for (;;) {
                skip_space();
                std::string key = read_string();
                expect(':');
                (*object)[key] = read();
                if (!next_is(',')) break;
                ++at_;
            }
        }
        expect('}');
        return JsonValue{object};
    }

    JsonValue read_array() {
        expect('[');
        auto array = std::make_shared<JsonValue::Array>();
        if (!next_is(']')) {
            for (;;) {
                array->push_back(read());
                if (!next_is(',')) break;
                ++at_;
            }
        }
        expect(']');
        return JsonValue{array};
    }

    std::string read_string() {
        if (at_ >= s_.size() || s_[at_] != '"') fail("expected a string");
        ++at_;
        std::string out;
        while (at_ < s_.size() && s_[at_] != '"') {
            char c = s_[at_++];
            if (c != '\\') {
                out += c;
                continue;
            }
            if (at_ >= s_.size()) fail("unfinished escape");
            c = s_[at_++];
            switch (c) {
                case 'n': out += '\n'; break;
                case 't': out += '\t'; break;
                case 'r': out += '\r'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'u': fail("\\u escapes are not supported (gpuhours writes them only for control characters)");
                default: out += c;  // \" \\ \/
            }
        }
        if (at_ >= s_.size()) fail("unfinished string");
        ++at_;
        return out;
    }
};

inline JsonValue parse_json(std::string_view text) { return JsonReader(text).document(); }

}  // namespace gpuhours::test
