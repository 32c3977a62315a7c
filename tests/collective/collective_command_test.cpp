// `gpuhours collective` end to end: the real binary and the chip catalog in scenarios/chips/.
#include "../support/cli.hpp"

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>
#include <sys/wait.h>

namespace {

using gpuhours::test::run_cli;

const std::string kCatalog = std::string(GPUHOURS_TEST_SOURCE_DIR) + "/scenarios";

bool have_chip(const std::string& id) { return std::filesystem::exists(kCatalog + "/chips/" + id + ".toml"); }

}  // namespace

TEST_CASE("gpuhours collective all-reduce on two H100 nodes says the NIC limits it") {
    if (!have_chip("h100")) {
        WARN("scenarios/chips/h100.toml not found; skipped");
        return;
    }
    // 16 H100 on a fat-tree: 8 rail-aligned rings, each NIC carries one ring's share while NVLink carries seven,
    // and the catalog's 50 GB/s NIC (× its efficiency) is below 8/7 of its NVLink figure ⇒ the NIC limits.
    const auto r = run_cli("collective all-reduce --chip h100 --gpus 16 --gpus-per-node 8 --sizes 1GiB:2GiB "
                             "--algorithm ring --catalog " + kCatalog);
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("NIC (nic→leaf)"));
    CHECK_THAT(r.out, Catch::Contains("busbw"));
}

TEST_CASE("gpuhours collective --json reports each size with its limiting link") {
    if (!have_chip("h800")) {
        WARN("scenarios/chips/h800.toml not found; skipped");
        return;
    }
    const auto r = run_cli("collective all-to-all --chip h800 --gpus 16 --fabric multi-plane --sizes 1MiB:4MiB --json "
                             "--catalog " + kCatalog);
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("\"collective\": \"all-to-all\""));
    CHECK_THAT(r.out, Catch::Contains("\"size_bytes\": 4194304"));
    CHECK_THAT(r.out, Catch::Contains("\"limiting_link\""));
}

TEST_CASE("gpuhours collective rejects an unknown algorithm with the known ones") {
    const auto r = run_cli("collective all-reduce --chip h100 --algorithm rings --catalog " + kCatalog);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("ring, tree, hierarchical"));
    CHECK_THAT(r.out, Catch::Contains("did you mean \"ring\""));
}

TEST_CASE("gpuhours collective names --algorithm where the operation or the GPUs cannot run it, and says a node is hypothetical") {
    // Reduce-scatter has only the ring; a hierarchical all-reduce needs two nodes (2 GPUs are one node of the H100's 8).
    const auto rs = run_cli("collective reduce-scatter --chip h100 --gpus 16 --algorithm tree --catalog " + kCatalog);
    CHECK(rs.exit_code == 2);
    CHECK_THAT(rs.out, Catch::Contains("error: --algorithm tree: reduce-scatter has no tree algorithm"));
    const auto one = run_cli("collective all-reduce --chip h100 --gpus 2 --algorithm hierarchical --catalog " + kCatalog);
    CHECK(one.exit_code == 2);
    CHECK_THAT(one.out, Catch::Contains("error: --algorithm hierarchical: hierarchical all-reduce needs"));
    // 16 GPUs per node on the H100 (NVSwitch domain 8) ran as a 16-GPU NVLink node unsaid.
    const auto wide = run_cli("collective all-reduce --chip h100 --gpus 32 --gpus-per-node 16 --sizes 1MiB --catalog " + kCatalog);
    CHECK(wide.exit_code == 0);
    CHECK_THAT(wide.out, Catch::Contains("16 per node, above the h100's scale-up domain of 8: a hypothetical node"));
    const auto own = run_cli("collective all-reduce --chip h100 --gpus 32 --sizes 1MiB --catalog " + kCatalog);
    CHECK_THAT(own.out, !Catch::Contains("hypothetical"));
}

