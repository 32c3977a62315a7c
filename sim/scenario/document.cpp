#include "document.hpp"

#include <gpuhours/scenario/limits.hpp>
#include <gpuhours/units/input_files.hpp>

#include <fmt/format.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace gpuhours::detail {
namespace {

SourceRef to_ref(const toml::source_region& region, const std::string& fallback_path) {
    SourceRef ref;
    ref.file = region.path ? *region.path : fallback_path;
    ref.line = static_cast<int>(region.begin.line);
    ref.column = static_cast<int>(region.begin.column);
    return ref;
}

[[noreturn]] void too_deep(const SourceRef& where) {
    throw ScenarioError(where,
                        fmt::format("tables nested beyond the supported range (limit {} levels)", limits::kNestingDepth),
                        "flatten the keys: gpuhours reads at most a few levels ([cluster.chip.efficiency])");
}

// The part of `text` before its first control character (so that a message never prints one).
std::string printable_prefix(std::string_view text) {
    std::size_t n = 0;
    while (n < text.size() && static_cast<unsigned char>(text[n]) >= 0x20 && text[n] != 0x7f && static_cast<unsigned char>(text[n]) != 0xc2) ++n;
    return std::string(text.substr(0, n)) + (n < text.size() ? "…" : "");
}

// Text is printed to terminals and into the HTML report: a C0 control character other than a tab or a line break
// (an ESC starting a terminal sequence, a NUL), DEL, or a C1 control (U+0080–U+009F: the 8-bit CSI) in a key or a
// string (`what`, for the message) is refused at its position, not passed through.
void require_printable(std::string_view text, const SourceRef& where, std::string_view what) {
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto u = static_cast<unsigned char>(text[i]);
        unsigned code = 0x20;
        if ((u < 0x20 && u != '\t' && u != '\n' && u != '\r') || u == 0x7f) code = u;
        else if (u == 0xc2 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                 static_cast<unsigned char>(text[i + 1]) <= 0x9f) {
            code = static_cast<unsigned char>(text[i + 1]);
        }
        if (code != 0x20) {
            throw ScenarioError(where, fmt::format("{} contains the control character U+{:04X}", what, code),
                                "remove it: text may hold tabs and line breaks, not terminal or NUL characters");
        }
    }
}

// `depth`: the tables and arrays around `source` (0 for the document). The walk is recursive, so the depth is
// bounded before the stack is. `name`: what a string value is called in a message (its key, else "a string").
Node convert(const toml::node& source, const std::string& path, int depth, std::string_view name = "a string") {
    Node out;
    out.where = to_ref(source.source(), path);
    if (depth > limits::kNestingDepth) too_deep(out.where);
    switch (source.type()) {
        case toml::node_type::table: {
            out.kind = Node::Kind::table;
            for (auto&& [key, value] : *source.as_table()) {
                require_printable(key.str(), to_ref(key.source(), path), fmt::format("the key \"{}\"", printable_prefix(key.str())));
                out.fields.emplace_back(std::string(key.str()), convert(value, path, depth + 1, fmt::format("`{}`", key.str())));
                out.key_sources.push_back(to_ref(key.source(), path));
            }
            break;
        }
        case toml::node_type::array:
            out.kind = Node::Kind::array;
            for (const auto& element : *source.as_array()) out.items.push_back(convert(element, path, depth + 1));
            break;
        case toml::node_type::string:
            out.kind = Node::Kind::string;
            out.text = source.as_string()->get();
            require_printable(out.text, out.where, name);
            break;
        case toml::node_type::integer:
            out.kind = Node::Kind::integer;
            out.integer = source.as_integer()->get();
            break;
        case toml::node_type::floating_point:
            out.kind = Node::Kind::floating;
            out.floating = source.as_floating_point()->get();
            break;
        case toml::node_type::boolean:
            out.kind = Node::Kind::boolean;
            out.boolean = source.as_boolean()->get();
            break;
        default: {
            out.kind = Node::Kind::other;
            out.text = "a date/time";  // gpuhours keys never take TOML dates
            break;
        }
    }
    return out;
}

std::string describe(const Node& node) {
    if (node.from_range) return "an uncertain range (its draws are real numbers: only real-valued figures and quantities take one)";
    switch (node.kind) {
        case Node::Kind::string: return fmt::format("the string \"{}\"", node.text);
        case Node::Kind::integer: return fmt::format("the integer {}", node.integer);
        case Node::Kind::floating:  // as TOML writes it: 1920.0 is a float, shown with its point
            return std::isfinite(node.floating) && node.floating == std::trunc(node.floating) && std::abs(node.floating) < 1e15
                       ? fmt::format("the float {:.1f}", node.floating)
                       : fmt::format("the number {}", node.floating);
        case Node::Kind::boolean: return node.boolean ? "true" : "false";
        case Node::Kind::array: return "an array";
        case Node::Kind::table: return "a table";
        case Node::Kind::other: return fmt::format("the value {}", node.text);
    }
    return "a value";
}

