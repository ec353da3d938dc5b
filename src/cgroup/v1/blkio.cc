// v1 blkio controller: proportional weight (CFQ's blkio.weight or BFQ's blkio.bfq.weight)
// and throttling; service statistics.
#include <sstream>
#include <string>

#include "cgroup/v1/controllers.h"

namespace skiff::cgroup::v1 {

static std::string Dev(int64_t major, int64_t minor) {
  return std::to_string(major) + ":" + std::to_string(minor);
}

// CFQ is gone since Linux 5.0; with blk-mq the weight files are BFQ's, and only in non-root
// cgroups and only when BFQ is built in (runc picks whichever exists, so does skiff).
static const char* WeightFile(const CgroupDir& d, bool device) {
  if (device) {
    return FileExists(d, "blkio.weight_device") ? "blkio.weight_device" : "blkio.bfq.weight_device";
  }
  return FileExists(d, "blkio.weight") ? "blkio.weight" : "blkio.bfq.weight";
}

static Status Throttle(const CgroupDir& d, const char* file,
                       const std::vector<oci::ThrottleDevice>& devs) {
  for (const auto& t : devs) {
    TRY(WriteValue(d, file, Dev(t.major, t.minor) + " " + std::to_string(t.rate)));
  }
  return Ok();
}

Status SetBlkio(const CgroupDir& d, const oci::BlockIO& b) {
  if (b.weight && *b.weight != 0) {
    TRY(WriteValue(d, WeightFile(d, false), std::to_string(*b.weight)));
  }
  if (b.leaf_weight && *b.leaf_weight != 0) {
    TRY(WriteValue(d, "blkio.leaf_weight", std::to_string(*b.leaf_weight)));
  }
  for (const auto& w : b.weight_device) {
    if (w.weight) {
      TRY(WriteValue(d, WeightFile(d, true),
                     Dev(w.major, w.minor) + " " + std::to_string(*w.weight)));
    }
    if (w.leaf_weight) {
      TRY(WriteValue(d, "blkio.leaf_weight_device",
                     Dev(w.major, w.minor) + " " + std::to_string(*w.leaf_weight)));
    }
  }
  TRY(Throttle(d, "blkio.throttle.read_bps_device", b.throttle_read_bps_device));
  TRY(Throttle(d, "blkio.throttle.write_bps_device", b.throttle_write_bps_device));
  TRY(Throttle(d, "blkio.throttle.read_iops_device", b.throttle_read_iops_device));
  TRY(Throttle(d, "blkio.throttle.write_iops_device", b.throttle_write_iops_device));
  return Ok();
}

// Sums the "Read" and "Write" columns of "8:0 Read 4096" lines over devices.
static void SumReadWrite(const std::string& text, uint64_t* read, uint64_t* write) {
  std::istringstream in(text);
  std::string dev, op;
  uint64_t v;
  while (in >> dev) {
    if (dev == "Total") {
      in >> v;
      continue;
    }
    if (!(in >> op >> v)) break;
    if (op == "Read") *read += v;
    if (op == "Write") *write += v;
  }
}

Status ReadBlkioStats(const CgroupDir& d, Stats* s) {
  std::string bytes = TRY(ReadValue(d, "blkio.throttle.io_service_bytes_recursive"));
  std::string ops = TRY(ReadValue(d, "blkio.throttle.io_serviced_recursive"));
  SumReadWrite(bytes, &s->io_read_bytes, &s->io_write_bytes);
  SumReadWrite(ops, &s->io_read_ops, &s->io_write_ops);
  return Ok();
}

}  // namespace skiff::cgroup::v1
