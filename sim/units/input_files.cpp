#include <gpuhours/units/input_files.hpp>

#include <sys/stat.h>

#include <mutex>
#include <set>
#include <utility>

namespace gpuhours {

namespace {

std::mutex g_mutex;
std::set<std::pair<dev_t, ino_t>>& inputs() {
    static std::set<std::pair<dev_t, ino_t>> files;
    return files;
}

}  // namespace

void note_input_file(dev_t device, ino_t inode) {
    const std::lock_guard lock(g_mutex);
    inputs().emplace(device, inode);
}

void note_input_path(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) note_input_file(st.st_dev, st.st_ino);
}

bool is_input_file(const std::filesystem::path& path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return false;
    const std::lock_guard lock(g_mutex);
    return inputs().contains({st.st_dev, st.st_ino});
}

}  // namespace gpuhours
