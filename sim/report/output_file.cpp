// Output files written whole, never through a link, with their temporaries removed on failure and on signals.
#include <gpuhours/report/output_file.hpp>

#include <gpuhours/units/error.hpp>
#include <gpuhours/units/input_files.hpp>

#include <fmt/format.h>

#include <atomic>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace gpuhours::report {
namespace {

// ---- the registry of live temporaries and the signal handler ------------------------------------------------

// A slot is free (0), being filled (1) or names a live temporary (2). The handler reads only slots in state 2;
// lock-free atomics and unlink(2) are async-signal-safe.
struct Slot {
    std::atomic<int> state{0};
    char path[PATH_MAX] = {};
};
constexpr int kSlots = 16;  // temporaries alive at once: one per writing thread is the most the commands need
Slot g_slots[kSlots];       // process-wide: a signal handler cannot be handed state
constexpr int kSignals[] = {SIGINT, SIGTERM};
struct sigaction g_previous[2];

void on_signal(int sig) {
    for (Slot& slot : g_slots) {
        if (slot.state.load() == 2) (void)::unlink(slot.path);
    }
    for (int i = 0; i < 2; ++i) {
        if (kSignals[i] == sig) (void)::sigaction(sig, &g_previous[i], nullptr);
    }
    (void)::raise(sig);  // the disposition found before: by default the process ends by this signal
}

// Installs the handler for the signals the process does not ignore (a job started with SIGINT ignored keeps
// ignoring it), keeping the disposition it replaces. Checked at each new temporary rather than once: whoever set
// another handler since (a test framework, a library) is then the disposition the handler re-raises with.
void install_handler() {
    static std::mutex mutex;
    std::lock_guard lock(mutex);
    for (int i = 0; i < 2; ++i) {
        struct sigaction current {};
        if (::sigaction(kSignals[i], nullptr, &current) != 0) continue;
        if (current.sa_handler == SIG_IGN || current.sa_handler == on_signal) continue;
        g_previous[i] = current;
        struct sigaction mine {};
        mine.sa_handler = on_signal;
        sigemptyset(&mine.sa_mask);
        (void)::sigaction(kSignals[i], &mine, nullptr);
    }
}

// ---- checks ----------------------------------------------------------------------------------------------

std::filesystem::path directory_of(const std::filesystem::path& path) {
    const std::filesystem::path parent = path.parent_path();
    return parent.empty() ? std::filesystem::path(".") : parent;
}

// The target itself: absent or a regular file. lstat, so a link is seen as a link and never followed.
void check_target(const std::filesystem::path& path, std::string_view flag) {
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
        if (errno == ENOENT) return;
        throw Error(fmt::format("{} \"{}\": {}", flag, path.string(), std::strerror(errno)),
                    fmt::format("name a file gpuhours can create, with {}", flag));
    }
    if (S_ISREG(st.st_mode)) {
        // A file its owner made read-only (no owner write bit), or one this user may not write (another user's), is
        // not replaced behind its permissions: rename needs only the directory's, and the new file would be this
        // user's. The owner's bit is judged on the mode, so that root too keeps a file made read-only.
        if ((st.st_mode & S_IWUSR) == 0 || (::geteuid() != 0 && ::access(path.c_str(), W_OK) != 0)) {
            throw Error(fmt::format("{} \"{}\" is read-only ({})", flag, path.string(),
                                    (st.st_mode & S_IWUSR) == 0 ? "its owner may not write it" : "you may not write it"),
                        fmt::format("make it writable (chmod u+w), or give {} another file", flag));
        }
        return;
    }
    const char* what = S_ISDIR(st.st_mode)   ? "is a directory"
                       : S_ISLNK(st.st_mode) ? "is a symbolic link (gpuhours does not write through links)"
                       : S_ISFIFO(st.st_mode) ? "is a FIFO, not a regular file"
                       : S_ISSOCK(st.st_mode) ? "is a socket, not a regular file"
                                              : "is a device, not a regular file";
    throw Error(fmt::format("{} \"{}\" {}", flag, path.string(), what),
                fmt::format("give {} the path of a regular file to create or replace", flag));
}

// A fresh name beside the target: ".NAME.XXXXXXXXXXXX.tmp" with twelve random letters and digits (NAME cut to
// 100 bytes, so the temporary's name stays within NAME_MAX).
std::filesystem::path temporary_name(const std::filesystem::path& path) {
    static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    static std::mutex mutex;
    static std::mt19937_64 rng{std::random_device{}()};
    std::string suffix(12, 'x');
    {
        std::lock_guard lock(mutex);
        for (char& c : suffix) c = kAlphabet[rng() % (sizeof(kAlphabet) - 1)];
    }
    return directory_of(path) / fmt::format(".{}.{}.tmp", path.filename().string().substr(0, 100), suffix);
}

