// A topology as a Boost.Graph, for Boost's graph algorithms. A header of its own so that the files which only use
// a Topology's arrays (nearly all: the network, the step, the scenario through them) do not parse Boost.Graph:
// <boost/graph/adjacency_list.hpp> took about 4 s of each translation unit's front end (session 56, g++ 12).
#pragma once

#include <gpuhours/hardware/topology.hpp>

#include <boost/graph/adjacency_list.hpp>

namespace gpuhours {

// Vertex v is the topology's vertex v, carrying its VertexInfo; each directed link l is an edge from its `from` to its
// `to` carrying l.
using TopologyGraph = boost::adjacency_list<boost::vecS, boost::vecS, boost::directedS, VertexInfo, LinkId>;

// The topology as a TopologyGraph, a vertex's edges in link order. Built anew at each call, O(vertices + links): a
// directed adjacency_list allocates each edge's property on the heap, so it is not kept beside the arrays.
[[nodiscard]] TopologyGraph boost_graph(const Topology& topology);

}  // namespace gpuhours