// toml++ builds the tree of a dotted key a.b.c… iteratively but frees it recursively, so a key thousands of levels
// deep would overflow the stack before convert() could refuse it. Every dotted key, table header and inline table
// sits on one line (TOML 1.0), so dots per line, outside strings and comments, bound the depth of the parsed tree:
// more than this many on one line is refused before parsing.
constexpr int kMaxDotsPerLine = 16 * limits::kNestingDepth;

// The first line with more than kMaxDotsPerLine dots outside strings and comments, if any. A decimal point — a dot
// between two digits where a value is written (after `=`, or in an array) — is not a key's dot: a line of a thousand
// numbers is no deep key. Key positions: before `=` on a line, after `{` or a comma inside an inline table.
std::optional<int> line_with_too_many_dots(std::string_view text) {
    enum class In { code, basic, literal, multi_basic, multi_literal, comment } in = In::code;
    int line = 1;
    int dots = 0;
    bool value = false;        // at a value's position, not a key's
    std::string brackets;      // the open `[` and `{` of the values being written (arrays span lines)
    auto digit = [&](std::size_t k) { return k < text.size() && text[k] >= '0' && text[k] <= '9'; };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        const bool triple = (c == '"' || c == '\'') && text.substr(i, 3) == std::string(3, c);
        if (c == '\n') {
            ++line;
            dots = 0;
            if (in == In::comment || in == In::basic || in == In::literal) in = In::code;
            if (brackets.empty()) value = false;
            continue;
        }
        switch (in) {
            case In::code:
                if (c == '#') in = In::comment;
                else if (c == '"') in = triple ? (i += 2, In::multi_basic) : In::basic;
                else if (c == '\'') in = triple ? (i += 2, In::multi_literal) : In::literal;
                else if (c == '=') value = true;
                else if (value && (c == '[' || c == '{')) {
                    brackets.push_back(c);
                    value = c == '[';
                } else if (value && c == ']' && !brackets.empty()) brackets.pop_back();
                else if (c == '}' && !brackets.empty()) {
                    brackets.pop_back();
                    value = true;
                } else if (c == ',' && !brackets.empty()) value = brackets.back() == '[';
                else if (c == '.' && !(value && i > 0 && digit(i - 1) && digit(i + 1)) && ++dots > kMaxDotsPerLine) return line;
                break;
            case In::basic:
                if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') ++i;
                else if (c == '"') in = In::code;
                break;
            case In::literal:
                if (c == '\'') in = In::code;
                break;
            case In::multi_basic:
                if (c == '\\' && i + 1 < text.size() && text[i + 1] != '\n') ++i;
                else if (c == '"' && triple) in = (i += 2, In::code);
                break;
            case In::multi_literal:
                if (c == '\'' && triple) in = (i += 2, In::code);
                break;
            case In::comment: break;
        }
    }
    return std::nullopt;
}

[[noreturn]] void too_many_dots(const SourceRef& where) {
    throw ScenarioError(where,
                        fmt::format("more than {} dots on one line: keys nested beyond the supported range (limit {} "
                                    "levels)", kMaxDotsPerLine, limits::kNestingDepth),
                        "flatten the keys: gpuhours reads at most a few levels ([cluster.chip.efficiency])");
}

[[noreturn]] void type_error(const Node& node, std::string_view key_path, std::string_view expected,
                             std::shared_ptr<const Node> placeholder = nullptr) {
    // A table a --set made of a file's string (`--set training.tokens.x=5`: { from = "1T", x = 5 }) is the --set's
    // mistake: located at its field (an auditor's read: it was located at the file's line).
    SourceRef at = node.where;
    if (node.kind == Node::Kind::table && !at.file.starts_with("--set")) {
        for (const auto& [k, v] : node.fields) {
            if (v.where.file.starts_with("--set")) {
                at = v.where;
                break;
            }
        }
    }
    throw KeyError(at, node.where, false, fmt::format("`{}` must be {}, not {}", key_path, expected, describe(node)),
                   fmt::format("write {} there (docs/scenario-language.md gives each key's type)", expected), std::move(placeholder));
}

}  // namespace

std::shared_ptr<const Node> stand_in(const SourceRef& where, Node::Kind kind, std::int64_t integer, double floating,
                                     std::string text) {
    auto n = std::make_shared<Node>();
    n->kind = kind;
    n->integer = integer;
    n->floating = floating;
    n->text = std::move(text);
    n->where = where;
    return n;
}

std::string_view kind_name(Node::Kind kind) {
    switch (kind) {
        case Node::Kind::string: return "string";
        case Node::Kind::integer: return "integer";
        case Node::Kind::floating: return "number";
        case Node::Kind::boolean: return "boolean";
        case Node::Kind::array: return "array";
        case Node::Kind::table: return "table";
        case Node::Kind::other: return "date/time";
    }
    return "value";
}

