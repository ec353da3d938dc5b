// v2 io controller: io.bfq.weight or io.weight, io.max; io.stat.
#include <sstream>
#include <string>

#include "cgroup/v2/controllers.h"

namespace skiff::cgroup::v2 {

uint64_t BlkioWeightToIoWeight(uint64_t weight) {
  if (weight == 0) return 0;
  if (weight <= 10) return 1;
  if (weight >= 1000) return 10000;
  return 1 + (weight - 10) * 9999 / 990;
}

static std::string Dev(int64_t major, int64_t minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

static Status Max(const CgroupDir& d, const char* key, const std::vector<oci::ThrottleDevice>& v) {
  for (const auto& t : v) {
    std::string line = Dev(t.major, t.minor) + " " + key + "=" + std::to_string(t.rate);
    TRY(WriteValue(d, "io.max", line));
  }
  return Ok();
}

Status SetIo(const CgroupDir& d, const oci::BlockIO& b) {
  // BFQ takes the blkio scale (1-1000) as it is; the io.weight scale is 1-10000.
  bool bfq = FileExists(d, "io.bfq.weight");
  if (b.weight && *b.weight != 0) {
    if (bfq) {
      TRY(WriteValue(d, "io.bfq.weight", std::to_string(*b.weight)));
    } else {
      TRY(WriteValue(d, "io.weight", std::to_string(BlkioWeightToIoWeight(*b.weight))));
    }
  }
  for (const auto& w : b.weight_device) {
    if (!w.weight) continue;
    std::string v = Dev(w.major, w.minor) + " ";
    if (bfq) {
      TRY(WriteValue(d, "io.bfq.weight", v + std::to_string(*w.weight)));
    } else {
      TRY(WriteValue(d, "io.weight", v + std::to_string(BlkioWeightToIoWeight(*w.weight))));
    }
  }
  TRY(Max(d, "rbps", b.throttle_read_bps_device));
  TRY(Max(d, "wbps", b.throttle_write_bps_device));
  TRY(Max(d, "riops", b.throttle_read_iops_device));
  TRY(Max(d, "wiops", b.throttle_write_iops_device));
  return Ok();
}

Status ReadIoStats(const CgroupDir& d, Stats* s) {
  // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0", one line per device.
  std::string text = TRY(ReadValue(d, "io.stat"));
  std::istringstream in(text);
  std::string word;
  while (in >> word) {
    size_t eq = word.find('=');
    if (eq == std::string::npos) continue;
    uint64_t v = 0;
    if (!ParseUint(std::string_view(word).substr(eq + 1), &v)) continue;
    std::string key = word.substr(0, eq);
    if (key == "rbytes") s->io_read_bytes += v;
    if (key == "wbytes") s->io_write_bytes += v;
    if (key == "rios") s->io_read_ops += v;
    if (key == "wios") s->io_write_ops += v;
  }
  return Ok();
}

}  // namespace skiff::cgroup::v2
