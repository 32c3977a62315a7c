// The executables' allocator (CMakeLists.txt, "the executables' allocator"): linked into gpuhours and the
// benchmarks, never into the library, so that a program embedding gpuhours_core keeps its own allocator.
//
// mimalloc replaces malloc and operator new for the whole process by being linked (Debian's libmimalloc2.0). Here
// it is given one arena of address space that asks for transparent huge pages (madvise(MADV_HUGEPAGE); Debian 12
// enables them for regions that ask: /sys/kernel/mm/transparent_hugepage/enabled is "madvise"), so a step's heap
// faults once per 2 MiB instead of once per 4 KiB. The arena is reserved, not allocated (MAP_NORESERVE): memory is
// backed as it is first touched, and mimalloc takes its segments from the arena before asking the OS. mimalloc's own
// large-OS-pages option does the same but is read when the library starts, before any code of ours runs, so it can
// only be set from the environment (MIMALLOC_LARGE_OS_PAGES; when that is set, it decides and no arena is made).
// Where the reservation fails (an address-space limit, as the fuzz test sets), nothing changes.
#if defined(GPUHOURS_WITH_MIMALLOC)
#include <mimalloc.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>

namespace {

bool huge_page_arena() {
    if (std::getenv("MIMALLOC_LARGE_OS_PAGES") != nullptr) return false;
    constexpr std::size_t kArena = std::size_t{64} << 30;  // address space, not memory
    constexpr std::size_t kAlign = std::size_t{64} << 20;  // mimalloc's segments are aligned within it
    void* p = mmap(nullptr, kArena + kAlign, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    const auto base = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t start = (base + kAlign - 1) & ~(kAlign - 1);
    if (start > base) munmap(p, start - base);
    const std::uintptr_t end = base + kArena + kAlign;
    if (end > start + kArena) munmap(reinterpret_cast<void*>(start + kArena), end - (start + kArena));
    // The segment mimalloc mapped when the process started (before this code; the first allocations live there,
    // and a step's first tens of megabytes with them) asks too: mimalloc aligns a segment to its size (32 MiB in
    // version 2, MI_SEGMENT_SIZE), so a small block's address rounded down to that is its segment's start.
    constexpr std::size_t kSegment = std::size_t{32} << 20;
    void* first = mi_malloc(16);
    (void)madvise(reinterpret_cast<void*>(reinterpret_cast<std::uintptr_t>(first) & ~(kSegment - 1)), kSegment, MADV_HUGEPAGE);
    mi_free(first);
    void* arena = reinterpret_cast<void*>(start);
    (void)madvise(arena, kArena, MADV_HUGEPAGE);  // a kernel without THP keeps small pages: still correct
    if (!mi_manage_os_memory(arena, kArena, /*is_committed=*/true, /*is_large=*/false, /*is_zero=*/true, /*numa_node=*/-1)) {
        munmap(arena, kArena);
        return false;
    }
    return true;
}

const bool arena_made = huge_page_arena();

}  // namespace
#endif
