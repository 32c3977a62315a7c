// Robustness: ≥10,000 mutated or truncated scenario files go through the loader. Each must either load or throw
// gpuhours::Error (a message for the user); anything else — another exception type, a crash, a sanitizer report
// (CI runs this under ASan and UBSan) — fails. The mutations are seeded, so a failure reproduces.
#include <gpuhours/scenario/scenario.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

using namespace gpuhours;

namespace {

std::string read_file(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Characters that make TOML interesting: structure, quotes, digits, units, escapes, and bytes outside ASCII.
constexpr std::string_view kAlphabet = "[]{}=.,\"'#\n \t0123456789-+eE_abcdxyzGTMBKs/\\\x00\xff\xc2\xb5";

std::string mutate(const std::string& base, std::mt19937_64& rng) {
    std::string text = base;
    auto pick = [&](std::size_t n) { return static_cast<std::size_t>(rng() % std::max<std::size_t>(n, 1)); };
    const int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits && !text.empty(); ++e) {
        switch (pick(7)) {
            case 0: text.resize(pick(text.size())); break;                               // truncate
            case 1: text[pick(text.size())] = kAlphabet[pick(kAlphabet.size())]; break;  // flip a byte
            case 2: text.insert(pick(text.size()), 1, kAlphabet[pick(kAlphabet.size())]); break;
            case 3: text.erase(pick(text.size()), 1 + pick(8)); break;
            case 4: {  // duplicate a line somewhere else
                const std::size_t a = text.rfind('\n', pick(text.size()));
                const std::size_t start = a == std::string::npos ? 0 : a + 1;
                const std::size_t end = text.find('\n', start);
                const std::string line = text.substr(start, end == std::string::npos ? std::string::npos : end - start + 1);
                text.insert(pick(text.size()), line);
                break;
            }
            case 5: {  // replace a number with an extreme one
                const std::size_t at = text.find_first_of("0123456789", pick(text.size()));
                if (at != std::string::npos) {
                    static const char* extremes[] = {"0", "-1", "99999999999999999999", "1e308", "nan", "-0", "2147483648"};
                    text.replace(at, 1, extremes[pick(7)]);
                }
                break;
            }
            default: {  // swap two keys' values by swapping two random lines
                std::vector<std::string> lines;
                std::istringstream in(text);
                for (std::string l; std::getline(in, l);) lines.push_back(l);
                if (lines.size() > 2) std::swap(lines[pick(lines.size())], lines[pick(lines.size())]);
                text.clear();
                for (const auto& l : lines) text += l + "\n";
            }
        }
    }
    return text;
}

}  // namespace

TEST_CASE("thousands of mutated scenarios (ten thousand, two thousand under the sanitizers) either load or fail with a user error") {
    const std::filesystem::path root = GPUHOURS_TEST_SOURCE_DIR;
    LoadOptions options;
    options.catalog_dir = root / "scenarios";
    const std::string base = read_file(root / "scenarios" / "deepseek-v3.toml");
    REQUIRE(!base.empty());
    std::mt19937_64 rng(20261122);
    int loaded = 0;
    int rejected = 0;
#ifdef GPUHOURS_TEST_SANITIZE
    // Under ASan + UBSan a load is about ten times slower: the first 2,000 of the same mutants (268 s for 10,000).
    constexpr int mutants = 2'000;
#else
    constexpr int mutants = 10'000;
#endif
    for (int i = 0; i < mutants; ++i) {
        const std::string text = mutate(base, rng);
        try {
            (void)load_scenario_from_string(text, "fuzz.toml", options);
            ++loaded;
        } catch (const Error& e) {
            // Every user error has a message; parse and semantic errors found in the file carry a position.
            if (std::string(e.what()).empty()) FAIL("empty error message for mutation " << i);
            ++rejected;
        } catch (const std::exception& e) {
            FAIL("mutation " << i << " threw a non-user exception: " << e.what() << "\n--- input ---\n" << text);
        }
    }
    CHECK(loaded + rejected == mutants);
    CHECK(rejected > mutants / 10);  // the mutations really do break things
    CHECK(loaded > mutants / 100);   // and some stay valid (comments, whitespace, equivalent edits)
}