Node* Node::find(std::string_view key) {
    for (auto& [k, v] : fields) {
        if (k == key) return &v;
    }
    return nullptr;
}

const Node* Node::find(std::string_view key) const {
    for (const auto& [k, v] : fields) {
        if (k == key) return &v;
    }
    return nullptr;
}

Node& Node::set(const std::string& key, Node value, SourceRef key_source) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].first == key) {
            fields[i].second = std::move(value);
            key_sources[i] = std::move(key_source);
            return fields[i].second;
        }
    }
    fields.emplace_back(key, std::move(value));
    key_sources.push_back(std::move(key_source));
    return fields.back().second;
}

void Node::erase(std::string_view key) {
    for (std::size_t i = 0; i < fields.size(); ++i) {
        if (fields[i].first == key) {
            fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(i));
            key_sources.erase(key_sources.begin() + static_cast<std::ptrdiff_t>(i));
            return;
        }
    }
}

Node parse_document(std::string_view text, const std::string& path) {
    if (const auto line = line_with_too_many_dots(text)) too_many_dots(SourceRef{path, *line, 1});
    try {
        const toml::table table = toml::parse(text, path);
        Node root = convert(table, path, 0);
        root.where = SourceRef{path, 1, 1};
        return root;
    } catch (const toml::parse_error& e) {
        SourceRef at = to_ref(e.source(), path);
        // toml++ places some errors one past the line's end (an integer too large for 64 bits: `gpus =
        // 99999999999999999999` at column 28 of a 27-character line, an auditor's read): such a position is moved to
        // the value, the first character after `=` that is not a blank, on that line.
        std::size_t begin = 0;
        for (int l = 1; l < at.line && begin != std::string_view::npos; ++l) {
            begin = text.find('\n', begin);
            if (begin != std::string_view::npos) ++begin;
        }
        if (begin != std::string_view::npos && at.line > 0) {
            std::string_view line = text.substr(begin, text.find('\n', begin) - begin);
            if (!line.empty() && line.back() == '\r') line.remove_suffix(1);  // a CRLF file's line ends before its \r
            const std::size_t eq = line.find('=');
            if (at.column > static_cast<int>(line.size()) && eq != std::string_view::npos) {
                const std::size_t value = line.find_first_not_of(" \t", eq + 1);
                at.column = static_cast<int>(value == std::string_view::npos ? line.size() : value + 1);
            }
        }
        throw ScenarioError(at, fmt::format("invalid TOML: {}", e.description()),
                            "fix the syntax at this position (TOML 1.0: key = value, [table], [[array of tables]])");
    }
}

std::string read_input_file(const std::string& path, const SourceRef& referenced_from) {
    const SourceRef at = referenced_from.known() ? referenced_from : SourceRef{path, 0, 0};
    // O_NONBLOCK: opening a FIFO does not wait for a writer; fstat then refuses anything but a regular file.
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR) {
            throw ScenarioError(referenced_from, fmt::format("cannot open \"{}\"", path),
                                referenced_from.known() ? "check the path (relative paths are resolved against the directory of "
                                                          "the file that names them)"
                                                        : "check the path (a relative path is resolved against the current "
                                                          "directory)");
        }
        throw ScenarioError(at, fmt::format("cannot open \"{}\": {}", path, std::strerror(err)),
                            err == ENAMETOOLONG ? "use a shorter path" : "check the path and its permissions");
    }
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        throw ScenarioError(at,
                            fmt::format("\"{}\" is {}, not a regular file", path,
                                        S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket"),
                            "name a scenario or catalog file (.toml)");
    }
    const auto too_large = [&] {
        return ScenarioError(at,
                             fmt::format("\"{}\" is beyond the supported range of input file sizes (limit {} bytes)",
                                         path, limits::kInputFileBytes),
                             "a scenario or catalog file is a few KB; check that this is the file you meant");
    };
    if (st.st_size > limits::kInputFileBytes) throw too_large();
    note_input_file(st.st_dev, st.st_ino);  // no output option may overwrite it (units/input_files.hpp)
    std::string text(static_cast<std::size_t>(st.st_size), '\0');
    std::size_t got = 0;
    while (true) {  // to the end of the file, which may have grown since fstat (never past the limit)
        if (got == text.size()) {
            if (text.size() >= static_cast<std::size_t>(limits::kInputFileBytes)) {
                char extra = 0;
                if (::read(fd, &extra, 1) > 0) throw too_large();
                break;
            }
            text.resize(std::min<std::size_t>(text.size() + 4096, static_cast<std::size_t>(limits::kInputFileBytes)));
        }
        const ssize_t n = ::read(fd, text.data() + got, text.size() - got);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw ScenarioError(at, fmt::format("cannot read \"{}\": {}", path, std::strerror(errno)));
        if (n == 0) break;
        got += static_cast<std::size_t>(n);
    }
    text.resize(got);
    return text;
}