TEST_CASE("gpuhours collective names its own flag where a fabric rule cannot hold the GPUs") {
    // Three tiers of radix-64 switches hold 64³/4 = 65,536 GPUs: 131,072 need --switch-radix 128 (the scenario's
    // cluster.switch_radix), refused before any topology is built.
    const auto r = run_cli("collective all-reduce --chip h100 --gpus 131072 --sizes 1GiB --catalog " + kCatalog);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("--switch-radix 128"));
    CHECK_THAT(r.out, !Catch::Contains("cluster.switch_radix"));
    // 12 GPUs in the H100's nodes of 8: the message named cluster.gpus and gpus_per_node, scenario keys this command
    // does not take; now its flags, in the message and the hint.
    const auto partial = run_cli("collective all-reduce --chip h100 --gpus 12 --catalog " + kCatalog);
    CHECK(partial.exit_code == 2);
    CHECK_THAT(partial.out, Catch::Contains("error: --gpus 12 is not a multiple of --gpus-per-node 8"));
    CHECK_THAT(partial.out, Catch::Contains("or change --gpus-per-node"));
    CHECK_THAT(partial.out, !Catch::Contains("cluster."));
}

TEST_CASE("gpuhours collective --sizes takes a list, as its help says") {
    if (!have_chip("h800")) {
        WARN("scenarios/chips/h800.toml not found; skipped");
        return;
    }
    // 1 MiB = 1,048,576 B, then the range 1 GiB:2 GiB = 1,073,741,824 and 2,147,483,648 B: three rows in order.
    const auto r = run_cli("collective all-reduce --chip h800 --gpus 16 --sizes 1MiB,1GiB:2GiB --json --catalog " + kCatalog);
    INFO(r.out);
    CHECK(r.exit_code == 0);
    const auto a = r.out.find("\"size_bytes\": 1048576");
    const auto b = r.out.find("\"size_bytes\": 1073741824");
    const auto c = r.out.find("\"size_bytes\": 2147483648");
    REQUIRE(a != std::string::npos);
    REQUIRE(b != std::string::npos);
    REQUIRE(c != std::string::npos);
    CHECK(a < b);
    CHECK(b < c);
    const auto bad = run_cli("collective all-reduce --chip h800 --gpus 16 --sizes 1MiB,,1GiB --catalog " + kCatalog);
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.out, Catch::Contains("empty item"));
    // A message is whole bytes: "1b" (a bit, 0.125 B) and 0.5 B are refused, as 0 B is (they ran as "0.125 B").
    for (const char* size : {"1b", "0.5B", "2B:2.5B"}) {
        const auto part = run_cli(fmt::format("collective all-reduce --chip h800 --gpus 16 --sizes {} --catalog {}", size, kCatalog));
        INFO(size << "\n" << part.out);
        CHECK(part.exit_code == 2);
        CHECK_THAT(part.out, Catch::Contains("is not a whole number of bytes"));
    }
}

TEST_CASE("gpuhours collective says latency bounds a small message, and a link a large one") {
    // A ring all-reduce of 1 B on 8 H100 of one node: 2 × 7 steps of NVLink latency (3.33 µs each at the catalog's
    // figure) and no bytes to speak of, so nearly all of its time is latency; 1 GiB moves 2 × 7/8 GiB through each
    // GPU's NVLink port at 450 × 0.82 = 369 GB/s, about 5 ms against 47 µs of latency: the link bounds it. The
    // row named the NVLink link for both (a fresh user's hunt, session 38).
    const auto r = run_cli("collective all-reduce --chip h100 --gpus 8 --algorithm ring --sizes 1B,1GiB --catalog " + kCatalog);
    INFO(r.out);
    REQUIRE(r.exit_code == 0);
    const auto small = r.out.find("1 B ");
    const auto large = r.out.find("1.074 GB ");
    REQUIRE(small != std::string::npos);
    REQUIRE(large != std::string::npos);
    const std::string small_row = r.out.substr(small, r.out.find('\n', small) - small);
    const std::string large_row = r.out.substr(large, r.out.find('\n', large) - large);
    CHECK_THAT(small_row, Catch::Contains("latency (100% of the time)") || Catch::Contains("latency (99% of the time)"));
    CHECK_THAT(large_row, Catch::Contains("NVLink") && !Catch::Contains("latency"));
}

