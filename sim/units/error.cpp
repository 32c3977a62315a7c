#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace gpuhours {

std::string SourceRef::to_string() const {
    if (file.empty()) return {};
    if (line <= 0) return file;
    return fmt::format("{}:{}:{}", file, line, std::max(column, 1));
}

namespace {
std::string compose(const SourceRef& where, const std::string& message, const std::string& hint) {
    std::string out = where.known() ? where.to_string() + ": error: " + message : "error: " + message;
    if (!hint.empty()) out += "\n  " + hint;
    return out;
}
}  // namespace

Error::Error(std::string message, std::string hint) : Error(SourceRef{}, std::move(message), std::move(hint)) {}

Error::Error(SourceRef where, std::string message, std::string hint)
    : std::runtime_error(compose(where, message, hint)),
      where_(std::move(where)),
      message_(std::move(message)),
      hint_(std::move(hint)) {}

std::string Error::one_line() const {
    std::string text = hint_.empty() ? message_ : message_ + "\n" + hint_;
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '\n') {
            out += text[i];
            continue;
        }
        while (i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\n')) ++i;
        out += "; ";
    }
    return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    // Optimal string alignment (Damerau–Levenshtein without repeated edits of a substring): insertions, deletions,
    // substitutions and transpositions of two adjacent characters each cost 1, so `form` is one edit from `from`.
    const std::size_t n = a.size(), m = b.size();
    std::vector<std::size_t> d((n + 1) * (m + 1));
    auto at = [&](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
    for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
    for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
        }
    }
    return at(n, m);
}

}  // namespace gpuhours