Node parse_document_file(const std::string& path, const SourceRef& referenced_from) {
    // Parsed documents kept by path with the text they were parsed from: loading a scenario reads its chip, model and
    // reliability entries once per layer and pass (`gpuhours check` on the flagship opened h800.toml 21 times, each
    // parsed again: about 12 ms a load, the loader's fuzz test 2 minutes). The file is read every time and its parse
    // reused only when the text is the same byte for byte, so a file changed between two loads is parsed again, and
    // a parse is a pure function of (text, path): the same Node either way.
    struct Parsed {
        std::string text;
        Node root;
    };
    static std::mutex guard;
    static std::unordered_map<std::string, Parsed> parsed;
    std::string text = read_input_file(path, referenced_from);
    {
        const std::lock_guard<std::mutex> lock(guard);
        if (const auto it = parsed.find(path); it != parsed.end() && it->second.text == text) return it->second.root;
    }
    Node root = parse_document(text, path);
    const std::lock_guard<std::mutex> lock(guard);
    if (parsed.size() >= 256) parsed.clear();  // a bound for long processes over many files (sweeps, tests)
    parsed.insert_or_assign(path, Parsed{std::move(text), root});
    return root;
}

namespace {
// The keys that bound a range (docs/scenario-language.md, "Ranges: uncertain inputs").
const std::vector<std::string>& range_bounds() {
    static const std::vector<std::string> bounds = {"low", "mode", "high", "mean", "sd"};
    return bounds;
}
}  // namespace

bool is_distribution(const Node& n) {
    if (n.kind != Node::Kind::table || n.fields.empty()) return false;
    const std::vector<std::string>& kBounds = range_bounds();
    int bounds = 0;
    for (const auto& [k, v] : n.fields) {
        if (k == "dist") return true;
        if (std::find(kBounds.begin(), kBounds.end(), k) != kBounds.end()) ++bounds;
    }
    if (bounds != 1) return bounds >= 2;
    // One bound: a range still when another key is a bound's misspelling (`hgih`), which the reader then names.
    return std::any_of(n.fields.begin(), n.fields.end(), [&](const auto& f) {
        return f.first != "value" && f.first != "source" && std::find(kBounds.begin(), kBounds.end(), f.first) == kBounds.end() &&
               suggest(f.first, kBounds);
    });
}

bool is_lookup_table(const Node& n) {
    if (n.kind != Node::Kind::table) return false;
    const Node* sequence = n.find("sequence");
    return sequence != nullptr && sequence->kind == Node::Kind::array;
}

void merge_into(Node& base, Node overlay) {
    if (base.kind != Node::Kind::table || overlay.kind != Node::Kind::table || is_distribution(overlay) || is_distribution(base) ||
        is_lookup_table(overlay) || is_lookup_table(base)) {
        base = std::move(overlay);
        return;
    }
    // A table both layers write is located at the later layer's header: a mistake about the table as a whole (a key
    // it lacks) is the later file's to fix.
    if (overlay.where.line > 0) base.where = overlay.where;
    for (std::size_t i = 0; i < overlay.fields.size(); ++i) {
        auto& [key, value] = overlay.fields[i];
        if (Node* existing = base.find(key)) {
            merge_into(*existing, std::move(value));
        } else {
            base.set(key, std::move(value), overlay.key_sources[i]);
        }
    }
}

namespace {
// Two scalars of one kind with one value (a string, integer, floating or boolean; never a list or a table).
bool same_scalar(const Node& a, const Node& b) {
    if (a.kind != b.kind || a.from_range) return false;
    switch (a.kind) {
        case Node::Kind::string: return a.text == b.text;
        case Node::Kind::integer: return a.integer == b.integer;
        case Node::Kind::floating: return a.floating == b.floating;
        case Node::Kind::boolean: return a.boolean == b.boolean;
        default: return false;
    }
}
}  // namespace

namespace {

// A catalog name (`model = "llama-3.1-8b"`) as the table { from = name } that a field-wise --set extends. A name a
// --set wrote in place of the file's table (`--set reliability='"none"'`) hands what it replaced to the table it
// becomes: taken out by the search for every mistake, the file's table comes back whole, not as the value of
// `from` (which read "`reliability.from` must be a string, not a table", session 51's audit).
void extend_name(Node& name_node) {
    Node extended;
    extended.kind = Node::Kind::table;
    extended.where = name_node.where;
    Node name = name_node;
    extended.replaced = std::move(name.replaced);
    name.replaced.reset();
    extended.set("from", std::move(name), name_node.where);
    name_node = std::move(extended);
}

}  // namespace