TEST_CASE("gpuhours collective reproduces DeepEP's EP64 dispatch and combine with the node-forwarded all-to-all (#15)") {
    if (!have_chip("h800")) {
        WARN("scenarios/chips/h800.toml not found; skipped");
        return;
    }
    // DeepSeek-V3's MoE layer on 64 H800 (8 nodes, multi-plane), 4,096 tokens per GPU, top-8 over at most 4 nodes:
    // a rank's unmerged buffer is 4,096 × 8 × 7,168 elements, 242,221,056 B in FP8 with its scales (1.03125 B per
    // element) and 469,762,048 B in BF16. Sent once per node: node merge min(4, 8)/8 = 0.5; once per GPU: 0.92
    // (4 experts per GPU, docs/moe.md). Each NIC carries 7 nodes × 0.5 × 8 × S/64 = 0.4375 S at the catalog's
    // 50 GB/s × 0.97 = 48.5 GB/s: dispatch 105,971,712 B → 2.185 ms, combine 205,520,896 B → 4.238 ms (+ two route
    // latencies, µs). NVLink relays 7 × 8 × 0.92 × S/64 = 0.805 S at 160 GB/s: 1.22 and 2.36 ms, below the NIC's.
    // DeepEP's published 51 and 50 GB/s of RDMA bottleneck bandwidth give 2.1–2.4 and 4.1–4.7 ms (shared/reference).
    const auto time_of = [](const std::string& size) {
        const auto r = run_cli("collective all-to-all --chip h800 --gpus 64 --fabric multi-plane --algorithm node-forwarded "
                               "--node-merge 0.5 --gpu-merge 0.92 --json --sizes " + size + " --catalog " + kCatalog);
        INFO(r.out);
        REQUIRE(r.exit_code == 0);
        const auto at = r.out.find("\"time_s\": ");
        REQUIRE(at != std::string::npos);
        return std::stod(r.out.substr(at + 10));
    };
    const double dispatch = time_of("242221056B");
    const double combine = time_of("469762048B");
    CHECK(dispatch == Approx(105971712.0 / 48.5e9).epsilon(0.01));
    CHECK(combine == Approx(205520896.0 / 48.5e9).epsilon(0.01));
    CHECK(dispatch > 2.1e-3);
    CHECK(dispatch < 2.4e-3);
    CHECK(combine > 4.1e-3);
    CHECK(combine < 4.7e-3);
    // The merges belong to the node-forwarded algorithm and are shares.
    auto r = run_cli("collective all-to-all --chip h800 --gpus 64 --node-merge 0.5 --catalog " + kCatalog);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("--node-merge applies to the node-forwarded all-to-all only"));
    r = run_cli("collective all-to-all --chip h800 --gpus 64 --algorithm node-forwarded --gpu-merge 1.5 --catalog " + kCatalog);
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.out, Catch::Contains("--gpu-merge 1.5 is not a share in (0, 1]"));
}

TEST_CASE("gpuhours collective runs on nodes of more than 32,767 GPUs") {
    if (!have_chip("h100")) {
        WARN("scenarios/chips/h100.toml not found; skipped");
        return;
    }
    // Two nodes of 32,769 GPUs (gpus_per_node may reach 100,000): a GPU's index in its node was kept in 16 bits for
    // routing, went negative past 32,767 and the router divided by zero (SIGFPE; a reviewer, session 37). A send
    // between the nodes' first GPUs crosses one NIC each way: 1 MiB at the NIC's 50 GB/s × 0.97 = 48.5 GB/s is
    // 21.6 µs of transfer, the NIC the limit.
    const auto r = run_cli("collective send-recv --chip h100 --gpus 65538 --gpus-per-node 32769 --switch-radix 128 "
                           "--sizes 1MiB --catalog " + kCatalog);
    INFO(r.out);
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("NIC (nic→leaf) 48.5 GB/s"));
}
