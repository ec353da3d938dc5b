#include "engine/table.h"

#include <algorithm>

namespace skiff::engine {

size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

std::string TabTable(const std::vector<std::vector<std::string>>& rows, size_t min_width,
                     size_t padding) {
  std::vector<size_t> width;
  for (const auto& r : rows) {
    for (size_t i = 0; i + 1 < r.size(); ++i) {
      if (width.size() <= i) width.resize(i + 1, min_width);
      width[i] = std::max(width[i], DisplayWidth(r[i]) + padding);
    }
  }
  std::string out;
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i) {
      out += r[i];
      if (i + 1 < r.size()) out.append(width[i] - DisplayWidth(r[i]), ' ');
    }
    out += '\n';
  }
  return out;
}

}  // namespace skiff::engine