void apply_override(Node& root, const std::string& assignment) {
    const std::string origin = "--set " + assignment;
    const std::size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
        throw ScenarioError(SourceRef{origin, 0, 0}, "an override must look like section.key=value",
                            "e.g. --set cluster.gpus=4096 or --set cluster.chip=h100");
    }
    const std::string path = assignment.substr(0, eq);
    const std::string value_text = assignment.substr(eq + 1);
    std::vector<std::string> keys;
    std::size_t start = 0;
    while (true) {
        const std::size_t dot = path.find('.', start);
        std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (part.empty()) {
            throw ScenarioError(SourceRef{origin, 0, 0}, fmt::format("empty key in \"{}\"", path),
                                "write dotted keys like cluster.gpus");
        }
        keys.push_back(std::move(part));
        if (keys.size() > static_cast<std::size_t>(limits::kNestingDepth)) {
            throw ScenarioError(SourceRef{origin, 0, 0},
                                fmt::format("the key is nested beyond the supported range (limit {} levels)",
                                            limits::kNestingDepth),
                                "write dotted keys like cluster.gpus");
        }
        if (dot == std::string::npos) break;
        start = dot + 1;
    }

    // `extends` and `unset` shape the file layers before any override applies (resolve_extends): as overrides they
    // would be read after that and dropped, silently.
    if (keys[0] == "extends" || keys[0] == "unset") {  // `extends.x`, `unset.0` too
        throw ScenarioError(SourceRef{origin, 0, 0}, fmt::format("`{}` cannot be given with --set: it is read from the scenario files before any override applies", keys[0]),
                            keys[0] == "extends" ? "write `extends = \"base.toml\"` at the top of a scenario file (a child file of the scenario) and run that file"
                                                 : "write `unset = [...]` in a child scenario file that extends this one, or --set the keys to the values wanted");
    }
    const SourceRef where{origin, 0, 0};
    Node value;
    if (line_with_too_many_dots(value_text)) too_many_dots(where);
    try {
        const toml::table parsed = toml::parse("v = " + value_text, origin);
        value = convert(*parsed.get("v"), origin, static_cast<int>(keys.size()));
    } catch (const toml::parse_error&) {
        value.kind = Node::Kind::string;
        value.text = value_text;
        require_printable(value.text, where, fmt::format("`{}`", printable_prefix(path)));  // convert checks the rest
    }
    // Positions inside a one-line override are not meaningful to the user; point at the flag itself.
    std::function<void(Node&)> relabel = [&](Node& n) {
        n.where = where;
        for (auto& item : n.items) relabel(item);
        for (auto& [k, v] : n.fields) relabel(v);
        for (auto& ks : n.key_sources) ks = where;
    };
    relabel(value);
    // A list's items get columns of their own (1, 2, …; not printed, as the line is 0) so that the search for every
    // mistake can take out or replace one item of `--set 'whatif.chips=["h800","h1000"]'` and not the first.
    for (std::size_t i = 0; i < value.items.size(); ++i) value.items[i].where.column = static_cast<int>(i) + 1;

    Node* table = &root;
    for (std::size_t i = 0; i + 1 < keys.size(); ++i) {
        // An array of tables is indexed by position from 0: phases.1.parallelism.data = the second [[phases]].
        if (table->kind == Node::Kind::array) {
            const std::string& k = keys[i];
            const bool digits = !k.empty() && std::all_of(k.begin(), k.end(), [](char c) { return c >= '0' && c <= '9'; });
            const std::size_t index = digits && k.size() < 9 ? std::stoul(k) : table->items.size();
            if (index >= table->items.size()) {
                throw ScenarioError(where, fmt::format("cannot set `{}`: `{}` is not an index of the {} entries of `{}`", path, k,
                                                       table->items.size(), keys[i - 1]),
                                    fmt::format("index arrays of tables from 0, e.g. {}.0.{}", keys[i - 1], keys.back()));
            }
            table = &table->items[index];
            continue;
        }
        Node* next = table->find(keys[i]);
        if (next != nullptr && next->kind == Node::Kind::array && i + 2 < keys.size()) {
            table = next;
            continue;
        }
        const std::string& following = keys[i + 1];
        if (next == nullptr && !following.empty() && std::all_of(following.begin(), following.end(), [](char c) { return c >= '0' && c <= '9'; })) {
            // An index into a list the document does not have (claims.0.text without [[claims]]).
            throw ScenarioError(where, fmt::format("cannot set `{}`: the scenario has no `{}` list to index", path, keys[i]),
                                fmt::format("write the [[{}]] table in the scenario file, or set the whole list: --set '{}=[{{…}}]'", keys[i], keys[i]));
        }
        if (next == nullptr) {
            Node fresh;
            fresh.kind = Node::Kind::table;
            fresh.where = where;
            next = &table->set(keys[i], std::move(fresh), where);
        } else if (next->kind != Node::Kind::table) {
            // A catalog name ("h800") overridden field-wise becomes a table that extends it (keeping the name's
            // position: rules that read the whole model or chip stay located where it was written; a key that takes
            // no table is refused at the --set that made one, type_error).
            if (next->kind == Node::Kind::string) {
                extend_name(*next);
            } else {
                throw ScenarioError(where,
                                    fmt::format("cannot set `{}`: `{}` is {}, not a table", path, keys[i],
                                                describe(*next)));
            }
        }
        table = next;
    }
    Node* target = table->find(keys.back());
    // An override that restates the value a file wrote changes nothing: the file's key keeps its position, so that a
    // rule that value breaks is located where it was written, not at a flag that did not move it.
    if (target != nullptr && same_scalar(*target, value)) return;
    if (target != nullptr && target->kind == Node::Kind::table && value.kind == Node::Kind::table) {
        merge_into(*target, std::move(value));
    } else {
        if (target != nullptr) value.replaced = std::make_shared<const Node>(*target);
        table->set(keys.back(), std::move(value), where);
    }
}

