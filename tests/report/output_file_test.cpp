// The one writer of output files: checked before any work, written through an exclusive temporary beside the
// target, never through a symbolic link, and no temporary left behind by a failure or a signal.
#include <gpuhours/report/output_file.hpp>
#include <gpuhours/units/error.hpp>

#include "../support/temp_dir.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

namespace fs = std::filesystem;
using gpuhours::Error;
using gpuhours::report::check_output_path;
using gpuhours::report::write_file_atomically;

namespace {

using gpuhours::test::TempDir;

std::string read_text(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

std::vector<std::string> names_in(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST_CASE("a file is written whole and nothing else is left in its directory") {
    const TempDir dir("output-whole");
    write_file_atomically(dir.path / "out.csv", "a,b\n", "-o");
    write_file_atomically(dir.path / "out.csv", "c,d\n", "-o");  // replacing a regular file is fine
    CHECK(read_text(dir.path / "out.csv") == "c,d\n");
    CHECK(names_in(dir.path) == std::vector<std::string>{"out.csv"});
}

TEST_CASE("a file replaced keeps its permissions") {
    // A private file (0600) rewritten by -o stays 0600: the temporary was created 0666 less the umask and the rename
    // put 0644 in its place (a report audit, session 52).
    const TempDir dir("output-mode");
    const fs::path target = dir.path / "private.json";
    write_file_atomically(target, "{}\n", "-o");
    fs::permissions(target, fs::perms::owner_read | fs::perms::owner_write);
    write_file_atomically(target, "[]\n", "-o");
    CHECK(read_text(target) == "[]\n");
    CHECK(fs::status(target).permissions() == (fs::perms::owner_read | fs::perms::owner_write));
}

TEST_CASE("a read-only file is not replaced behind its permissions") {
    // rename() needs only the directory's write permission, so it replaced a file its owner had made read-only
    // (session 51's audit). The owner's write bit decides (root included): refused with the flag named, and the file
    // and its directory left as they were.
    const TempDir dir("output-read-only");
    const fs::path target = dir.path / "kept.json";
    write_file_atomically(target, "{}\n", "-o");
    fs::permissions(target, fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
    CHECK_THAT(error_of([&] { check_output_path(target, "-o"); }), Catch::Contains("-o") && Catch::Contains("is read-only"));
    CHECK_THAT(error_of([&] { write_file_atomically(target, "[]\n", "-o"); }), Catch::Contains("chmod u+w"));
    CHECK(read_text(target) == "{}\n");
    CHECK(names_in(dir.path) == std::vector<std::string>{"kept.json"});
    fs::permissions(target, fs::perms::owner_write, fs::perm_options::add);
}

TEST_CASE("a symbolic link at the target or at the old temporary's name is never followed") {
    const TempDir dir("output-links");
    const fs::path victim = dir.path / "victim";
    std::ofstream(victim) << "keep";
    SECTION("at the target: refused, the link and its target untouched") {
        fs::create_symlink(victim, dir.path / "out.html");
        CHECK_THAT(error_of([&] { write_file_atomically(dir.path / "out.html", "x", "-o"); }),
                   Catch::Contains("-o \"" + (dir.path / "out.html").string() + "\" is a symbolic link"));
        CHECK(fs::is_symlink(dir.path / "out.html"));
    }
    SECTION("at out.html.tmp, the name the writer used to write through") {
        fs::create_symlink(victim, dir.path / "out.html.tmp");
        write_file_atomically(dir.path / "out.html", "report", "-o");
        CHECK(read_text(dir.path / "out.html") == "report");
        CHECK(fs::is_symlink(dir.path / "out.html.tmp"));
    }
    // The writer's own temporaries have twelve random characters and are created with O_EXCL | O_NOFOLLOW, which
    // fails on any existing name, a link included, and the writer then draws another name.
    CHECK(read_text(victim) == "keep");
}

TEST_CASE("a directory, a device, a FIFO or a missing directory is refused before any work, naming the flag") {
    const TempDir dir("output-refused");
    fs::create_directories(dir.path / "folder");
    const fs::path fifo = dir.path / "fifo";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THAT(error_of([&] { check_output_path(dir.path / "folder", "-o"); }), Catch::Contains("is a directory"));
    CHECK_THAT(error_of([&] { check_output_path("/dev/null", "--trace"); }),
               Catch::Contains("--trace \"/dev/null\" is a device, not a regular file"));
    CHECK_THAT(error_of([&] { check_output_path(fifo, "-o"); }), Catch::Contains("is a FIFO"));
    CHECK_THAT(error_of([&] { check_output_path(dir.path / "missing" / "out.csv", "--output"); }),
               Catch::Contains("the directory \"" + (dir.path / "missing").string() + "\" does not exist"));
    // The device is still a device: a refused write never replaces it.
    CHECK_THAT(error_of([&] { write_file_atomically("/dev/null", "x", "-o"); }), Catch::Contains("is a device"));
    struct stat st {};
    REQUIRE(::stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
}

TEST_CASE("SIGTERM removes a live temporary and still ends the process by the signal") {
    const TempDir dir("output-signal");
    const fs::path tmp = dir.path / ".out.csv.abcdefghijkl.tmp";
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::signal(SIGTERM, SIG_DFL);  // the process's own disposition, not the test framework's reporter
        gpuhours::report::detail::LiveTemporary live(tmp);
        std::ofstream(tmp) << "half";
        ::raise(SIGTERM);
        ::_exit(0);  // not reached: the handler re-raises with the default disposition
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGTERM);
    CHECK_FALSE(fs::exists(tmp));
}

TEST_CASE("\"-\" is refused as an output file rather than written as a file of that name") {
    // `run --trace -` wrote a file named "-" in the current directory and exited 0 (an audit): "-" means standard
    // output to most tools, and these files are written whole, so the name is refused with the flag named.
    CHECK_THAT(error_of([&] { check_output_path("-", "--trace"); }),
               Catch::Contains("--trace - : this command writes its file whole, not to standard output"));
    CHECK_THAT(error_of([&] { write_file_atomically("-", "{}\n", "-o"); }), Catch::Contains("-o - :"));
    CHECK_FALSE(fs::exists("-"));
}
