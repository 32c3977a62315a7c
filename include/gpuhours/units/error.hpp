// User-facing errors. Library code throws these for mistakes in user input; only the CLI catches them, prints
// them and picks the exit code (2). Programmer errors are asserts, never these.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace gpuhours {

// Where a value came from: a file position, or a command-line override ("--set cluster.gpus=4096").
struct SourceRef {
    std::string file;  // path as given, or "--set" for command-line overrides; empty when unknown
    int line = 0;      // 1-based; 0 when unknown
    int column = 0;    // 1-based; 0 when unknown

    [[nodiscard]] bool known() const { return !file.empty(); }
    // "file:line:column", or just "file" when the position is unknown.
    [[nodiscard]] std::string to_string() const;
};

// A mistake the user can fix. `what()` is the complete message: "where: error: message" plus the hint on
// its own line when there is one.
class Error : public std::runtime_error {
public:
    explicit Error(std::string message, std::string hint = {});
    Error(SourceRef where, std::string message, std::string hint = {});

    [[nodiscard]] const SourceRef& where() const { return where_; }
    [[nodiscard]] const std::string& message() const { return message_; }
    [[nodiscard]] const std::string& hint() const { return hint_; }
    // The message and its hint on one line, for a table cell or a note: "message; hint" (line breaks inside
    // either become "; "); the position is left out.
    [[nodiscard]] std::string one_line() const;

private:
    SourceRef where_;
    std::string message_;
    std::string hint_;
};

// An error in a scenario or catalog file (always has a position when the key exists somewhere).
class ScenarioError : public Error {
public:
    using Error::Error;
    // One mistake of the files, as the search for every mistake found it: its own position, message and hint.
    struct Mistake {
        SourceRef where;
        std::string message, hint;
    };
    // Every mistake reported, this one first (the others' text follows this one's hint, as printed), each with its
    // own hint; empty when the error was not built from the search. For a machine reader (`check --json`'s `errors`).
    [[nodiscard]] const std::vector<Mistake>& mistakes() const { return mistakes_; }
    void set_mistakes(std::vector<Mistake> mistakes) { mistakes_ = std::move(mistakes); }

private:
    std::vector<Mistake> mistakes_;
};

// The edit distance used for "did you mean" suggestions: optimal string alignment (Levenshtein plus a
// transposition of two adjacent characters), unit costs.
std::size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace gpuhours