TableReader::TableReader(const Node& table, std::string name) : table_(table), name_(std::move(name)) {}

std::string TableReader::path_of(std::string_view key) const {
    return name_.empty() ? std::string(key) : name_ + "." + std::string(key);
}

void TableReader::allow(std::string_view key) {
    if (std::find(known_.begin(), known_.end(), key) == known_.end()) known_.emplace_back(key);
}

const Node* TableReader::optional(std::string_view key) {
    allow(key);
    return table_.find(key);
}

bool TableReader::has(std::string_view key) {
    allow(key);
    return table_.find(key) != nullptr;
}

void TableReader::name_misspelling_of(const std::vector<std::string>& keys) const {
    for (std::size_t i = 0; i < table_.fields.size() && i < table_.key_sources.size(); ++i) {
        const std::string& written = table_.fields[i].first;
        if (std::find(known_.begin(), known_.end(), written) != known_.end()) continue;
        if (const auto meant = suggest(written, keys)) throw_unknown(i, fmt::format("did you mean `{}`?", *meant), *meant);
        // A shortened key (`mtbf` for mtbf_per_gpu or mtbf_per_node): too far by edit distance, but the start of the
        // key(s) it means; read on as the first of them.
        std::vector<std::string> longer;
        for (const auto& k : keys) {
            if (written.size() >= 3 && k.size() > written.size() && k.starts_with(written)) longer.push_back(k);
            // Or the key it lengthens by a letter or two (`sdev` for sd; not gpus_per_node, another key, for gpus).
            if (k.size() >= 2 && written.size() > k.size() && written.size() <= k.size() + 2 && written.starts_with(k)) longer.push_back(k);
        }
        if (!longer.empty()) throw_unknown(i, fmt::format("did you mean {}?", quoted(longer, '`')), longer.front());
    }
}

void TableReader::throw_unknown(std::size_t i, std::string hint, const std::optional<std::string>& read_as) const {
    const std::string where_text = name_.empty() ? "at the top level" : fmt::format("in [{}]", name_);
    throw KeyError(table_.key_sources[i], table_.key_sources[i], true,
                   fmt::format("unknown key `{}` {}", table_.fields[i].first, where_text), std::move(hint),
                   read_as ? stand_in(table_.key_sources[i], Node::Kind::string, 0, 0.0, *read_as) : nullptr);
}

const Node& TableReader::required(std::string_view key, std::string_view hint) {
    if (const Node* node = optional(key)) return *node;
    // A missing key written misspelt (`form` for `from` in an inline table): the misspelling is the mistake, named
    // as finish() would name it, and read on as the key it means — not "missing `from`", which hides the cause.
    name_misspelling_of({std::string(key)});
    const std::string where_text = name_.empty() ? "the scenario" : fmt::format("[{}]", name_);
    throw ScenarioError(table_.where, fmt::format("missing required key `{}` in {}", path_of(key), where_text),
                        hint.empty() ? fmt::format("add `{} = …`", key) : std::string(hint));
}

void TableReader::finish() const {
    for (std::size_t i = 0; i < table_.fields.size(); ++i) {
        const std::string& key = table_.fields[i].first;
        if (std::find(known_.begin(), known_.end(), key) != known_.end()) continue;
        std::string hint;
        std::optional<std::string> rename;  // the suggested key, when the table lacks it: read on as if it were written
        // A shortened key (`init_per_gpu_sq`) means the one key it starts, before any closer by edit distance.
        std::optional<std::string> best;
        for (const auto& k : known_) {
            if (key.size() >= 4 && k.size() > key.size() && k.starts_with(key)) best = best ? std::string() : k;
        }
        if (best && best->empty()) best.reset();  // the start of several: left to the edit distance
        if (!best) best = suggest(key, known_);
        if (best) {
            hint = fmt::format("did you mean `{}`?", *best);
            if (table_.find(*best) == nullptr) rename = *best;
        } else {
            std::vector<std::string> sorted = known_;
            std::sort(sorted.begin(), sorted.end());
            std::string list;
            for (const auto& k : sorted) list += (list.empty() ? "" : ", ") + k;
            hint = fmt::format("known keys here: {}", list);
        }
        throw_unknown(i, hint, rename);
    }
}

