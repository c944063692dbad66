// IpAddress and Cidr on top of inet_pton/inet_ntop.
#include "security/ip_address.h"

#include <arpa/inet.h>
#include <cstring>

#include "core/text.h"

namespace rl::security {
namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool has_mapped_prefix(const std::array<std::uint8_t, 16>& b) {
  return std::memcmp(b.data(), kMappedPrefix.data(), kMappedPrefix.size()) == 0;
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.empty() || text.size() >= sizeof buf) return std::nullopt;
  if (text.find('\0') != std::string_view::npos) return std::nullopt;  // inet_pton would stop there
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  std::array<std::uint8_t, 4> v4{};
  if (inet_pton(AF_INET, buf, v4.data()) == 1) return from_v4(v4);
  std::array<std::uint8_t, 16> v6{};
  if (inet_pton(AF_INET6, buf, v6.data()) == 1) return from_v6(v6);
  return std::nullopt;
}

IpAddress IpAddress::from_v4(const std::array<std::uint8_t, 4>& bytes) {
  IpAddress ip;
  std::memcpy(ip.bytes_.data(), kMappedPrefix.data(), kMappedPrefix.size());
  std::memcpy(ip.bytes_.data() + 12, bytes.data(), 4);
  return ip;
}

IpAddress IpAddress::from_v6(const std::array<std::uint8_t, 16>& bytes) {
  IpAddress ip;
  ip.bytes_ = bytes;
  return ip;
}

bool IpAddress::is_v4() const {
  return has_mapped_prefix(bytes_);
}

bool IpAddress::is_loopback() const {
  if (is_v4()) return bytes_[12] == 127;
  std::array<std::uint8_t, 16> one{};
  one[15] = 1;
  return bytes_ == one;
}

void IpAddress::append_to(std::string& out) const {
  char buf[INET6_ADDRSTRLEN];
  const char* s = is_v4() ? inet_ntop(AF_INET, bytes_.data() + 12, buf, sizeof buf)
                          : inet_ntop(AF_INET6, bytes_.data(), buf, sizeof buf);
  out.append(s != nullptr ? s : "?");
}

std::string IpAddress::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

std::string IpAddress::client_key() const {
  std::string out;
  append_client_key(out);
  return out;
}

void IpAddress::append_client_key(std::string& out) const {
  if (is_v4()) return append_to(out);
  IpAddress network = *this;
  std::memset(network.bytes_.data() + 8, 0, 8);
  network.append_to(out);
  out.append("/64");
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  text = core::trim(text);
  const auto slash = text.find('/');
  const auto ip = IpAddress::parse(text.substr(0, slash));
  if (!ip) return std::nullopt;
  Cidr cidr;
  cidr.network_ = *ip;
  const int max_bits = ip->is_v4() ? 32 : 128;
  int bits = max_bits;
  if (slash != std::string_view::npos) {
    const auto parsed = core::parse_int64(text.substr(slash + 1));
    if (!parsed || *parsed < 0 || *parsed > max_bits) return std::nullopt;
    bits = static_cast<int>(*parsed);
  }
  cidr.prefix_bits_ = ip->is_v4() ? bits + 96 : bits;
  // Normalise: clear host bits so contains() and to_string() see the network.
  auto bytes = cidr.network_.bytes();
  for (int i = cidr.prefix_bits_; i < 128; ++i) {
    bytes[static_cast<std::size_t>(i / 8)] &= static_cast<std::uint8_t>(~(0x80u >> (i % 8)));
  }
  cidr.network_ = IpAddress::from_v6(bytes);
  return cidr;
}

bool Cidr::contains(const IpAddress& ip) const {
  const auto& a = network_.bytes();
  const auto& b = ip.bytes();
  const int full = prefix_bits_ / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<std::size_t>(full)) != 0) return false;
  const int rest = prefix_bits_ % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xFF00u >> rest);
  return (a[static_cast<std::size_t>(full)] & mask) == (b[static_cast<std::size_t>(full)] & mask);
}

std::string Cidr::to_string() const {
  std::string out = network_.to_string();
  out.push_back('/');
  core::append_int(out, network_.is_v4() ? prefix_bits_ - 96 : prefix_bits_);
  return out;
}

bool any_contains(const std::vector<Cidr>& ranges, const IpAddress& ip) {
  for (const auto& range : ranges) {
    if (range.contains(ip)) return true;
  }
  return false;
}

}  // namespace rl::security
