// LineFolding: spots obs-fold (RFC 9112 §5.2) in llhttp 8's header callbacks — llhttp unfolds
// continuation lines silently, and a proxy in front that does not would read other headers than
// we do, so RequestParser refuses them. It judges from where llhttp's pieces start and end in
// each input buffer: a value piece ending before the end of the input ended at a CR, so another
// piece of the same value came from a continuation line ("X-A: one\r\n two"); and between a
// field name and its first non-empty value piece only spaces may lie, so a CR or LF there is the
// fold of an empty first line ("X-A:\r\n two"). Pure, and fed in whatever pieces arrive.
#pragma once

#include <cstddef>

namespace rl::http {

class LineFolding {
 public:
  // Around each llhttp_execute().
  void begin_input(const char* data, std::size_t len) {
    end_ = data + len;
    if (in_gap_) gap_from_ = data;
  }
  void end_input() {
    if (in_gap_ && has_line_break(gap_from_, end_)) gap_broken_ = true;
  }

  void name_piece(const char* at, std::size_t len) { name_end_ = at + len; }
  void name_complete() {
    in_gap_ = true;
    gap_broken_ = false;
    gap_from_ = name_end_;
  }
  // False when this piece continues the value on a folded line.
  bool value_piece(const char* at, std::size_t len) {
    if (interrupted_) return false;
    if (in_gap_ && len > 0) {  // the first text of the value (an empty one has none)
      if (gap_broken_ || has_line_break(gap_from_, at)) return false;
      in_gap_ = false;
    }
    if (at + len < end_) interrupted_ = true;
    return true;
  }
  void value_complete() {
    interrupted_ = false;
    in_gap_ = false;
  }
  void reset() { *this = LineFolding{}; }

 private:
  static bool has_line_break(const char* from, const char* to) {
    for (const char* p = from; p != nullptr && p < to; ++p) {
      if (*p == '\r' || *p == '\n') return true;
    }
    return false;
  }

  const char* end_ = nullptr;       // of the current input
  const char* name_end_ = nullptr;  // just after the last name piece
  const char* gap_from_ = nullptr;  // where the unchecked part of the name-value gap starts
  bool in_gap_ = false;             // a name is complete, its value has no text yet
  bool gap_broken_ = false;         // an earlier input's part of the gap held a CR or LF
  bool interrupted_ = false;        // a piece of this value ended at a CR
};

}  // namespace rl::http
