// The one way a command writes a file (report -o, run --trace, sweep -o): the path is checked before any work, the
// content goes to a temporary created exclusively beside the target (never through a symbolic link), and a rename
// puts it in place whole. A failed write, SIGINT or SIGTERM removes the temporary.
#pragma once

#include <filesystem>
#include <string_view>

namespace gpuhours::report {

// Checks that the file `path`, given by the option `flag` ("-o", "--trace"), can be written, before the command
// computes anything: its directory exists and is writable, and the path is absent or a regular file its owner may
// write — a directory, a device, a FIFO, a socket, a symbolic link or a file without its owner's write bit is
// refused, and so is a file the command has read as input (units/input_files.hpp: the scenario, its bases, the
// catalogs). Throws gpuhours::Error naming the flag.
void check_output_path(const std::filesystem::path& path, std::string_view flag);

// Writes `content` to `path` whole or not at all: a uniquely named temporary in the same directory, created with
// O_CREAT | O_EXCL | O_NOFOLLOW, given the permissions of the file it replaces (a new file: 0666 less the umask),
// synced to disk (fsync), then renamed onto `path` (checked again first, as check_output_path). The temporary is
// removed on any failure, and on SIGINT or SIGTERM while it exists. Throws gpuhours::Error naming `flag` and the path.
void write_file_atomically(const std::filesystem::path& path, std::string_view content, std::string_view flag);

namespace detail {

// A temporary file's name registered for removal by the SIGINT / SIGTERM handler while this object lives (the
// handler unlinks every registered name, then re-raises the signal with the disposition it found). The process
// has one registry, a fixed table the handler can read without locks: a signal handler can reach nothing else.
class LiveTemporary {
public:
    explicit LiveTemporary(const std::filesystem::path& path);
    ~LiveTemporary();
    LiveTemporary(const LiveTemporary&) = delete;
    LiveTemporary& operator=(const LiveTemporary&) = delete;

private:
    int slot_ = -1;  // -1: the table was full or the name too long (the file is then only removed on failure)
};

}  // namespace detail

}  // namespace gpuhours::report
