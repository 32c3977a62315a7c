// The chip and model catalogs: finding the catalog directory, loading an entry, resolving a catalog slot.
#include <gpuhours/scenario/scenario.hpp>

#include "scenario_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <string_view>

#include <sys/stat.h>

namespace gpuhours::detail {

bool is_catalog_dir(const std::filesystem::path& dir) {
    std::error_code ec;
    return std::filesystem::is_directory(dir / "chips", ec) && std::filesystem::is_directory(dir / "models", ec);
}

namespace {

// What resolve_slot appends to the id of a catalog entry that a scenario changes; catalog_id() takes it off.
constexpr std::string_view kModifiedSuffix = " (modified)";

std::string kind_singular(const std::string& kind) {
    if (kind == "reliability") return "reliability entry";
    return kind == "chips" ? "chip" : kind == "pricing" ? "pricing entry" : "model";
}

std::string kind_plural(const std::string& kind) {
    const std::string one = kind_singular(kind);
    return one.ends_with("entry") ? one.substr(0, one.size() - 1) + "ies" : one + "s";
}

// Where else an unknown entry lies, said because a catalog is used whole (a new user's own model beside the scenario
// was passed over without a word, and a scenarios/chips/ made beside it hid the shipped chips): a folder above the
// scenario that holds the entry but is no catalog (it lacks chips/ or models/), or the shipped catalog when another
// is in use. Empty when neither has it.
std::string where_else(const std::string& kind, const std::string& name, const std::filesystem::path& catalog_dir,
                       const SourceRef& referenced_from) {
    std::error_code ec;
    const std::string file = name + ".toml";
    std::filesystem::path dir = referenced_from.file.empty() || referenced_from.file.starts_with("--")
                                    ? std::filesystem::path()
                                    : std::filesystem::absolute(referenced_from.file, ec).parent_path();
    while (!dir.empty()) {
        for (const std::filesystem::path& candidate : {dir, dir / "scenarios"}) {
            if (std::filesystem::is_regular_file(candidate / kind / file, ec) && !is_catalog_dir(candidate)) {
                return fmt::format("; {} exists, but {} is not a catalog: one needs both chips/ and models/ (add the "
                                   "missing folder with the entries you use, or pass --catalog)",
                                   (candidate / kind / file).string(), candidate.string());
            }
        }
        if (dir == dir.parent_path()) break;
        dir = dir.parent_path();
    }
    const std::filesystem::path shipped = default_catalog_dir();
    if (!std::filesystem::equivalent(catalog_dir, shipped, ec) && std::filesystem::is_regular_file(shipped / kind / file, ec)) {
        return fmt::format("; the shipped catalog has it ({}), but a catalog is used whole and this scenario's is {}: copy "
                           "the file into {}, or pass --catalog {}",
                           (shipped / kind / file).string(), catalog_dir.string(), (catalog_dir / kind).string(), shipped.string());
    }
    return {};
}

}  // namespace

// Loads the catalog entry `name` of `kind` ("chips" or "models"); unknown names list the known ones.
Node load_catalog_entry(const std::string& kind, const std::string& name, const std::filesystem::path& catalog_dir,
                        const SourceRef& referenced_from) {
    const std::filesystem::path file = catalog_dir / kind / (name + ".toml");
    std::error_code ec;
    const bool plain_name = !name.empty() && name.find('/') == std::string::npos && name.find('\\') == std::string::npos;
    const bool regular = plain_name && std::filesystem::is_regular_file(file, ec);
    // An entry of that name that is no regular file (a FIFO, a device, a link to one, a directory): named as such,
    // not as an unknown name (a directory listing would offer the same name back).
    if (plain_name && !regular && std::filesystem::exists(file, ec)) {
        throw ScenarioError(referenced_from, fmt::format("the {} catalog entry {} is not a regular file", kind_singular(kind), file.string()),
                            "catalog entries are TOML files: replace it with one, or name another catalog with --catalog");
    }
    if (!regular) {
        std::vector<std::string> known = catalog_names(catalog_dir, kind);
        if (kind == "reliability") known.insert(known.begin(), "none");  // reliability = "none": no failures modelled
        std::string list;
        for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
        std::string hint;
        const auto meant = detail::meanings(name, known);
        const std::optional<std::string> best = meant.empty() ? std::nullopt : std::optional<std::string>(meant.front());
        if (best) {
            hint = fmt::format("did you mean {}? Known {}: {}", detail::quoted(meant), kind_plural(kind), list);
        } else if (known.empty()) {
            hint = fmt::format("{} holds no {}", (catalog_dir / kind).string(), kind_plural(kind));
        } else {
            hint = fmt::format("known {} ({}): {}", kind_plural(kind), (catalog_dir / kind).string(), list);
        }
        if (plain_name) hint += where_else(kind, name, catalog_dir, referenced_from);
        // A mistake in this one value: the reader may go on with the suggestion (or any known name) in its place.
        std::shared_ptr<const Node> stand_in;
        if (!known.empty()) {
            auto n = std::make_shared<Node>();
            n->kind = Node::Kind::string;
            n->text = best ? *best : known.back();  // a catalog entry ("none" is first among the reliability names)
            n->where = referenced_from;
            stand_in = std::move(n);
        }
        throw detail::KeyError(referenced_from, referenced_from, false, fmt::format("unknown {} \"{}\"", kind_singular(kind), name),
                               hint, std::move(stand_in));
    }
    return detail::parse_document_file(file.string(), referenced_from);
}

// A catalog slot is either a name ("h800"), or a table: a full inline definition, or `from = "h800"` plus
// overrides. Returns the merged table and the id to show for it.
std::pair<Node, std::string> resolve_slot(const Node& slot, const std::string& kind, const std::string& key_path,
                                          const std::filesystem::path& catalog_dir) {
    if (slot.from_range) (void)detail::as_string(slot, key_path);  // refused: a range is no catalog name
    if (slot.kind == Node::Kind::string) {
        return {load_catalog_entry(kind, slot.text, catalog_dir, slot.where), slot.text};
    }
    if (slot.kind != Node::Kind::table) {
        throw ScenarioError(slot.where,
                            fmt::format("`{}` must be a catalog name (a string) or a table", key_path),
                            fmt::format("e.g. `{} = \"{}\"`", key_path.substr(key_path.rfind('.') + 1),
                                        kind == "chips" ? "h800" : "deepseek-v3"));
    }
    const Node* from = slot.find("from");
    if (from == nullptr) return {slot, "inline"};
    const std::string base_name = detail::as_string(*from, key_path + ".from");
    Node base = load_catalog_entry(kind, base_name, catalog_dir, from->where);
    Node overlay = slot;
    overlay.erase("from");
    const bool modified = !overlay.fields.empty();
    detail::merge_into(base, std::move(overlay));
    return {std::move(base), modified ? base_name + std::string(kModifiedSuffix) : base_name};
}

}  // namespace gpuhours::detail

