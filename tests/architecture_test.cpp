// Layers are a dependency rule (docs/architecture.md): a file may include gpuhours headers of its own layer or
// below, never above. A file's layer is its folder: include/gpuhours/<layer>/… and sim/<layer>/…. The order is
// written once, in CMakeLists.txt (GPUHOURS_LAYERS), and reaches this test as GPUHOURS_LAYER_ORDER.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

namespace {

namespace fs = std::filesystem;

// Layer name → rank, lowest first, from the space-separated order CMake passes in.
std::map<std::string, int> layer_ranks(const std::string& order) {
    std::map<std::string, int> ranks;
    std::istringstream in(order);
    std::string name;
    for (int rank = 0; in >> name; ++rank) ranks.emplace(name, rank);
    return ranks;
}

struct Finding {
    std::string file;   // path relative to the root scanned
    int line = 0;       // 1-based
    std::string what;   // why it breaks the rule
};

// The layer a file belongs to: the first folder under `root` (`root` is include/gpuhours or sim).
std::optional<std::string> layer_of_file(const fs::path& root, const fs::path& file) {
    const fs::path rel = fs::relative(file, root);
    if (std::distance(rel.begin(), rel.end()) < 2) return std::nullopt;  // a file directly under the root
    return rel.begin()->string();
}

// Every breach of the layer rule under `root`: a file outside any layer folder, an include of an unknown
// layer, an include of a layer above the file's own, an include of another layer's private header through the
// sim/ include directory (<layer/…>), or a quoted include that leaves the file's folder. Paths in findings
// start with the root's last component ("gpuhours/engine/engine.hpp", "sim/units/units.cpp").
std::vector<Finding> layer_breaches(const fs::path& root, const std::map<std::string, int>& ranks) {
    const std::regex angled(R"(^\s*#\s*include\s*<gpuhours/([a-z0-9_]+)/[a-z0-9_]+\.hpp>)");
    const std::regex angled_flat(R"(^\s*#\s*include\s*<gpuhours/[a-z0-9_]+\.hpp>)");
    const std::regex angled_private(R"(^\s*#\s*include\s*<([a-z0-9_]+)/[^>]*>)");
    const std::regex quoted(R"re(^\s*#\s*include\s*"([^"]+)")re");
    std::vector<Finding> found;
    for (const auto& entry : fs::recursive_directory_iterator(root)) {
        if (!entry.is_regular_file()) continue;
        const auto ext = entry.path().extension();
        if (ext != ".hpp" && ext != ".cpp") continue;
        const std::string rel = (root.filename() / fs::relative(entry.path(), root)).string();
        const auto layer = layer_of_file(root, entry.path());
        if (!layer || !ranks.contains(*layer)) {
            found.push_back({rel, 0, "is not in a layer folder"});
            continue;
        }
        const int own = ranks.at(*layer);
        std::ifstream in(entry.path());
        std::string line;
        for (int number = 1; std::getline(in, line); ++number) {
            std::smatch m;
            if (std::regex_search(line, m, angled)) {
                const auto dep = ranks.find(m[1].str());
                if (dep == ranks.end())
                    found.push_back({rel, number, "includes unknown layer `" + m[1].str() + "`"});
                else if (dep->second > own)
                    found.push_back({rel, number, "(layer " + *layer + ") includes layer " + dep->first + " above it"});
            } else if (std::regex_search(line, angled_flat)) {
                found.push_back({rel, number, "includes a gpuhours header outside any layer folder"});
            } else if (std::regex_search(line, m, angled_private) && ranks.contains(m[1].str())) {
                found.push_back({rel, number, "includes `" + m[1].str() + "/…` through sim/: another layer's private header"});
            } else if (std::regex_search(line, m, quoted) && m[1].str().find('/') != std::string::npos) {
                found.push_back({rel, number, "quoted include `" + m[1].str() + "` leaves its folder"});
            }
        }
    }
    return found;
}

std::string describe(const std::vector<Finding>& findings) {
    std::string out;
    for (const auto& f : findings) out += f.file + ":" + std::to_string(f.line) + ": " + f.what + "\n";
    return out;
}

const fs::path source_dir{GPUHOURS_TEST_SOURCE_DIR};

}  // namespace

TEST_CASE("the layer order from CMake names every layer folder, cli last") {
    const auto ranks = layer_ranks(GPUHOURS_LAYER_ORDER);
    // units engine hardware network workload training run scenario analysis report cli
    REQUIRE(ranks.size() == 11);
    CHECK(ranks.at("units") == 0);
    CHECK(ranks.at("cli") == 10);
    for (const auto& dir : {source_dir / "include" / "gpuhours", source_dir / "sim"})
        for (const auto& entry : fs::directory_iterator(dir)) {
            INFO(entry.path().string());
            CHECK(entry.is_directory());
            CHECK(ranks.contains(entry.path().filename().string()));
        }
}

TEST_CASE("no header or source includes a layer above its own") {
    const auto ranks = layer_ranks(GPUHOURS_LAYER_ORDER);
    for (const auto& root : {source_dir / "include" / "gpuhours", source_dir / "sim"}) {
        const auto breaches = layer_breaches(root, ranks);
        INFO(describe(breaches));
        CHECK(breaches.empty());
    }
}

TEST_CASE("the layer check catches a planted upward include, a flat header and a stray file") {
    // A small tree in the same shape: engine (rank 1) including analysis (rank 8) must be caught; units
    // including nothing, and analysis including engine (downward), must not.
    const fs::path root = fs::temp_directory_path() / ("gpuhours-arch-" + std::to_string(::getpid()));
    fs::remove_all(root);
    fs::create_directories(root / "engine");
    fs::create_directories(root / "analysis");
    std::ofstream(root / "engine" / "engine.cpp") << "#include <gpuhours/units/units.hpp>\n"
                                                  << "#include <gpuhours/analysis/plan.hpp>\n";
    std::ofstream(root / "analysis" / "plan.cpp") << "#include <gpuhours/engine/engine.hpp>\n"
                                                  << "#include <gpuhours/plan.hpp>\n"
                                                  << "#include \"../engine/private.hpp\"\n"
                                                  << "#include <engine/private.hpp>\n"
                                                  << "#include <gpuhours/report/html2.hpp>\n"
                                                  << "#include <fmt/format.h>\n";
    std::ofstream(root / "stray.cpp") << "\n";
    const auto breaches = layer_breaches(root, layer_ranks(GPUHOURS_LAYER_ORDER));
    const std::string top = root.filename().string() + "/";
    fs::remove_all(root);
    INFO(describe(breaches));
    // Caught: engine → analysis (upward), a flat header, a quoted ../, a private header through sim/, analysis →
    // report with a digit in the name (upward); not caught: engine ← units, analysis → engine, fmt.
    REQUIRE(breaches.size() == 6);
    int upward = 0, flat = 0, quoted = 0, through_sim = 0, digit = 0, stray = 0;
    for (const auto& b : breaches) {
        if (b.file == top + "engine/engine.cpp" && b.line == 2) ++upward;
        if (b.file == top + "analysis/plan.cpp" && b.line == 2) ++flat;
        if (b.file == top + "analysis/plan.cpp" && b.line == 3) ++quoted;
        if (b.file == top + "analysis/plan.cpp" && b.line == 4) ++through_sim;
        if (b.file == top + "analysis/plan.cpp" && b.line == 5) ++digit;
        if (b.file == top + "stray.cpp") ++stray;
    }
    CHECK(upward == 1);
    CHECK(flat == 1);
    CHECK(quoted == 1);
    CHECK(through_sim == 1);
    CHECK(digit == 1);
    CHECK(stray == 1);
}