std::string as_string(const Node& node, std::string_view key_path) {
    // A range of quantity strings stands as a string (its nominal draw, from_range): never text a key takes.
    if (node.kind != Node::Kind::string || node.from_range) type_error(node, key_path, "a string");
    return node.text;
}

std::int64_t as_integer(const Node& node, std::string_view key_path, std::int64_t min, std::int64_t max) {
    // The stand-in for a wrong type: the number the user meant when it reads as one ("2048", 2048.0), else 1,
    // within the range either way.
    std::int64_t within = 1;
    if (node.kind == Node::Kind::floating && std::isfinite(node.floating) && std::abs(node.floating) < 9e18) {
        within = std::llround(node.floating);
    } else if (node.kind == Node::Kind::string) {
        std::int64_t parsed = 0;
        const auto [end, ec] = std::from_chars(node.text.data(), node.text.data() + node.text.size(), parsed);
        if (ec == std::errc() && end == node.text.data() + node.text.size()) within = parsed;
    }
    within = std::clamp(within, min, max);
    if (node.kind != Node::Kind::integer) type_error(node, key_path, "an integer", stand_in(node.where, Node::Kind::integer, within));
    if (node.integer < min || node.integer > max) {
        // The stand-in: the value without its sign when that is in range (a sign slip: gpus = -2048 reads on as 2048,
        // so the checks that couple it to other keys do not fail on a stand-in of 1), else the nearest bound.
        const bool sign_slip = node.integer < 0 && node.integer > INT64_MIN && -node.integer >= min && -node.integer <= max;
        throw KeyError(node.where, node.where, false, fmt::format("`{}` = {} is out of range", key_path, node.integer),
                       fmt::format("use a value from {} to {}", min, max),
                       stand_in(node.where, Node::Kind::integer, sign_slip ? -node.integer : std::clamp(node.integer, min, max)));
    }
    return node.integer;
}

int as_int(const Node& node, std::string_view key_path, int min, int max) {
    return static_cast<int>(as_integer(node, key_path, min, max));
}

double as_number(const Node& node, std::string_view key_path) {
    if (node.kind == Node::Kind::integer) return static_cast<double>(node.integer);
    if (node.kind == Node::Kind::floating) {
        if (!std::isfinite(node.floating)) type_error(node, key_path, "a finite number");
        return node.floating;
    }
    type_error(node, key_path, "a number", stand_in(node.where, Node::Kind::integer, 1));
}

bool as_bool(const Node& node, std::string_view key_path) {
    if (node.kind != Node::Kind::boolean) type_error(node, key_path, "true or false");
    return node.boolean;
}

const Node& as_table(const Node& node, std::string_view key_path) {
    if (node.kind != Node::Kind::table) type_error(node, key_path, "a table");
    return node;
}

template <class Q>
Q as_quantity(const Node& node, std::string_view key_path, Q (*parse)(std::string_view), std::string_view example) {
    if (node.kind != Node::Kind::string) {
        if (node.kind == Node::Kind::integer || node.kind == Node::Kind::floating) {
            throw KeyError(node.where, node.where, false, fmt::format("`{}` needs a unit", key_path),
                           fmt::format("write it as a string with its unit, e.g. `{} = \"{}\"`",
                                       key_path.substr(key_path.rfind('.') + 1), example),
                           stand_in(node.where, Node::Kind::string, 0, 0.0, std::string(example)));
        }
        type_error(node, key_path, fmt::format("a string with a unit, e.g. \"{}\"", example),
                   stand_in(node.where, Node::Kind::string, 0, 0.0, std::string(example)));
    }
    try {
        return parse(node.text);
    } catch (const UnitError& e) {
        SourceRef at = node.where;
        // Columns inside a basic string: the opening quote is at `column`, the text starts one further.
        if (at.column > 0) at.column += 1 + static_cast<int>(e.offset());
        throw KeyError(at, node.where, false, fmt::format("`{}`: {}", key_path, e.what()),
                       fmt::format("e.g. `{} = \"{}\"`", key_path.substr(key_path.rfind('.') + 1), example),
                       stand_in(node.where, Node::Kind::string, 0, 0.0, std::string(example)));
    }
}

template Seconds as_quantity(const Node&, std::string_view, Seconds (*)(std::string_view), std::string_view);
template Bytes as_quantity(const Node&, std::string_view, Bytes (*)(std::string_view), std::string_view);
template BytesPerSecond as_quantity(const Node&, std::string_view, BytesPerSecond (*)(std::string_view),
                                    std::string_view);
template FlopsPerSecond as_quantity(const Node&, std::string_view, FlopsPerSecond (*)(std::string_view),
                                    std::string_view);
template Flops as_quantity(const Node&, std::string_view, Flops (*)(std::string_view), std::string_view);
template Dollars as_quantity(const Node&, std::string_view, Dollars (*)(std::string_view), std::string_view);
template Watts as_quantity(const Node&, std::string_view, Watts (*)(std::string_view), std::string_view);
template Joules as_quantity(const Node&, std::string_view, Joules (*)(std::string_view), std::string_view);
template EnergyPrice as_quantity(const Node&, std::string_view, EnergyPrice (*)(std::string_view), std::string_view);

