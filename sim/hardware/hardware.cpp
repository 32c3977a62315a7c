#include <gpuhours/units/error.hpp>
#include <gpuhours/hardware/hardware.hpp>

#include <fmt/format.h>

namespace gpuhours {

FlopsPerSecond ChipProfile::peak(Precision p) const {
    if (auto it = peak_dense.find(p); it != peak_dense.end()) return it->second;
    std::string supported;
    for (const auto& [format, rate] : peak_dense) {
        if (!supported.empty()) supported += ", ";
        supported += to_string(format);
    }
    throw Error(fmt::format("chip \"{}\" has no {} peak in its catalog entry", id, to_string(p)),
                fmt::format("use one of the formats it supports ({}), or add a [compute] {} figure", supported,
                            to_string(p)));
}

std::string_view to_string(Fabric f) {
    switch (f) {
        case Fabric::single_node: return "single-node";
        case Fabric::fat_tree: return "fat-tree";
        case Fabric::rail_optimized: return "rail-optimized";
        case Fabric::multi_plane: return "multi-plane";
    }
    return "?";
}

std::optional<Fabric> fabric_from_string(std::string_view name) {
    for (Fabric f : {Fabric::single_node, Fabric::fat_tree, Fabric::rail_optimized, Fabric::multi_plane}) {
        if (to_string(f) == name) return f;
    }
    return std::nullopt;
}

}  // namespace gpuhours
