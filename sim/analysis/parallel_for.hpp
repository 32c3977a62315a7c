// Runs independent work items on threads (an implementation helper of the analysis layer, not public API).
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <thread>
#include <vector>

namespace gpuhours::detail {

// Threads to use for `work` items: `wanted`, or all cores when 0, never more than the items.
inline unsigned thread_count(unsigned wanted, std::size_t work) {
    const unsigned cores = wanted != 0 ? wanted : std::max(1u, std::thread::hardware_concurrency());
    return std::max(1u, std::min<unsigned>(cores, static_cast<unsigned>(std::max<std::size_t>(1, work))));
}

// Runs body(i, t) for i in [0, n), item i on thread t = i % threads; rethrows the first error after all join.
// Each item writes only its own results, so results never depend on the thread count.
template <class Body>
void parallel_for(std::size_t n, unsigned threads, Body body) {
    std::vector<std::thread> pool;
    std::vector<std::exception_ptr> errors(threads);
    for (unsigned t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            try {
                for (std::size_t i = t; i < n; i += threads) body(i, t);
            } catch (...) {
                errors[t] = std::current_exception();
            }
        });
    }
    for (auto& th : pool) th.join();
    for (const auto& e : errors) {
        if (e) std::rethrow_exception(e);
    }
}

}  // namespace gpuhours::detail
