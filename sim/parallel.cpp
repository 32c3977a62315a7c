#include <gpuhours/parallel.hpp>

#include <array>
#include <utility>

namespace gpuhours {
namespace {
constexpr std::array<std::pair<Schedule, std::string_view>, 5> kSchedules{{{Schedule::gpipe, "gpipe"},
                                                                           {Schedule::one_f_one_b, "1f1b"},
                                                                           {Schedule::interleaved, "interleaved"},
                                                                           {Schedule::zero_bubble, "zero-bubble"},
                                                                           {Schedule::dualpipe, "dualpipe"}}};
constexpr std::array<std::pair<Recompute, std::string_view>, 3> kRecompute{
    {{Recompute::none, "none"}, {Recompute::selective, "selective"}, {Recompute::full, "full"}}};
}  // namespace

std::string_view to_string(Schedule s) {
    for (const auto& [value, name] : kSchedules) if (value == s) return name;
    return "?";
}
std::optional<Schedule> schedule_from_string(std::string_view name) {
    for (const auto& [value, n] : kSchedules) if (n == name) return value;
    return std::nullopt;
}
std::string_view to_string(Recompute r) {
    for (const auto& [value, name] : kRecompute) if (value == r) return name;
    return "?";
}
std::optional<Recompute> recompute_from_string(std::string_view name) {
    for (const auto& [value, n] : kRecompute) if (n == name) return value;
    return std::nullopt;
}

}  // namespace gpuhours
