// Table and JSON rendering.
#include "apps/rlctl/output.h"

#include <algorithm>
#include <iostream>

namespace rl::rlctl {

void Output::table(const std::vector<std::string>& headers,
                   const std::vector<std::vector<std::string>>& rows) const {
  std::vector<std::size_t> width(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i)
    width[i] = headers[i].size();
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  const auto line = [&](const std::vector<std::string>& cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      text += cells[i];
      if (i + 1 < cells.size()) text += std::string(width[i] - cells[i].size() + 2, ' ');
    }
    std::cout << text << "\n";
  };
  if (!quiet_) line(headers);
  for (const auto& row : rows)
    line(row);
}

void Output::fields(const std::vector<std::pair<std::string, std::string>>& pairs) const {
  std::size_t width = 0;
  for (const auto& [k, v] : pairs)
    width = std::max(width, k.size());
  for (const auto& [k, v] : pairs) {
    std::cout << k << ":" << std::string(width - k.size() + 1, ' ') << v << "\n";
  }
}

void Output::document(const nlohmann::json& value) const {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void Output::message(std::string_view text) const {
  if (!json_ && !quiet_) std::cout << text << "\n";
}

void Output::result(std::string_view text) const {
  if (!json_) std::cout << text << "\n";
}

}  // namespace rl::rlctl
