// Progress on stderr (commands.hpp: progress_style, ProgressBar).
#include "commands.hpp"

#include <gpuhours/units/error.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <unistd.h>

namespace gpuhours::cli {

ProgressStyle progress_style(const ParsedArgs& args) {
    std::optional<ProgressStyle> forced_style;
    if (const char* forced = std::getenv("GPUHOURS_PROGRESS"); forced != nullptr) {
        const std::string_view f = forced;
        if (f == "off") forced_style = ProgressStyle::off;
        else if (f == "lines") forced_style = ProgressStyle::lines;
        else if (f == "bar") forced_style = ProgressStyle::bar;
        else if (!f.empty()) {
            // An empty value is as if unset; another is a mistake, not a silent fallback, --quiet or not. Its bytes are
            // echoed only when printable ASCII (the message may go into a JSON document).
            const bool plain = std::all_of(f.begin(), f.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
            throw Error(plain ? fmt::format("the environment variable GPUHOURS_PROGRESS={} is not a progress style", f)
                              : std::string("the environment variable GPUHOURS_PROGRESS is not a progress style"),
                        "set GPUHOURS_PROGRESS to bar, lines or off, or unset it");
        }
    }
    if (args.has("--quiet")) return ProgressStyle::off;
    if (forced_style) return *forced_style;
    return isatty(STDERR_FILENO) != 0 ? ProgressStyle::bar : ProgressStyle::lines;
}

bool progress_wanted(const ParsedArgs& args) { return progress_style(args) == ProgressStyle::bar; }

double progress_delay() {
    const char* set = std::getenv("GPUHOURS_PROGRESS_AFTER");
    if (set == nullptr || *set == '\0') return 1.0;
    const std::string_view text = set;
    char* end = nullptr;
    const double seconds = std::strtod(set, &end);
    if (end != set + text.size() || !std::isfinite(seconds) || seconds < 0.0) {
        const bool plain = std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
        throw Error(plain ? fmt::format("the environment variable GPUHOURS_PROGRESS_AFTER={} is not a number of seconds", text)
                          : std::string("the environment variable GPUHOURS_PROGRESS_AFTER is not a number of seconds"),
                    "set GPUHOURS_PROGRESS_AFTER to 0 or more seconds (1 when unset), or unset it");
    }
    return seconds;
}

ProgressBar::ProgressBar(std::string label, const ParsedArgs& args)
    : label_(std::move(label)),
      style_(progress_style(args)),
      delay_(progress_delay()),
      made_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
    std::lock_guard lock(mutex_);
    clear();
    if (std::uncaught_exceptions() == 0) finish_lines();  // not "done" on the way out of an error
}

// Lines: once any line was printed, a last one when the work ends, whether its count reached the total or the total
// was an over-estimate (a deadline search stops before its share), so that a log does not look cut off.
void ProgressBar::finish_lines() {
    if (style_ != ProgressStyle::lines || tenths_shown_ == 0 || lines_finished_) return;
    lines_finished_ = true;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - made_).count();
    std::fprintf(stderr, "%s: done, %.0f s\n", label_.c_str(), elapsed);
    std::fflush(stderr);
}

void ProgressBar::clear() {
    if (!drawn_) return;
    std::fprintf(stderr, "\r%*s\r", static_cast<int>(label_.size()) + 70, "");
    std::fflush(stderr);
    drawn_ = false;
}

void ProgressBar::update(double done, int total) {
    // One unit is worth a bar when it reports its own progress (a single full-mode step): fractional counts.
    if (style_ == ProgressStyle::off || total < 1) return;
    std::lock_guard lock(mutex_);
    // Updates from several threads can arrive out of order: one computed before the last step finished, or while a
    // finished step's share is handed over to the count of finished ones, is not drawn.
    if (finished_ || done < last_done_) return;
    last_done_ = done;
    if (done >= total) {
        finished_ = true;
        clear();
        finish_lines();
        return;
    }
    using std::chrono::duration;
    const auto now = std::chrono::steady_clock::now();
    if (first_done_ < 0.0) {
        first_ = now;
        first_done_ = done;
    }
    if (duration<double>(now - made_).count() < delay_) return;
    const int tenths = static_cast<int>(10.0 * done / total);
    if (style_ == ProgressStyle::lines ? tenths <= tenths_shown_ : drawn_ && duration<double>(now - drawn_at_).count() < 0.1) return;
    drawn_at_ = now;
    const double elapsed = duration<double>(now - made_).count();
    const double measured = duration<double>(now - first_).count();
    const double progressed = done - first_done_;
    const double remaining = progressed > 0.0 && measured > 0.0 ? measured * (total - done) / progressed : -1.0;
    const std::string left = remaining < 0.0   ? ""
                             : remaining < 0.5 ? ", under a second left"
                                               : fmt::format(", about {:.0f} s left", remaining);
    const std::string count = done == std::floor(done) ? fmt::format("{:.0f}/{}", done, total) : fmt::format("{:.1f}/{}", done, total);
    if (style_ == ProgressStyle::lines) {
        tenths_shown_ = tenths;
        std::fprintf(stderr, "%s: %d %% (%s), %.0f s%s\n", label_.c_str(), 10 * tenths, count.c_str(), elapsed, left.c_str());
        std::fflush(stderr);
        return;
    }
    const int width = 30;
    const int filled = std::clamp(static_cast<int>(done * width / total), 0, width);
    std::fprintf(stderr, "\r%s [%s%s] %s, %.0f s%s  ", label_.c_str(), std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), count.c_str(), elapsed, left.c_str());
    std::fflush(stderr);
    drawn_ = true;
}

}  // namespace gpuhours::cli
