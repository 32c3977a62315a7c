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
    std::vector<std::size_t> row(b.size() + 1);
    std::iota(row.begin(), row.end(), std::size_t{0});
    for (std::size_t i = 1; i <= a.size(); ++i) {
        std::size_t diagonal = row[0];
        row[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t above = row[j];
            const std::size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
            row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
            diagonal = above;
        }
    }
    return row[b.size()];
}

}  // namespace gpuhours
