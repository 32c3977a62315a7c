// A scratch directory per test, removed with everything in it when the test ends.
#pragma once

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include <unistd.h>

namespace gpuhours::test {

// A scratch directory path for this test process: `name` under the system's temporary directory, suffixed with
// the process id, so that test cases ctest runs in parallel processes never share one.
inline std::filesystem::path scratch_path(const std::string& name) {
    return std::filesystem::temp_directory_path() / ("gpuhours-" + name + "-" + std::to_string(::getpid()));
}

struct TempDir {
    std::filesystem::path path;
    // `name` makes the directory unique among the tests (ctest runs test cases in parallel processes).
    explicit TempDir(const std::string& name) : path(scratch_path(name)) {
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

// A file's bytes ("" when it cannot be read).
inline std::string read_text(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace gpuhours::test
