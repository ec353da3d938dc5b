// Docker's tables: Go's text/tabwriter as the docker CLI configures it. Every cell but the
// last of a line ends a column; a column is as wide as its widest cell plus padding, and at
// least min_width. The last cell is printed as it is. Widths count UTF-8 code points, as
// tabwriter does (utf8.RuneCount), so a truncated "abc…" is 4 wide, not 6.
#pragma once

#include <string>
#include <vector>

namespace skiff::engine {

// docker ps/images/stats use (10, 3); docker top uses (20, 3).
// The code points of s (bytes that are not UTF-8 continuation bytes).
size_t DisplayWidth(const std::string& s);

std::string TabTable(const std::vector<std::vector<std::string>>& rows, size_t min_width = 10,
                     size_t padding = 3);

}  // namespace skiff::engine