namespace gpuhours {

namespace {

// A catalog found by walking up from a scenario that anyone could have put there or changed: `dir` (where a
// scenarios/ or chips/ is created), the catalog, its chips/ or its models/ writable by others (a scenario under /tmp
// read chips from a /tmp/chips anyone can plant: a planted H100 tripled the step and was cited as
// scenarios/chips/h100.toml; a scenario-language audit, session 51). The path that is, if any. The binary's own
// catalog is its installer's to keep.
std::optional<std::filesystem::path> writable_by_others(const std::filesystem::path& dir, const std::filesystem::path& catalog) {
    std::error_code ec;
    if (std::filesystem::equivalent(catalog, default_catalog_dir(), ec)) return std::nullopt;
    for (const std::filesystem::path& p : {dir, catalog, catalog / "chips", catalog / "models"}) {
        struct stat st {};
        if (::stat(p.c_str(), &st) == 0 && (st.st_mode & S_IWOTH) != 0) return p;
    }
    return std::nullopt;
}

}  // namespace

std::filesystem::path find_catalog_dir(const std::filesystem::path& scenario_file) {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::absolute(scenario_file, ec).parent_path();
    while (!dir.empty()) {
        for (const std::filesystem::path& catalog : {dir, dir / "scenarios"}) {
            if (!detail::is_catalog_dir(catalog)) continue;
            // Refused, not passed over: skipping it would run on the shipped catalog's figures unsaid.
            if (const auto open = writable_by_others(dir, catalog)) {
                throw Error(fmt::format("the catalog {} found above the scenario could have been written by anyone: {} is "
                                        "writable by others, so its chips and models are not read",
                                        catalog.string(), open->string()),
                            fmt::format("pass --catalog {} to use it anyway, or remove others' write permission (chmod o-w {})",
                                        catalog.string(), open->string()));
            }
            return catalog;
        }
        if (dir == dir.parent_path()) break;
        dir = dir.parent_path();
    }
    return default_catalog_dir();
}

using detail::Node;

namespace {

// `<directory of the running executable>/../share/gpuhours`, where `cmake --install` and the Debian package put the
// data; empty where the executable's path cannot be read (no /proc).
std::filesystem::path installed_data_dir() {
    std::error_code ec;
    const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec || exe.empty()) return {};
    return exe.parent_path().parent_path() / "share" / "gpuhours";
}

}  // namespace

std::filesystem::path data_dir() {
    const std::filesystem::path installed = installed_data_dir();
    const std::filesystem::path source(GPUHOURS_SOURCE_DIR);
    if (!installed.empty() && detail::is_catalog_dir(installed / "scenarios")) return installed;
    if (detail::is_catalog_dir(source / "scenarios")) return source;
    // Neither holds a catalog: name where an installed gpuhours keeps it, so the error that follows says where it looked.
    return installed.empty() ? source : installed;
}

std::filesystem::path default_catalog_dir() { return data_dir() / "scenarios"; }

std::string catalog_id(const ChipProfile& chip) {
    const std::string_view id = chip.id;
    if (id.size() > detail::kModifiedSuffix.size() && id.ends_with(detail::kModifiedSuffix)) {
        return std::string(id.substr(0, id.size() - detail::kModifiedSuffix.size()));
    }
    return chip.id;
}

std::vector<std::string> catalog_names(const std::filesystem::path& catalog_dir, const std::string& kind) {
    std::vector<std::string> names;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(catalog_dir / kind, ec), end; !ec && it != end; it.increment(ec)) {
        if (it->path().extension() == ".toml" && it->is_regular_file(ec)) names.push_back(it->path().stem().string());
    }
    std::sort(names.begin(), names.end());
    return names;
}

ChipProfile load_chip(const std::string& name, const std::filesystem::path& catalog_dir) {
    const std::filesystem::path dir = catalog_dir.empty() ? default_catalog_dir() : catalog_dir;
    const Node table = detail::load_catalog_entry("chips", name, dir, SourceRef{});
    return detail::read_chip(table, name, "");
}

ModelSpec load_model(const std::string& name, const std::filesystem::path& catalog_dir) {
    const std::filesystem::path dir = catalog_dir.empty() ? default_catalog_dir() : catalog_dir;
    const Node table = detail::load_catalog_entry("models", name, dir, SourceRef{});
    return detail::read_model(table, name, "");
}

}  // namespace gpuhours