double as_count(const Node& node, std::string_view key_path) {
    if (node.kind == Node::Kind::string) {
        try {
            return parse_count(node.text);
        } catch (const UnitError& e) {
            SourceRef at = node.where;
            if (at.column > 0) at.column += 1 + static_cast<int>(e.offset());
            throw KeyError(at, node.where, false, fmt::format("`{}`: {}", key_path, e.what()),
                           "write a number, or a string such as \"14.8T\" or \"671B\"", stand_in(node.where, Node::Kind::integer, 1));
        }
    }
    return as_number(node, key_path);
}

const Node& figure_value(const Node& node, std::string_view key_path, std::string* source) {
    if (node.kind != Node::Kind::table) return node;
    // One bound and no value, or an empty table: most likely a range left half-written (`{ low = "$1.5" }`), so that
    // is said beside the figure's form (an auditor's read: only the figure's form was named).
    const std::vector<std::string>& bounds = range_bounds();
    const bool bound_only = node.find("value") == nullptr &&
                            (node.fields.empty() || std::all_of(node.fields.begin(), node.fields.end(), [&](const auto& f) {
                                 return std::find(bounds.begin(), bounds.end(), f.first) != bounds.end();
                             }));
    TableReader reader(node, std::string(key_path));
    const Node& value = reader.required("value", bound_only ? "a range needs two bounds, { low = …, high = … } (or mean and sd; docs/scenario-language.md "
                                                              "\"Ranges\"); a single figure is written as a value, or { value = …, source = \"…\" }"
                                                            : "a catalog figure is written { value = …, source = \"…\" }");
    if (const Node* s = reader.optional("source")) {
        const std::string text = as_string(*s, reader.path_of("source"));
        if (source != nullptr) *source = text;
    }
    if (const Node* note = reader.optional("note")) (void)as_string(*note, reader.path_of("note"));
    reader.finish();
    return value;
}

namespace {

// `word` with case and the look-alike characters folded: upper case to lower, the letter o to the digit 0 and the
// letters l and i to the digit 1, so that "h1OO" (letter O for zero, a fresh user's typo, session 54) is no edit
// from "h100" where the plain distance is two of four characters.
std::string fold_look_alikes(const std::string& word) {
    std::string out = word;
    for (char& c : out) {
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        if (c == 'o') c = '0';
        else if (c == 'l' || c == 'i') c = '1';
    }
    return out;
}

}  // namespace

std::optional<std::string> suggest(const std::string& word, const std::vector<std::string>& candidates) {
    std::optional<std::string> best;
    std::size_t best_distance = std::numeric_limits<std::size_t>::max();
    const std::string folded = fold_look_alikes(word);
    for (const auto& candidate : candidates) {
        const std::size_t d = std::min(edit_distance(word, candidate), edit_distance(folded, fold_look_alikes(candidate)));
        if (d < best_distance) {
            best_distance = d;
            best = candidate;
        }
    }
    // Plausible typo: at most a third of the longer word changed (and at least one edit allowed).
    if (best && best_distance <= std::max<std::size_t>(1, std::max(word.size(), best->size()) / 3)) return best;
    return std::nullopt;
}

std::vector<std::string> meanings(const std::string& word, const std::vector<std::string>& candidates) {
    std::vector<std::string> out;
    for (const auto& c : candidates) {
        if (word.size() >= 3 && c.size() > word.size() && c.starts_with(word)) out.push_back(c);
    }
    if (out.empty()) {
        if (auto best = suggest(word, candidates)) out.push_back(*best);
    }
    if (!out.empty()) return out;
    // Else a known name followed by a qualifier of the user's ("h100-sxm", "llama-3.1-8b_instruct"): the longest such
    // name (an unknown "h100-sxm" got no suggestion: four edits from "h100"; a new user's read, session 52). After
    // suggest(), so that a typo of a longer name ("h100-pcei") is offered that name, not its prefix.
    std::size_t longest = 0;
    for (const auto& c : candidates) {
        const bool qualified = c.size() >= 3 && word.size() > c.size() && word.starts_with(c) &&
                               std::string_view("-_ .").find(word[c.size()]) != std::string_view::npos;
        if (qualified) longest = std::max(longest, c.size());
    }
    for (const auto& c : candidates) {
        if (longest > 0 && c.size() == longest && word.starts_with(c)) out.push_back(c);
    }
    return out;
}

std::string quoted(const std::vector<std::string>& names, char quote) {
    std::string out;
    for (std::size_t i = 0; i < names.size(); ++i) {
        out += fmt::format("{}{}{}{}", i == 0 ? "" : i + 1 == names.size() ? " or " : ", ", quote, names[i], quote);
    }
    return out;
}

}  // namespace gpuhours::detail