bool write_all(int fd, std::string_view content) {
    std::size_t written = 0;
    while (written < content.size()) {
        const ssize_t n = ::write(fd, content.data() + written, content.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        written += static_cast<std::size_t>(n);
    }
    return true;
}

}  // namespace

namespace detail {

LiveTemporary::LiveTemporary(const std::filesystem::path& path) {
    install_handler();
    const std::string& text = path.native();
    if (text.size() >= PATH_MAX) return;
    for (int i = 0; i < kSlots; ++i) {
        int expected = 0;
        if (!g_slots[i].state.compare_exchange_strong(expected, 1)) continue;
        std::memcpy(g_slots[i].path, text.c_str(), text.size() + 1);
        g_slots[i].state.store(2);
        slot_ = i;
        return;
    }
}

LiveTemporary::~LiveTemporary() {
    if (slot_ >= 0) g_slots[slot_].state.store(0);
}

}  // namespace detail

void check_output_path(const std::filesystem::path& path, std::string_view flag) {
    if (path.empty() || !path.has_filename()) {
        // The hint names no extension: each command takes its own (report .html, sweep .csv or .json).
        throw Error(fmt::format("{} needs a file name, got \"{}\"", flag, path.string()),
                    path.empty() ? fmt::format("give {} the path of the file to write", flag)
                                 : fmt::format("add the file's name after the directory: {} {}NAME", flag, path.string()));
    }
    // "-" reads as standard output elsewhere; here it would make a file named "-" (an audit of --trace).
    if (path == "-") {
        throw Error(fmt::format("{} - : this command writes its file whole, not to standard output", flag),
                    fmt::format("give {} a file name, e.g. {} out.json", flag, flag));
    }
    check_target(path, flag);
    if (is_input_file(path)) {
        throw Error(fmt::format("{} \"{}\" is a file this command reads (a scenario, a base it extends or a catalog): "
                                "writing it would replace that input", flag, path.string()),
                    "write the output to another file");
    }
    const std::filesystem::path dir = directory_of(path);
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
        throw Error(fmt::format("{} \"{}\": the directory \"{}\" does not exist", flag, path.string(), dir.string()),
                    "create the directory first, or write the file elsewhere");
    }
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        throw Error(fmt::format("{} \"{}\": cannot write in the directory \"{}\": {}", flag, path.string(), dir.string(),
                                std::strerror(errno)),
                    "write the file in a directory you can write to");
    }
}

void write_file_atomically(const std::filesystem::path& path, std::string_view content, std::string_view flag) {
    check_output_path(path, flag);  // again: the path may have changed while the command computed
    std::filesystem::path tmp;
    int fd = -1;
    std::optional<detail::LiveTemporary> live;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        tmp = temporary_name(path);
        live.emplace(tmp);  // registered before it exists, so no moment has it on disk unregistered
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0666);
        if (fd < 0) {
            live.reset();
            if (errno != EEXIST) break;
        }
    }
    if (fd < 0) {
        throw Error(fmt::format("{} \"{}\": cannot create a temporary file beside it: {}", flag, path.string(), std::strerror(errno)),
                    "check that the directory is writable");
    }
    // A file replaced keeps its permissions (a private 0600 file came back 0644 under the umask); a new one gets
    // 0666 less the umask, as the shell's `>` gives it.
    struct stat old {};
    // The permission bits only (0777): no set-user-ID, set-group-ID or sticky bit passes to what gpuhours writes.
    if (::lstat(path.c_str(), &old) == 0 && S_ISREG(old.st_mode) && ::fchmod(fd, old.st_mode & 0777) != 0) {
        const int err = errno;
        (void)::close(fd);
        (void)::unlink(tmp.c_str());
        throw Error(fmt::format("{} \"{}\": cannot give the new file the permissions of the one it replaces: {}", flag, path.string(),
                                std::strerror(err)),
                    fmt::format("give {} a file you own, or a new one", flag));
    }
    // On disk before the rename publishes it (fsync): a crash after the rename then leaves the whole new file, not
    // an empty one under the target's name.
    const bool written = write_all(fd, content) && ::fsync(fd) == 0;
    const int write_errno = errno;
    const bool closed = ::close(fd) == 0;
    if (!written || !closed) {
        (void)::unlink(tmp.c_str());
        throw Error(fmt::format("{} \"{}\": writing failed: {}", flag, path.string(), std::strerror(written ? errno : write_errno)),
                    "check free disk space");
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        (void)::unlink(tmp.c_str());
        throw Error(fmt::format("{} \"{}\": cannot replace it: {}", flag, path.string(), std::strerror(err)));
    }
}

}  // namespace gpuhours::report
