// IP addresses and CIDR ranges as values: parsed from text with inet_pton, IPv4 kept as
// IPv4-mapped IPv6 so one representation serves both. The "client key" under which invalid
// attempts are counted and blocks held is the address for IPv4 and the /64 network for IPv6
// (one host usually owns a whole /64, so per-address blocking would be trivially evaded).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rl::security {

class IpAddress {
 public:
  IpAddress() = default;  // "::", the unspecified address (a Unix-socket peer)
  static std::optional<IpAddress> parse(std::string_view text);
  static IpAddress from_v4(const std::array<std::uint8_t, 4>& bytes);
  static IpAddress from_v6(const std::array<std::uint8_t, 16>& bytes);  // folds IPv4-mapped

  bool is_v4() const;
  bool is_unspecified() const { return bytes_ == std::array<std::uint8_t, 16>{}; }
  bool is_loopback() const;
  const std::array<std::uint8_t, 16>& bytes() const { return bytes_; }

  void append_to(std::string& out) const;
  std::string to_string() const;
  // IPv4: the address; IPv6: "<network>/64".
  std::string client_key() const;
  void append_client_key(std::string& out) const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  std::array<std::uint8_t, 16> bytes_{};
};

class Cidr {
 public:
  // "10.0.0.0/8", "fd00::/8" or a bare address (a /32 or /128).
  static std::optional<Cidr> parse(std::string_view text);
  bool contains(const IpAddress& ip) const;
  std::string to_string() const;

 private:
  IpAddress network_;
  int prefix_bits_ = 128;  // over the 128-bit (mapped) form
};

bool any_contains(const std::vector<Cidr>& ranges, const IpAddress& ip);

}  // namespace rl::security
