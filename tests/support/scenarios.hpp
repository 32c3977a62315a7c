// Scenario files the end-to-end tests share.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace gpuhours::test {

// A small run, quick to simulate: Llama 3.1 8B on 16 H100 (TP2 PP2 DP4, so only 16 GPUs are valid unless
// parallelism.data changes with cluster.gpus), 20B tokens, one failure class, a $1.5–$3.5 price range and the
// claim "under $10K". Written as `dir`/small.toml.
inline std::filesystem::path write_small_run(const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    const auto file = dir / "small.toml";
    std::ofstream(file) << "title = \"small\"\nmodel = \"llama-3.1-8b\"\n"
                           "[cluster]\nchip = \"h100\"\ngpus = 16\ngpus_per_node = 8\n"
                           "[parallelism]\ntensor = 2\npipeline = 2\ndata = 4\n"
                           "[training]\ntokens = \"20B\"\nsequence_length = 8192\nglobal_batch = 64\n"
                           "[reliability]\nrestart_time = \"10 min\"\ncheckpoint_write = \"30 s\"\n"
                           "[[reliability.failures]]\nname = \"GPU\"\nmtbf_per_gpu = \"2000 h\"\n"
                           "[pricing]\ngpu_hour = { low = \"$1.5\", high = \"$3.5\" }\n"
                           "[[claims]]\ntext = \"under $10K\"\ncost_below = \"$10K\"\n";
    return file;
}

// The small run's `tokens = "20B"` (line 12) turned into a comment, for a test that appends [[phases]]: tokens
// beside phases of the same file are refused. Every other line keeps its number.
inline void comment_out_tokens(const std::filesystem::path& file) {
    std::string text;
    {
        std::ifstream in(file);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const std::string from = "tokens = \"20B\"\n";
    if (const auto at = text.find(from); at != std::string::npos) text.replace(at, from.size(), "# tokens: given by [[phases]]\n");
    std::ofstream(file) << text;
}

}  // namespace gpuhours::test
