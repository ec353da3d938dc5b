#include "image/gunzip.h"

#include <dlfcn.h>
#include <isa-l/igzip_lib.h>

#include <cstring>
#include <mutex>

namespace skiff::image {
namespace {

constexpr size_t kInBuf = 1 << 20;

// dlopen, not a link: skiff's container paths load no library they don't use (see
// CMakeLists.txt), and a machine without ISA-L still unpacks, with zlib.
struct IsalApi {
  decltype(&::isal_inflate_init) inflate_init = nullptr;
  decltype(&::isal_inflate) inflate = nullptr;
};

std::once_flag g_load;
IsalApi g_isal;
bool g_isal_ok = false;

void LoadIsal() {
  void* lib = dlopen("libisal.so.2", RTLD_NOW | RTLD_LOCAL);
  if (!lib) return;
  g_isal.inflate_init =
      reinterpret_cast<decltype(g_isal.inflate_init)>(dlsym(lib, "isal_inflate_init"));
  g_isal.inflate = reinterpret_cast<decltype(g_isal.inflate)>(dlsym(lib, "isal_inflate"));
  g_isal_ok = g_isal.inflate_init && g_isal.inflate;
}

const IsalApi* Isal() {
  std::call_once(g_load, LoadIsal);
  return g_isal_ok ? &g_isal : nullptr;
}

const char* IsalError(int rc) {
  switch (rc) {
    case ISAL_INVALID_BLOCK:
      return "gzip: invalid deflate block";
    case ISAL_INVALID_SYMBOL:
      return "gzip: invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK:
      return "gzip: invalid deflate distance";
    case ISAL_INVALID_WRAPPER:
      return "gzip: invalid header";
    case ISAL_UNSUPPORTED_METHOD:
      return "gzip: unsupported compression method";
    case ISAL_INCORRECT_CHECKSUM:
      return "gzip: CRC or length mismatch";
    default:
      return "gzip: decompression failed";
  }
}

void StartMember(inflate_state* z) {
  Isal()->inflate_init(z);
  z->crc_flag = ISAL_GZIP;
}

}  // namespace

struct Gunzip::State {
  inflate_state z;
};

std::unique_ptr<Gunzip> Gunzip::New(std::string first, ByteSource src) {
  if (!Isal()) return nullptr;
  return std::unique_ptr<Gunzip>(new Gunzip(std::move(first), std::move(src)));
}

Gunzip::Gunzip(std::string first, ByteSource src)
    : st_(std::make_unique<State>()), src_(std::move(src)), buf_(std::max(kInBuf, first.size())) {
  std::memcpy(buf_.data(), first.data(), first.size());
  end_ = first.size();
  StartMember(&st_->z);
}

Gunzip::~Gunzip() = default;

Status Gunzip::Fill(size_t want) {
  while (!eof_ && end_ - off_ < want) {
    if (off_ > 0) {  // keep the unread bytes, at the front
      std::memmove(buf_.data(), buf_.data() + off_, end_ - off_);
      end_ -= off_;
      off_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    Result<size_t> n = src_(buf_.data() + end_, buf_.size() - end_);
    if (!n.ok()) {
      source_failed_ = true;
      return std::move(n).error();
    }
    if (*n == 0) eof_ = true;
    end_ += *n;
  }
  return Ok();
}

Result<size_t> Gunzip::Read(void* out, size_t n) {
  inflate_state& z = st_->z;
  while (!done_) {
    if (between_) {
      // A member ended: another one, or the end of the stream.
      TRY(Fill(2));
      if (end_ - off_ < 2 || buf_[off_] != 0x1f || buf_[off_ + 1] != 0x8b) {
        done_ = true;
        break;
      }
      StartMember(&z);
      between_ = false;
    }
    // Inflate first, then read: ISA-L may hold output of input it has already taken.
    size_t before = off_;
    z.next_in = buf_.data() + off_;
    z.avail_in = static_cast<uint32_t>(end_ - off_);
    z.next_out = static_cast<uint8_t*>(out);
    z.avail_out = static_cast<uint32_t>(n);
    int rc = Isal()->inflate(&z);
    off_ = end_ - z.avail_in;
    if (rc < 0) return MakeError(0, "%s", IsalError(rc));
    if (z.block_state == ISAL_BLOCK_FINISH) between_ = true;
    size_t produced = n - z.avail_out;
    if (produced > 0) return produced;
    if (between_) continue;
    if (off_ == end_ || off_ == before) {  // it wants more input
      size_t have = end_ - off_;
      TRY(Fill(have + 1));
      if (end_ - off_ == have) return MakeError(0, "truncated gzip input");
    }
  }
  return 0;
}

}  // namespace skiff::image
