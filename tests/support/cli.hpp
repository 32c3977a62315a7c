// Runs the real `gpuhours` binary for end-to-end tests: the exit code and what it printed.
#pragma once

#include <catch2/catch.hpp>

#include <array>
#include <cstdio>
#include <string>
#include <sys/wait.h>

namespace gpuhours::test {

struct CliResult {
    int exit_code = -1;
    std::string out;  // stdout and stderr together
};

// `arguments` go to the shell after the binary's path; stderr is merged into stdout. Progress lines are off
// (GPUHOURS_PROGRESS=off): a slow machine or a sanitizer build would otherwise print them into `out`.
inline CliResult run_cli(const std::string& arguments) {
    const std::string command = "GPUHOURS_PROGRESS=off " + std::string(GPUHOURS_TEST_CLI) + " " + arguments + " 2>&1";
    CliResult r;
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE(pipe != nullptr);
    std::array<char, 4096> buffer{};
    std::size_t n = 0;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.out.append(buffer.data(), n);
    const int status = pclose(pipe);
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return r;
}

}  // namespace gpuhours::test
