// Egalitarian processor sharing as an external model of the engine (include/gpuhours/engine/processor_sharing.hpp).
#include <gpuhours/engine/processor_sharing.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace gpuhours {

namespace {
// Min-heap order on (tag, order): std::push_heap keeps the largest first, so "later" compares as smaller.
bool later(double tag_a, std::uint64_t order_a, double tag_b, std::uint64_t order_b) {
    return tag_a > tag_b || (tag_a == tag_b && order_a > order_b);
}
}  // namespace

ProcessorSharing::ProcessorSharing(Engine& engine, std::size_t servers) : engine_(engine), servers_(servers) {
    engine_.add_model(*this);
}

TaskId ProcessorSharing::task(std::size_t server, SimTime work, std::vector<TaskId> after, std::string name) {
    if (server >= servers_.size()) throw std::out_of_range("ProcessorSharing::task: no such server");
    if (work < SimTime::zero()) throw std::invalid_argument("ProcessorSharing::task: negative work");
    return engine_.add_task(TaskSpec{std::move(name), std::nullopt, std::move(after),
                                     Driven{[this, server, work](TaskId id) { arrive(server, work, id); }}});
}

// V advances by the real time elapsed over the jobs in progress.
void ProcessorSharing::bring_to(Server& s, SimTime t) const {
    if (!s.jobs.empty()) s.virtual_now += static_cast<double>((t - s.last).picoseconds()) / static_cast<double>(s.jobs.size());
    s.last = t;
}

// The real time at which V reaches the smallest tag, rounded up to a whole picosecond.
std::optional<SimTime> ProcessorSharing::next_end(const Server& s) const {
    if (s.jobs.empty()) return std::nullopt;
    const double left = std::max(0.0, s.jobs.front().tag - s.virtual_now) * static_cast<double>(s.jobs.size());
    return s.last + SimTime::from_picoseconds(static_cast<std::int64_t>(std::ceil(left)));
}

void ProcessorSharing::arrive(std::size_t server, SimTime work, TaskId task) {
    if (work == SimTime::zero()) {
        engine_.finish(task);
        return;
    }
    Server& s = servers_[server];
    bring_to(s, engine_.now());
    s.jobs.push_back(Job{s.virtual_now + static_cast<double>(work.picoseconds()), arrivals_++, task});
    std::push_heap(s.jobs.begin(), s.jobs.end(), [](const Job& a, const Job& b) { return later(a.tag, a.order, b.tag, b.order); });
}

std::optional<SimTime> ProcessorSharing::next_event_time() const {
    std::optional<SimTime> next;
    for (const Server& s : servers_) {
        if (const std::optional<SimTime> t = next_end(s); t && (!next || *t < *next)) next = t;
    }
    return next;
}

void ProcessorSharing::advance_to(SimTime t) {
    std::vector<TaskId> done;
    const auto heap_order = [](const Job& a, const Job& b) { return later(a.tag, a.order, b.tag, b.order); };
    for (Server& s : servers_) {
        const std::optional<SimTime> end = next_end(s);
        bring_to(s, t);
        if (!end || *end > t) continue;
        // The smallest tag is reached (up to the rounding of its end): every job of that tag or less ends now.
        s.virtual_now = std::max(s.virtual_now, s.jobs.front().tag);
        while (!s.jobs.empty() && s.jobs.front().tag <= s.virtual_now) {
            std::pop_heap(s.jobs.begin(), s.jobs.end(), heap_order);
            done.push_back(s.jobs.back().task);
            s.jobs.pop_back();
        }
    }
    // Finished after every server is brought to t: a dependent that starts at once may arrive on any server.
    for (const TaskId id : done) engine_.finish(id);
}

}  // namespace gpuhours
