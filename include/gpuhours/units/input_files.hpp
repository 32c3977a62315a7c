// The files this process has read as input (scenarios, their bases, catalogs, rule sets), so that no output option
// can overwrite one of them: `run --trace scenario.toml` or `sweep -o chips/h100.toml --format csv` would otherwise
// replace the file with the command's output (whole, as every output is written, but the input is gone).
// Files are known by device and inode, so another spelling of the path, a hard link or a symbolic link to one is the
// same file. Thread-safe: a sweep's points load their scenarios on several threads.
#pragma once

#include <filesystem>
#include <sys/types.h>

namespace gpuhours {

// Records the file with this device and inode (from fstat of the descriptor it was read through).
void note_input_file(dev_t device, ino_t inode);
// Records the file at `path` when it exists (a command's scenario argument, before it is read); nothing otherwise.
void note_input_path(const std::filesystem::path& path);
// True when `path` names an existing file that was recorded as an input (stat follows symbolic links).
[[nodiscard]] bool is_input_file(const std::filesystem::path& path);

}  // namespace gpuhours
