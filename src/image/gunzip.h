// gzip decompression with ISA-L's igzip (libisal.so.2, loaded on first use), for the
// unpacker's hot path, where zlib's inflate was the largest CPU cost of a pull (perf: 41% of
// a one-layer pull's cycles). Streaming and multi-member, as gzip(1) and libarchive read it:
// a member followed by another gzip header goes on with it, anything else after a member
// ends the stream (the caller still hashes those bytes into the blob's digest). ISA-L checks
// every member's CRC-32 and length. Where libisal.so.2 is absent Gunzip::New returns nullptr
// and the unpacker keeps libarchive's zlib.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "base/error.h"
#include "image/unpack.h"

namespace skiff::image {

class Gunzip {
 public:
  // Inflates `first` (bytes already read from src), then what src gives. nullptr when ISA-L
  // can't be loaded.
  static std::unique_ptr<Gunzip> New(std::string first, ByteSource src);
  ~Gunzip();

  // Up to n bytes of the uncompressed stream; 0 at its end. Errors: a source error as src
  // gave it (source_failed() true), or what is wrong with the data.
  Result<size_t> Read(void* out, size_t n);
  bool source_failed() const { return source_failed_; }

 private:
  Gunzip(std::string first, ByteSource src);
  Status Fill(size_t want);  // at least want unread bytes in buf_, unless the source ended

  struct State;
  std::unique_ptr<State> st_;
  ByteSource src_;
  std::vector<uint8_t> buf_;
  size_t off_ = 0, end_ = 0;  // unread input: buf_[off_, end_)
  bool eof_ = false, between_ = false, done_ = false, source_failed_ = false;
};

}  // namespace skiff::image
